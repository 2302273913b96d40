// The runtime plumbing (src/k8s) against a real kube-apiserver (the sandbox): server-side apply and needsApply
// round trips on a StatefulSet and a Service, status writes (CR /status and pods/status), create/delete helpers,
// the informer surviving a broken watch, leader election hand-over with MicroTime leases, and Events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { useSandbox } from './support/sandbox.ts';
import {
  apply,
  applyDiff,
  applyStatus,
  createIfAbsent,
  deleteObject,
  describeDiff,
  mergePatchStatus,
  needsApply,
  patchPodStatus,
} from '../src/k8s/apply.ts';
import { EventRecorder } from '../src/k8s/events.ts';
import { Informer } from '../src/k8s/informer.ts';
import { LeaderElector, type Lease } from '../src/k8s/leader.ts';
import { KubeApiError, KubeClient } from '../src/k8s/rest.ts';
import { kubeWriteCount } from '../src/k8s/writes.ts';

const sb = useSandbox();

type Obj = Record<string, any>;

const MICRO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function statefulSet(ns: string): Obj {
  const labels = { 'apps.emqx.io/instance': 'emqx', 'apps.emqx.io/db-role': 'core' };
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {
      name: 'emqx-core',
      namespace: ns,
      labels: { ...labels },
      annotations: { 'apps.emqx.io/x': '1' },
    },
    spec: {
      replicas: 2,
      serviceName: 'emqx-headless',
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { ...labels } },
      template: {
        metadata: { labels: { ...labels } },
        spec: {
          containers: [
            {
              name: 'emqx',
              image: 'emqx/emqx-enterprise:5.10.0',
              env: [
                { name: 'EMQX_CLUSTER__DISCOVERY_STRATEGY', value: 'dns' },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'EMQX_HOST', value: '$(POD_NAME).emqx-headless' },
              ],
              ports: [{ name: 'dashboard', containerPort: 18083 }],
              resources: { requests: { cpu: '0.25', memory: '512Mi' }, limits: { memory: '1024Mi' } },
              readinessProbe: { httpGet: { path: '/status', port: 'dashboard' }, periodSeconds: 5 },
              volumeMounts: [{ name: 'data', mountPath: '/opt/emqx/data' }],
            },
          ],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      },
    },
  };
}

function service(ns: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'emqx-listeners', namespace: ns, labels: { 'apps.emqx.io/instance': 'emqx' } },
    spec: {
      selector: { 'apps.emqx.io/instance': 'emqx' },
      ports: [
        { name: 'tcp-default', port: 1883, targetPort: 1883 },
        { name: 'ws-default', port: 8083, targetPort: 8083 },
      ],
    },
  };
}

function ref(o: Obj) {
  return {
    apiVersion: o.apiVersion!,
    kind: o.kind!,
    namespace: o.metadata!.namespace,
    name: o.metadata!.name!,
  };
}

