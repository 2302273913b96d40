// End to end: a cluster the Go operator (emqx/emqx-operator) left running.
// 1. Without the takeover annotation it is recognised and left alone. The test builds what that operator leaves
//    behind, written under its field manager ("manager", the controller-runtime binary): a blue-green StatefulSet
//    `<name>-core-<hash>` with its labels, the apps.emqx.io/last-applied annotation and a controller reference to
//    the EMQX resource, the `<name>-configs` ConfigMap and the headless Service. This operator must change nothing
//    and say why.
// 2. With apps.emqx.io/takeover: "true", a running Go-operator cluster (2 cores, 2 replicants, emulated EMQX,
//    clients connected, data in the cluster database) is taken over: nothing while the Go operator's Lease is
//    renewed; once it is gone, this operator's nodes join the cluster, clients move off the Go operator's nodes one
//    at a time, its nodes leave and its sets and their PVCs are deleted. No client dropped, data kept, same cookie.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { readMetrics, useOperatorSandbox } from './support/operator.ts';
import { emqxCall, getEmqx, listPods, patchEmqx, waitReady } from './support/emqx.ts';
import { connectionsIn, emqxResource, FAST_PROBES, loadEveryNode, pvcs } from './support/upgrade.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

async function reconcilePasses(): Promise<number> {
  return (await readMetrics(sb.operator))
    .filter((m) => m.name === 'emqx_operator_reconcile_total' && m.labels.kind === 'EMQX')
    .reduce((sum, m) => sum + m.value, 0);
}
const GO_MANAGER = 'manager';
const LABELS = {
  'apps.emqx.io/instance': 'emqx',
  'apps.emqx.io/managed-by': 'emqx-operator',
  'apps.emqx.io/db-role': 'core',
};

/**
 * Writes objects as the Go operator does: under its field manager, with its last-applied annotation and a
 * controller reference to the EMQX resource `emqx` (uid).
 */
