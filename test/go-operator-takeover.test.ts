// End to end: a cluster the Go operator (emqx/emqx-operator) left running is recognised and left alone. The test
// builds what that operator leaves behind, written under its field manager ("manager", the controller-runtime
// binary): a blue-green StatefulSet `<name>-core-<hash>` with its labels, the apps.emqx.io/last-applied annotation
// and a controller reference to the EMQX resource, the `<name>-configs` ConfigMap and the headless Service. Then
// this operator starts on the resource: it must change nothing and say why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readMetrics, useOperatorSandbox } from './support/operator.ts';
import { getEmqx, patchEmqx } from './support/emqx.ts';

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
    const owner = {
      apiVersion: 'apps.emqx.io/v2beta1',
      kind: 'EMQX',
      name: 'emqx',
      uid: emqx.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    };
    const goMeta = (name: string, labels: Record<string, string>) => ({
      name,
      labels,
      annotations: { 'apps.emqx.io/last-applied': 'UEsDBBQACAAIAAAAAAAAAAAAAAAAAAAAAAA=' },
      ownerReferences: [owner],
    });
    const create = (path: string, body: object) =>
      sb.api.post(`${path}?fieldManager=${GO_MANAGER}`, body) as Promise<any>;

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
});