test('apply + needsApply round trip on a StatefulSet: idle → no write, changes → apply', async (t) => {
  const ns = await sb.newNamespace(t);
  const client = new KubeClient(sb.kubeConfig);
  const desired = statefulSet(ns);

  assert.equal(needsApply(desired, await client.get(ref(desired))), true, 'absent → apply');
  await apply(client, desired);
  const live = (await client.get<Obj>(ref(desired)))!;
  assert.deepEqual(applyDiff(desired, live), [], 'just applied: nothing to do');
  assert.ok(
    live.spec.updateStrategy && live.spec.revisionHistoryLimit !== undefined,
    'server defaults are there',
  );

  // an apply of the same object is a no-op on the server too: same generation, same managedFields entry
  // (the resourceVersion itself moves: the StatefulSet controller keeps writing status)
  const ours = (o: Obj) =>
    o.metadata.managedFields.find((m: { manager: string }) => m.manager === 'emqx-operator');
  const again: Obj = await apply<Obj>(client, desired);
  assert.equal(again.metadata.generation, live.metadata.generation);
  assert.deepEqual(ours(again), ours(live));

  // an idle reconcile: read, decide, no write
  const writes = await kubeWriteCount();
  for (let i = 0; i < 3; i++) {
    const cur = await client.get<Obj>(ref(desired));
    if (needsApply(desired, cur)) await apply(client, desired);
  }
  assert.equal((await kubeWriteCount()) - writes, 0, 'zero writes when idle');

  const changes: Array<[string, (d: Obj) => void]> = [
    ['image', (d) => (d.spec.template.spec.containers[0].image = 'emqx/emqx-enterprise:5.10.1')],
    ['replicas', (d) => (d.spec.replicas = 3)],
    ['label', (d) => (d.metadata.labels.team = 'mq')],
    ['env value', (d) => (d.spec.template.spec.containers[0].env[0].value = 'static')],
    ['removed env var', (d) => d.spec.template.spec.containers[0].env.pop()],
    ['container port', (d) => (d.spec.template.spec.containers[0].ports[0].containerPort = 18084)],
    ['memory limit', (d) => (d.spec.template.spec.containers[0].resources.limits.memory = '2Gi')],
    ['removed annotation', (d) => delete d.metadata.annotations],
  ];
  let current = desired;
  for (const [what, mutate] of changes) {
    const next = structuredClone(current);
    mutate(next);
    const before = (await client.get<Obj>(ref(next)))!;
    assert.equal(needsApply(next, before), true, `${what}: must need an apply`);
    await apply(client, next);
    const readBack = await client.get<Obj>(ref(next));
    assert.deepEqual(
      applyDiff(next, readBack),
      [],
      `${what}: converged (${describeDiff(applyDiff(next, readBack))})`,
    );
    current = next;
  }
  const final = (await client.get<Obj>(ref(current)))!;
  assert.deepEqual(
    final.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name),
    ['EMQX_CLUSTER__DISCOVERY_STRATEGY', 'POD_NAME'],
    'the removed env var is gone from the live object',
  );
  assert.equal(final.metadata.annotations?.['apps.emqx.io/x'], undefined, 'the removed annotation is gone');
  assert.equal(final.spec.template.spec.containers[0].resources.limits.memory, '2Gi');
});

test('apply + needsApply round trip on a Service (server-allocated clusterIP, defaulted protocol, owner)', async (t) => {
  const ns = await sb.newNamespace(t);
  const client = new KubeClient(sb.kubeConfig);
  const owner: Obj = await apply<Obj>(client, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'owner', namespace: ns },
  });
  const desired = service(ns);
  desired.metadata.ownerReferences = [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'owner',
      uid: owner.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  await apply(client, desired);
  const live = (await client.get<Obj>(ref(desired)))!;
  assert.ok(live.spec.clusterIP);
  assert.equal(live.spec.ports[0].protocol, 'TCP');
  assert.equal(needsApply(desired, live), false, describeDiff(applyDiff(desired, live)));

  const changed = structuredClone(desired);
  changed.spec.ports.pop();
  changed.spec.ports[0].port = 1884;
  assert.deepEqual(
    applyDiff(changed, live).map((d) => d.reason),
    ['absent', 'removed', 'removed', 'unowned'],
  );
  await apply(client, changed);
  const after = (await client.get<Obj>(ref(changed)))!;
  assert.deepEqual(
    after.spec.ports.map((p: { port: number }) => p.port),
    [1884],
  );
  assert.equal(needsApply(changed, after), false);
});