function goOperatorWriter(uid: string) {
  const owner = {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    name: 'emqx',
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  return {
    goMeta: (name: string, labels: Record<string, string>) => ({
      name,
      labels,
      annotations: { 'apps.emqx.io/last-applied': 'UEsDBBQACAAIAAAAAAAAAAAAAAAAAAAAAAA=' },
      ownerReferences: [owner],
    }),
    create: (path: string, body: object) =>
      sb.api.post(`${path}?fieldManager=${GO_MANAGER}`, body) as Promise<any>,
  };
}

describe('taking over from the Go operator', () => {
  it('its workloads are recognised: nothing is changed, Ready=False ForeignWorkloads and an Event', async (t) => {
    const ns = await sb.newNamespace(t, 'goop');
    await sb.apply(
      {
        apiVersion: 'apps.emqx.io/v2beta1',
        kind: 'EMQX',
        metadata: { name: 'emqx', annotations: { 'apps.emqx.io/reconcile-paused': 'true' } },
        spec: { image: 'emqx/emqx:5.8.3', coreTemplate: { spec: { replicas: 2 } } },
      },
      ns,
    );
    const emqx = (await getEmqx(sb, ns))!;
    const { goMeta, create } = goOperatorWriter(emqx.metadata.uid!);

    const podLabels = { ...LABELS, 'apps.emqx.io/pod-template-hash': '5d8b7c9f4' };
    const sts = await create(`/apis/apps/v1/namespaces/${ns}/statefulsets`, {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: goMeta('emqx-core-5d8b7c9f4', podLabels),
      spec: {
        replicas: 2,
        serviceName: 'emqx-headless',
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: podLabels },
        template: {
          metadata: { labels: podLabels },
          spec: {
            containers: [
              {
                name: 'emqx',
                image: 'emqx/emqx:5.8.3',
                ports: [{ name: 'dashboard', containerPort: 18083 }],
              },
            ],
          },
        },
      },
    });
    const cm = await create(`/api/v1/namespaces/${ns}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: goMeta('emqx-configs', LABELS),
      data: { 'emqx.conf': 'listeners.tcp.default.bind = "0.0.0.0:1883"\n' },
    });
    const svc = await create(`/api/v1/namespaces/${ns}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: goMeta('emqx-headless', LABELS),
      spec: {
        clusterIP: 'None',
        publishNotReadyAddresses: true,
        selector: LABELS,
        ports: [{ name: 'erlang-dist', port: 4370 }],
      },
    });
    const pods = await sb.waitFor(
      "the Go operator's two core pods",
      async () => {
        const list = await sb.api.get<any>(`/api/v1/namespaces/${ns}/pods`);
        return list.items.length === 2 ? list.items : undefined;
      },
      60_000,
    );

    // This operator takes the resource on.
    await patchEmqx(sb, ns, { metadata: { annotations: { 'apps.emqx.io/reconcile-paused': null } } });
    const e = await sb.waitFor(
      'Ready=False with reason ForeignWorkloads',
      async () => {
        const x = await getEmqx(sb, ns);
        const ready = x?.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.reason === 'ForeignWorkloads' ? x : undefined;
      },
      60_000,
    );
    const ready = e.status!.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.status, 'False');
    assert.equal(e.status!.phase, 'ForeignWorkloads', 'kubectl get emqx says why');
    assert.match(ready.message, /StatefulSet emqx-core-5d8b7c9f4 \(it carries apps\.emqx\.io\/last-applied/);
    assert.match(ready.message, /written by manager, never by emqx-operator/);
    assert.match(ready.message, /Migrating from the Go operator/);

    const events = await sb.waitFor(
      'a ForeignWorkloads Event on the EMQX resource',
      async () => {
        const list = await sb.api.get<any>(`/api/v1/namespaces/${ns}/events`);
        const found = list.items.filter(
          (ev: any) => ev.reason === 'ForeignWorkloads' && ev.involvedObject.name === 'emqx',
        );
        return found.length > 0 ? found : undefined;
      },
      30_000,
    );
    assert.equal(events[0].type, 'Warning');

    // Three more passes (re-checked every 5 s while not Ready): still nothing changed.
    const before = await reconcilePasses();
    await sb.waitFor(
      'three more reconcile passes',
      async () => (await reconcilePasses()) >= before + 3,
      60_000,
    );
    const stsNow = await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/statefulsets/${sts.metadata.name}`);
    assert.equal(stsNow.metadata.generation, sts.metadata.generation, 'the Go StatefulSet spec is unchanged');
    assert.deepEqual(stsNow.spec, sts.spec);
    assert.ok(!stsNow.metadata.managedFields.some((m: any) => m.manager === 'emqx-operator'));
    const stsList = await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/statefulsets`);
    assert.deepEqual(
      stsList.items.map((s: any) => s.metadata.name),
      ['emqx-core-5d8b7c9f4'],
      'no StatefulSet of this operator',
    );
    const podsNow = await sb.api.get<any>(`/api/v1/namespaces/${ns}/pods`);
    assert.deepEqual(
      podsNow.items.map((p: any) => p.metadata.uid).sort(),
      pods.map((p: any) => p.metadata.uid).sort(),
      'no pod deleted or added',
    );
    for (const p of podsNow.items)
      assert.ok(!p.metadata.managedFields.some((m: any) => m.manager === 'emqx-operator'), p.metadata.name);
    const cmNow = await sb.api.get<any>(`/api/v1/namespaces/${ns}/configmaps/emqx-configs`);
    assert.equal(cmNow.metadata.resourceVersion, cm.metadata.resourceVersion, 'the ConfigMap is untouched');
    const svcNow = await sb.api.get<any>(`/api/v1/namespaces/${ns}/services/emqx-headless`);
    assert.equal(
      svcNow.metadata.resourceVersion,
      svc.metadata.resourceVersion,
      'the headless Service is untouched',
    );
    const secrets = await sb.api.get<any>(`/api/v1/namespaces/${ns}/secrets`);
    assert.ok(
      !secrets.items.some((s: any) => s.metadata.name.startsWith('emqx-')),
      'no Secret created for the resource',
    );
  });

  it('takes a running Go-operator cluster over: no client dropped, data and cookie kept, no old set left', async (t) => {
    const ns = await sb.newNamespace(t, 'gotake');
    const resource = emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 2, replicants: 2 });
    resource.metadata.annotations = { 'apps.emqx.io/reconcile-paused': 'true' };
    resource.spec.coreTemplate.spec.persistentVolumeClaimRetentionPolicy = { whenScaled: 'Delete' };
    await sb.apply(resource, ns);
    const emqx = (await getEmqx(sb, ns))!;
    const { goMeta, create } = goOperatorWriter(emqx.metadata.uid!);
    const instance = { 'apps.emqx.io/instance': 'emqx', 'apps.emqx.io/managed-by': 'emqx-operator' };
    const coreLabels = { ...instance, 'apps.emqx.io/db-role': 'core' };
    const replLabels = { ...instance, 'apps.emqx.io/db-role': 'replicant' };
    const GO_CORE = '6c7d8f9b5';
    const GO_REPL = '7f6b5c4d8';

    // What the Go operator made (README "Migrating from the Go operator"; facts from its reference, not its code).
    const cookie = randomBytes(32).toString('hex');
    const key = `emqx-operator-controller:${randomBytes(32).toString('hex')}`;
    const b64 = (x: string) => Buffer.from(x).toString('base64');
    await create(`/api/v1/namespaces/${ns}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: goMeta('emqx-node-cookie', instance),
      data: { node_cookie: b64(cookie) },
    });
    await create(`/api/v1/namespaces/${ns}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: goMeta('emqx-bootstrap-api-key', instance),
      data: { bootstrap_api_key: b64(`${key}\n`) },
    });
    await create(`/api/v1/namespaces/${ns}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: goMeta('emqx-configs', instance),
      data: { 'emqx.conf': 'listeners.tcp.default.bind = "0.0.0.0:1883"\n' },
    });
    await create(`/api/v1/namespaces/${ns}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: goMeta('emqx-headless', coreLabels),
      spec: {
        clusterIP: 'None',
        publishNotReadyAddresses: true,
        selector: coreLabels,
        ports: [
          { name: 'erlang-dist', port: 4370 },
          { name: 'gen-rpc', port: 5369 },
        ],
      },
    });
    await create(`/api/v1/namespaces/${ns}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: goMeta('emqx-listeners', replLabels),
      spec: { selector: replLabels, ports: [{ name: 'tcp-default', port: 1883, protocol: 'TCP' }] },
    });
    const dns = `emqx-headless.${ns}.svc.cluster.local`;
    const podSpec = (role: 'core' | 'replicant') => ({
      readinessGates: [{ conditionType: 'apps.emqx.io/on-serving' }],
      containers: [
        {
          name: 'emqx',
          image: 'emqx/emqx-enterprise:5.8.3',
          ports: [{ name: 'dashboard', containerPort: 18083 }],
          env: [
            ...(role === 'core'
              ? [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]
              : []),
            { name: 'EMQX_CLUSTER__DISCOVERY_STRATEGY', value: 'dns' },
            { name: 'EMQX_CLUSTER__DNS__RECORD_TYPE', value: 'srv' },
            { name: 'EMQX_CLUSTER__DNS__NAME', value: dns },
            role === 'core'
              ? { name: 'EMQX_HOST', value: `$(POD_NAME).${dns}` }
              : { name: 'EMQX_HOST', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            { name: 'EMQX_NODE__DATA_DIR', value: 'data' },
            { name: 'EMQX_NODE__ROLE', value: role },
            {
              name: 'EMQX_NODE__COOKIE',
              valueFrom: { secretKeyRef: { name: 'emqx-node-cookie', key: 'node_cookie' } },
            },
            { name: 'EMQX_API_KEY__BOOTSTRAP_FILE', value: '"/opt/emqx/data/bootstrap_api_key"' },
            { name: 'EMQX_DASHBOARD__LISTENERS__HTTP__BIND', value: '18083' },
          ],
          ...FAST_PROBES,
          volumeMounts: [
            {
              name: 'bootstrap-api-key',
              mountPath: '/opt/emqx/data/bootstrap_api_key',
              subPath: 'bootstrap_api_key',
              readOnly: true,
            },
            {
              name: 'emqx-config',
              mountPath: '/opt/emqx/etc/emqx.conf',
              subPath: 'emqx.conf',
              readOnly: true,
            },
            { name: 'emqx-log', mountPath: '/opt/emqx/log' },
            ...(role === 'core'
              ? [{ name: 'emqx-core-data', mountPath: '/opt/emqx/data' }]
              : [{ name: 'emqx-replicant-data', mountPath: '/opt/emqx/data' }]),
          ],
        },
      ],
      volumes: [
        { name: 'bootstrap-api-key', secret: { secretName: 'emqx-bootstrap-api-key' } },
        { name: 'emqx-config', configMap: { name: 'emqx-configs' } },
        { name: 'emqx-log', emptyDir: {} },
        ...(role === 'replicant' ? [{ name: 'emqx-replicant-data', emptyDir: {} }] : []),
      ],
    });
    const goCoreLabels = { ...coreLabels, 'apps.emqx.io/pod-template-hash': GO_CORE };
    await create(`/apis/apps/v1/namespaces/${ns}/statefulsets`, {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: goMeta(`emqx-core-${GO_CORE}`, goCoreLabels),
      spec: {
        replicas: 2,
        serviceName: 'emqx-headless',
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: goCoreLabels },
        template: { metadata: { labels: goCoreLabels }, spec: podSpec('core') },
        volumeClaimTemplates: [
          {
            metadata: { name: 'emqx-core-data', labels: goCoreLabels },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Mi' } } },
          },
        ],
      },
    });
    const goReplLabels = { ...replLabels, 'apps.emqx.io/pod-template-hash': GO_REPL };
    await create(`/apis/apps/v1/namespaces/${ns}/replicasets`, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: goMeta(`emqx-replicant-${GO_REPL}`, goReplLabels),
      spec: {
        replicas: 2,
        selector: { matchLabels: goReplLabels },
        template: { metadata: { labels: goReplLabels }, spec: podSpec('replicant') },
      },
    });

    // The Go operator's cluster runs: 4 nodes in one cluster, its pods serving (their on-serving gate True, as it
    // left them), clients on every node, data in the cluster database.
    const goPods = await sb.waitFor(
      "the Go operator's 4 pods ready",
      async () => {
        const pods = await listPods(sb, ns);
        const ready = pods.filter((p: any) =>
          p.status?.conditions?.some((c: any) => c.type === 'ContainersReady' && c.status === 'True'),
        );
        return ready.length === 4 ? ready : undefined;
      },
      120_000,
    );
    await sb.waitFor(
      'one EMQX cluster of 4 running nodes',
      async () => {
        const r = await emqxCall(
          sb,
          ns,
          goPods.find((p: any) => p.metadata.name.includes(GO_CORE)).status.podIP,
          '/api/v5/nodes',
        );
        return r.json?.length === 4 && r.json.every((n: any) => n.node_status === 'running');
      },
      120_000,
      500,
    );
    for (const p of goPods) {
      await sb.api.patch(
        `/api/v1/namespaces/${ns}/pods/${p.metadata.name}/status?fieldManager=${GO_MANAGER}`,
        { status: { conditions: [{ type: 'apps.emqx.io/on-serving', status: 'True' }] } },
        'application/strategic-merge-patch+json',
      );
    }
    const total = await loadEveryNode(sb, sb.emqx, ns, 40);
    const goCore0 = sb.emqx.fabric.nodeOfPod(`${ns}/emqx-core-${GO_CORE}-0`)!.name;
    sb.emqx.fabric.retain(goCore0, 'sensors/go', 'written under the Go operator');
    const goPvcs = (await pvcs(sb, ns)).map((p) => p.name);
    assert.deepEqual(goPvcs, [
      `emqx-core-data-emqx-core-${GO_CORE}-0`,
      `emqx-core-data-emqx-core-${GO_CORE}-1`,
    ]);

    // The Go operator still holds its Lease: takeover asked, nothing happens.
    const renew = new Date().toISOString().replace('Z', '000Z'); // a MicroTime
    await sb.api.post(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: '19fd6fcc.emqx.io' },
      spec: {
        holderIdentity: 'emqx-operator-controller-manager-0_go',
        leaseDurationSeconds: 3600,
        renewTime: renew,
      },
    });
    await patchEmqx(sb, ns, {
      metadata: { annotations: { 'apps.emqx.io/reconcile-paused': null, 'apps.emqx.io/takeover': 'true' } },
    });
    const held = await sb.waitFor(
      'Ready=False with reason GoOperatorRunning',
      async () => {
        const x = await getEmqx(sb, ns);
        const ready = x?.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.reason === 'GoOperatorRunning' ? ready : undefined;
      },
      60_000,
    );
    assert.match(
      held.message,
      new RegExp(`Lease ${ns}/19fd6fcc\\.emqx\\.io is held by emqx-operator-controller-manager-0_go`),
    );
    const setsWhileHeld = await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/statefulsets`);
    assert.deepEqual(
      setsWhileHeld.items.map((x: any) => x.metadata.name),
      [`emqx-core-${GO_CORE}`],
      'nothing created while the Go operator runs',
    );

    // The Go operator is stopped (its Lease released): the takeover runs to the end.
    await sb.api.delete(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/19fd6fcc.emqx.io`);
    await sb.waitFor(
      'every set of the Go operator retired',
      async () => {
        const sts = await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/statefulsets`);
        const rs = await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/replicasets`);
        const names = [...sts.items, ...rs.items].map((x: any) => x.metadata.name);
        return names.some((n) => n.includes(GO_CORE) || n.includes(GO_REPL)) ? undefined : names;
      },
      300_000,
      1000,
    );
    const e = await waitReady(sb, ns, 'emqx', 120_000);

    // No client dropped, every one of them still connected, now to this operator's nodes.
    assert.equal(sb.emqx.fabric.droppedConnectionsIn(ns), 0, 'no connection was dropped');
    assert.equal(await connectionsIn(sb, sb.emqx, ns), total, 'every client is still connected');
    // The data written under the Go operator is on this operator's cores.
    for (const pod of ['emqx-core-0', 'emqx-core-1']) {
      const node = sb.emqx.fabric.nodeOfPod(`${ns}/${pod}`)!.name;
      assert.equal(
        sb.emqx.fabric.dbGet(node, 'retained', 'sensors/go'),
        'written under the Go operator',
        pod,
      );
    }
    // The same cookie and API key: the Secrets were kept.
    const cookieNow = await sb.api.get<any>(`/api/v1/namespaces/${ns}/secrets/emqx-node-cookie`);
    assert.equal(Buffer.from(cookieNow.data.node_cookie, 'base64').toString(), cookie, 'the cookie is kept');
    const keysNow = await sb.api.get<any>(`/api/v1/namespaces/${ns}/secrets/emqx-bootstrap-api-key`);
    assert.ok(Buffer.from(keysNow.data.bootstrap_api_key, 'base64').toString().split('\n').includes(key));
    // The status lists this operator's nodes only, all running.
    const nodes = [...(e.status!.coreNodes ?? []), ...(e.status!.replicantNodes ?? [])];
    assert.equal(nodes.length, 4);
    assert.ok(
      nodes.every((n) => n.node_status === 'running' && !n.node!.includes(GO_CORE)),
      JSON.stringify(nodes),
    );
    // Nothing of the old layout is left: no Go pod, set or PVC (whenScaled: Delete), and the Event says so.
    const podsNow = await listPods(sb, ns);
    assert.ok(!podsNow.some((p: any) => /6c7d8f9b5|7f6b5c4d8/.test(p.metadata.name)), 'no Go pod left');
    assert.ok(!(await pvcs(sb, ns)).some((p) => p.name.includes(GO_CORE)), 'the Go PVCs are deleted');
    const events = await sb.api.get<any>(`/api/v1/namespaces/${ns}/events`);
    const reasons = events.items
      .filter((ev: any) => ev.involvedObject.name === 'emqx')
      .map((ev: any) => ev.reason);
    assert.ok(reasons.includes('TakeoverCompleted'), reasons.join());
    assert.ok(reasons.includes('GoOperatorRunning'), reasons.join());
    // One at a time: each of the Go operator's replicants drained and removed, each of its cores evacuated and
    // gone from the cluster.
    const count = (r: string) => reasons.filter((x: string) => x === r).length;
    assert.equal(count('ReplicantNodeRetired'), 2, reasons.join());
    assert.equal(count('NodeLeftCluster'), 2, reasons.join());
    assert.ok(count('NodeEvacuationStarted') >= 4, reasons.join());
    assert.ok(!reasons.includes('OldCoreDataRetained'), 'the Event says the PVCs go, as the policy says');
  });
});