test('status: SSA and merge patch on a CR /status subresource; strategic merge of pod conditions', async (t) => {
  const ns = await sb.newNamespace(t);
  const client = new KubeClient(sb.kubeConfig);
  const group = 'runtime-test.emqx.io';
  await apply(client, {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                status: {
                  type: 'object',
                  properties: {
                    phase: { type: 'string' },
                    conditions: {
                      type: 'array',
                      'x-kubernetes-list-type': 'map',
                      'x-kubernetes-list-map-keys': ['type'],
                      items: {
                        type: 'object',
                        required: ['type', 'status'],
                        properties: {
                          type: { type: 'string' },
                          status: { type: 'string' },
                          lastTransitionTime: { type: 'string', format: 'date-time' },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      ],
    },
  });
  await sb.waitFor('the CRD to be established', async () => {
    const crd = await client.get<Obj>({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      name: `widgets.${group}`,
    });
    return crd?.status?.conditions?.some(
      (c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True',
    );
  });

  const widget: Obj = {
    apiVersion: `${group}/v1`,
    kind: 'Widget',
    metadata: { name: 'w', namespace: ns },
    spec: { anything: { nested: [1, 2, 3] } },
    status: { phase: 'Ignored' },
  };
  await sb.waitFor('the Widget kind to be served', () => apply(client, widget).then(() => true));
  let live = (await client.get<Obj>(ref(widget)))!;
  assert.deepEqual(live.spec, widget.spec, 'custom fields are kept');
  assert.equal(live.status, undefined, 'apply strips status');
  assert.equal(needsApply(widget, live), false);

  const withStatus = {
    ...widget,
    status: {
      phase: 'Ready',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2024-01-01T00:00:00Z' }],
    },
  };
  assert.equal(needsApply(withStatus, live, { subresource: 'status' }), true);
  await applyStatus(client, withStatus);
  live = (await client.get<Obj>(ref(widget)))!;
  assert.equal(live.status.phase, 'Ready');
  assert.deepEqual(applyDiff(withStatus, live, { subresource: 'status' }), []);
  assert.equal(needsApply(widget, live), false, 'the main resource is still in sync');

  await mergePatchStatus(
    client,
    ref(widget),
    { phase: 'Degraded' },
    { resourceVersion: live.metadata!.resourceVersion },
  );
  const stale = await mergePatchStatus(
    client,
    ref(widget),
    { phase: 'X' },
    { resourceVersion: live.metadata!.resourceVersion },
  ).catch((e: unknown) => e);
  assert.ok(
    stale instanceof KubeApiError && stale.code === 409,
    'an optimistic status patch with an old resourceVersion conflicts',
  );
  assert.equal((await client.get<Obj>(ref(widget)))!.status.phase, 'Degraded');

  // pods/status: conditions merge by type (a bound-to-nowhere pod, so no kubelet touches it)
  const pod = await apply(client, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: ns },
    spec: {
      nodeName: 'no-such-node',
      readinessGates: [{ conditionType: 'apps.emqx.io/on-serving' }],
      containers: [{ name: 'c', image: 'busybox' }],
    },
  });
  const podRef = { namespace: ns, name: pod.metadata!.name! };
  await patchPodStatus(client, podRef, {
    conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: '2024-01-01T00:00:00Z' }],
  });
  await patchPodStatus(client, podRef, {
    conditions: [
      { type: 'apps.emqx.io/on-serving', status: 'True', lastTransitionTime: '2024-01-01T00:00:01Z' },
    ],
  });
  const livePod = (await client.get<Obj>({ apiVersion: 'v1', kind: 'Pod', ...podRef }))!;
  const types = livePod.status.conditions.map((c: { type: string }) => c.type).sort();
  assert.deepEqual(
    types,
    ['PodScheduled', 'apps.emqx.io/on-serving'],
    'the second patch kept the first condition',
  );
});

test('createIfAbsent and deleteObject with a uid precondition', async (t) => {
  const ns = await sb.newNamespace(t);
  const client = new KubeClient(sb.kubeConfig);
  const secret: Obj = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'emqx-cookie', namespace: ns },
    stringData: { node_cookie: 'first' },
  };
  const a = await createIfAbsent(client, secret);
  assert.equal(a.created, true);
  const b = await createIfAbsent<Obj>(client, { ...secret, stringData: { node_cookie: 'second' } });
  assert.equal(b.created, false);
  assert.equal(b.object.metadata?.uid, a.object.metadata?.uid);
  assert.equal(
    Buffer.from(String((b.object.data as Record<string, string>).node_cookie), 'base64').toString(),
    'first',
  );

  const wrong = await deleteObject(client, ref(secret), { uid: 'not-the-uid' }).catch((e: unknown) => e);
  assert.ok(wrong instanceof KubeApiError && wrong.code === 409, String(wrong));
  assert.equal(
    await deleteObject(client, ref(secret), { uid: a.object.metadata!.uid, propagationPolicy: 'Foreground' }),
    true,
  );
  await sb.waitFor('the secret to be gone', async () => (await client.get(ref(secret))) === undefined);
  assert.equal(await deleteObject(client, ref(secret)), false, 'already gone');
});

/** A TCP proxy to the API server whose connections can be cut and refused, to break watches on purpose. */
async function breakableProxy(server: string) {
  const upstream = new URL(server);
  const sockets = new Set<net.Socket>();
  let refusing = false;
  const proxy = net.createServer((down) => {
    if (refusing) {
      down.destroy();
      return;
    }
    const up = net.connect(Number(upstream.port), upstream.hostname);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    cut(refuse: boolean) {
      refusing = refuse;
      for (const s of sockets) s.destroy();
    },
    resume() {
      refusing = false;
    },
    close() {
      for (const s of sockets) s.destroy();
      proxy.close();
    },
  };
}

function kubeConfigVia(kc: KubeConfig, server: string): KubeConfig {
  const cluster = kc.getCurrentCluster()!;
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: [{ ...cluster, server }],
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  return out;
}

test(
  'informer: cache and handlers on a real watch; restarts after the watch is broken',
  { timeout: 120_000 },
  async (t) => {
    const ns = await sb.newNamespace(t);
    const admin = new KubeClient(sb.kubeConfig);
    const proxy = await breakableProxy(sb.sandbox.server);
    t.after(() => proxy.close());
    const client = new KubeClient(kubeConfigVia(sb.kubeConfig, proxy.url));
    const cm = (name: string, v: string): Obj => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: ns, labels: { app: 'emqx' } },
      data: { v },
    });
    await apply(admin, cm('a', '1'));
    await apply(admin, {
      ...cm('other', '1'),
      metadata: { name: 'other', namespace: ns, labels: { app: 'x' } },
    });

    const inf = new Informer<Obj>(client, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: ns,
      labelSelector: 'app=emqx',
      initialBackoffMs: 200,
      maxBackoffMs: 1000,
    });
    t.after(() => inf.stop());
    const events: string[] = [];
    inf.onAdd((o) => events.push(`add ${o.metadata?.name}`));
    inf.onUpdate((o, old) => events.push(`update ${o.metadata?.name} ${old?.data?.v}->${o.data?.v}`));
    inf.onDelete((o) => events.push(`delete ${o.metadata?.name}`));
    await inf.start();
    await inf.synced;
    assert.deepEqual(
      inf.list().map((o) => o.metadata?.name),
      ['a'],
      'label selector applied',
    );

    await apply(admin, cm('a', '2'));
    await sb.waitFor('the update event', () => events.includes('update a 1->2'), 10_000);

    // cut every connection and refuse new ones: client-node's informer would stop here for good
    proxy.cut(true);
    await sb.waitFor('a failed restart attempt', () => inf.restarts >= 1, 20_000);
    await apply(admin, cm('b', '1')); // happens while the informer is blind
    await deleteObject(admin, ref(cm('a', '2')));
    proxy.resume();
    await sb.waitFor(
      'the missed add and delete',
      () => events.includes('add b') && events.includes('delete a'),
      30_000,
    );
    assert.deepEqual(
      inf.list().map((o) => o.metadata?.name),
      ['b'],
    );
    assert.equal(events.filter((e) => e === 'add b').length, 1);
  },
);

test(
  'leader election: one leader of two, hand-over on stop, MicroTime accepted',
  { timeout: 60_000 },
  async (t) => {
    const ns = await sb.newNamespace(t);
    const client = new KubeClient(sb.kubeConfig);
    // A lease far longer than the test: b can lead only because a released it, never because it expired, however
    // slow the machine (so no wall-clock assertion on the hand-over).
    const timing = { leaseDurationMs: 600_000, renewDeadlineMs: 300_000, retryPeriodMs: 300 };
    const log: string[] = [];
    const mk = (id: string) =>
      new LeaderElector(client, {
        namespace: ns,
        name: 'emqx-operator-leader',
        identity: id,
        ...timing,
        onStartedLeading: () => void log.push(`${id} started`),
        onStoppedLeading: () => void log.push(`${id} stopped`),
      });
    const a = mk('a');
    const b = mk('b');
    t.after(() => Promise.all([a.stop(), b.stop()]));
    void a.run();
    await sb.waitFor('a to lead', () => a.isLeader(), 10_000);
    void b.run();
    const leaseRef = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace: ns,
      name: 'emqx-operator-leader',
    };
    const first = (await client.get<Lease>(leaseRef))!;
    assert.equal(first.spec?.holderIdentity, 'a');
    assert.match(first.spec!.renewTime!, MICRO);
    await sb.waitFor(
      'a renewal',
      async () => (await client.get<Lease>(leaseRef))!.spec!.renewTime !== first.spec!.renewTime,
      15_000,
    );
    await sb.waitFor('b sees a as the leader', () => b.leader === 'a', 15_000);
    assert.equal(b.isLeader(), false);

    await a.stop();
    await sb.waitFor('b to lead (the lease would expire only after 600 s)', () => b.isLeader(), 30_000);
    const lease = (await client.get<Lease>(leaseRef))!;
    assert.equal(lease.spec?.holderIdentity, 'b');
    assert.equal(lease.spec?.leaseTransitions, 1);
    assert.match(lease.spec!.acquireTime!, MICRO);
    assert.deepEqual(log, ['a started', 'a stopped', 'b started']);

    // the pitfall this works around: 3 fractional digits are refused
    const bad = await client
      .request('POST', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: 'three-digits' },
          spec: { holderIdentity: 'x', renewTime: new Date().toISOString() },
        },
      })
      .catch((e: unknown) => e);
    assert.ok(bad instanceof KubeApiError && bad.code === 400, String(bad));
    assert.match(bad.message, /cannot parse/);
  },
);

test('events: created on the regarding object, repeats aggregated into a series', async (t) => {
  const ns = await sb.newNamespace(t);
  const client = new KubeClient(sb.kubeConfig);
  const target: Obj = await apply<Obj>(client, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'target', namespace: ns },
  });
  const rec = new EventRecorder(client, { minWriteIntervalMs: 0, reportingInstance: 'runtime-test' });
  const before = await kubeWriteCount({ kind: 'Event' });
  await rec.warning(target, 'ReconcileFailed', 'step addCore: boom (password=hunter2)');
  await rec.warning(target, 'ReconcileFailed', 'step addCore: boom (password=hunter2)');
  await rec.warning(target, 'ReconcileFailed', 'step addCore: boom (password=hunter2)');
  await rec.close();
  assert.equal((await kubeWriteCount({ kind: 'Event' })) - before, 3, 'one create and two series updates');
  const list = await client.list<Obj>('events.k8s.io/v1', 'Event', { namespace: ns });
  assert.equal(list.items.length, 1);
  const e = list.items[0]!;
  assert.equal(e.reason, 'ReconcileFailed');
  assert.equal(e.type, 'Warning');
  assert.equal(e.regarding.uid, target.metadata?.uid);
  assert.equal(e.reportingController, 'emqx-operator');
  assert.equal(e.series.count, 3);
  assert.ok(!e.note.includes('hunter2'), e.note);
  // and core v1 sees the same Event (kubectl describe)
  const core = await client.list<Obj>('v1', 'Event', { namespace: ns });
  assert.equal(core.items[0]?.involvedObject?.name, 'target');
});
