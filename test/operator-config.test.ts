// End to end: spec.config.data with the operator running unchanged against the sandbox. A hot change reaches every
// running EMQX node without restarting a pod; a new listener becomes a port of the listeners Service (same
// clusterIP); bad HOCON is refused with its position, an Event, and no change anywhere; fixing it recovers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EMQX } from '../src/api/types.ts';
import { readMetrics, useOperatorSandbox } from './support/operator.ts';
import {
  condition,
  emqxCall,
  example,
  getEmqx,
  listPods,
  patchEmqx,
  waitConverged,
  waitReady,
} from './support/emqx.ts';

// A short safety-net interval, so "nothing changed" below covers several full reconcile passes.
const sb = useOperatorSandbox({ timeScale: 10, operatorArgs: ['--ready-interval', '2s'] });

const BASE = 'license {\n  key = "..."\n}\n';

/** One config root of every EMQX pod of the namespace, as each node reports it (`GET /api/v5/configs?key=`). */
async function nodeConfigs(ns: string, key: string): Promise<Map<string, any>> {
  const out = new Map<string, any>();
  for (const pod of await listPods(sb, ns)) {
    const r = await emqxCall(sb, ns, pod.status.podIP, `/api/v5/configs?key=${key}`);
    assert.equal(r.status, 200, `${pod.metadata.name} GET /api/v5/configs?key=${key}: ${r.text}`);
    out.set(pod.metadata.name, r.json[key]);
  }
  return out;
}

/** Waits until every node of the namespace reports `pick(root) === value`. */
async function waitEveryNode(ns: string, key: string, pick: (root: any) => unknown, value: unknown) {
  return sb.waitFor(
    `every EMQX node of ${ns} to report ${key} … = ${JSON.stringify(value)}`,
    async () => {
      const configs = await nodeConfigs(ns, key);
      const seen = [...configs].map(([pod, c]) => `${pod}=${JSON.stringify(pick(c))}`);
      if (configs.size !== 5 || [...configs.values()].some((c) => pick(c) !== value))
        throw new Error(seen.join(', '));
      return configs;
    },
    30_000,
  );
}

async function events(ns: string, reason: string): Promise<any[]> {
  const list = await sb.api.get<{ items: any[] }>(`/apis/events.k8s.io/v1/namespaces/${ns}/events`);
  return list.items.filter((e) => e.reason === reason && e.regarding?.name === 'emqx');
}

async function podUids(ns: string): Promise<string[]> {
  return (await listPods(sb, ns)).map((p) => `${p.metadata.name}/${p.metadata.uid}`).sort();
}

describe('operator: spec.config.data', () => {
  it('a hot change reaches every node; a new listener becomes a Service port, same clusterIP', async (t) => {
    const ns = await sb.newNamespace(t);
    const emqx = example('core-replicant.yaml', ns);
    emqx.spec.config.data = BASE;
    await sb.apply(emqx);
    await waitConverged(sb, ns, { cores: 2, replicants: 3 });
    const pods = await podUids(ns);
    // The emulator's default first, so the change below is observed and not assumed.
    const before = await nodeConfigs(ns, 'mqtt');
    assert.equal(before.size, 5);
    for (const [pod, mqtt] of before) assert.equal(mqtt.max_packet_size, '1MB', pod);

    await patchEmqx(sb, ns, { spec: { config: { data: `${BASE}mqtt.max_packet_size = "2MB"\n` } } });
    await waitEveryNode(ns, 'mqtt', (m) => m.max_packet_size, '2MB');
    let e = await waitReady(sb, ns);
    assert.equal(condition(e, 'ConfigApplied'), 'True');
    assert.deepEqual(await podUids(ns), pods, 'a hot change restarts no pod');
    const cm = await sb.api.get<any>(`/api/v1/namespaces/${ns}/configmaps/emqx-configs`);
    assert.match(
      cm.data['emqx.conf'],
      /max_packet_size\s*[=:]\s*"?2MB"?/,
      'nodes that start later read it too',
    );
    assert.ok((await events(ns, 'ConfigUpdated')).length > 0, 'a ConfigUpdated Event');

    // A new TCP listener: it runs on every node and the listeners Service gets its port, keeping its clusterIP.
    const svcBefore = await sb.api.get<any>(`/api/v1/namespaces/${ns}/services/emqx-listeners`);
    assert.ok(!svcBefore.spec.ports.some((p: any) => p.port === 11883));
    await patchEmqx(sb, ns, {
      spec: {
        config: {
          data: `${BASE}mqtt.max_packet_size = "2MB"\nlisteners.tcp.extra { bind = "0.0.0.0:11883" }\n`,
        },
      },
    });
    await waitEveryNode(ns, 'listeners', (l) => l?.tcp?.extra?.bind, '0.0.0.0:11883');
    const svc = await sb.waitFor(
      'port 11883 on the listeners Service',
      async () => {
        const s = await sb.api.get<any>(`/api/v1/namespaces/${ns}/services/emqx-listeners`);
        return s.spec.ports.some((p: any) => p.port === 11883) ? s : undefined;
      },
      30_000,
    );
    assert.equal(svc.spec.clusterIP, svcBefore.spec.clusterIP, 'the Service was changed in place');
    assert.equal(svc.metadata.uid, svcBefore.metadata.uid);
    const extra = svc.spec.ports.find((p: any) => p.port === 11883);
    assert.equal(extra.protocol, 'TCP');
    assert.equal(extra.targetPort, 11883);
    assert.deepEqual(
      svc.spec.ports.map((p: any) => p.port).sort((a: number, b: number) => a - b),
      [1883, 8083, 8084, 8883, 11883],
    );
    // The running cluster reports the listener on every node.
    const core = (await listPods(sb, ns, 'apps.emqx.io/db-role=core'))[0];
    const listeners = await emqxCall(sb, ns, core.status.podIP, '/api/v5/listeners');
    const l = (listeners.json as any[]).find((x) => x.id === 'tcp:extra');
    assert.ok(l, `tcp:extra in GET /api/v5/listeners: ${listeners.text.slice(0, 300)}`);
    assert.equal(l.node_status.length, 5, 'tcp:extra on every node');
    e = await waitReady(sb, ns);
    assert.equal(condition(e, 'ConfigApplied'), 'True');
    assert.deepEqual(await podUids(ns), pods, 'a new listener restarts no pod');
  });

  it('bad HOCON: ConfigApplied=False with line and column, an Event, nothing changed; fixing it recovers', async (t) => {
    const ns = await sb.newNamespace(t);
    const emqx = example('core-replicant.yaml', ns);
    emqx.spec.config.data = `${BASE}mqtt.max_packet_size = "2MB"\n`;
    await sb.apply(emqx);
    await waitConverged(sb, ns, { cores: 2, replicants: 3 });
    await waitEveryNode(ns, 'mqtt', (m) => m.max_packet_size, '2MB');

    const snapshot = async () => {
      const cm = await sb.api.get<any>(`/api/v1/namespaces/${ns}/configmaps/emqx-configs`);
      const sts = await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/statefulsets/emqx-core`);
      const rs = (await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/replicasets`)).items;
      const svc = await sb.api.get<any>(`/api/v1/namespaces/${ns}/services/emqx-listeners`);
      return {
        configMap: { rv: cm.metadata.resourceVersion, data: cm.data, annotations: cm.metadata.annotations },
        statefulSet: sts.metadata.resourceVersion,
        replicaSets: rs.map((r: any) => `${r.metadata.name}@${r.metadata.resourceVersion}`).sort(),
        listenersService: svc.metadata.resourceVersion,
        pods: await podUids(ns),
      };
    };
    const before = await snapshot();
    const bad = `${BASE}mqtt.max_packet_size = "3MB"\nlisteners.tcp.extra {\n  bind = "0.0.0.0:11883"\n`; // unclosed {
    const patched = await patchEmqx(sb, ns, { spec: { config: { data: bad } } });
    const e = await sb.waitFor(
      'ConfigApplied=False (InvalidConfig) for the new generation',
      async () => {
        const x = await getEmqx(sb, ns);
        const c = x?.status?.conditions?.find((k) => k.type === 'ConfigApplied');
        return x?.status?.observedGeneration === patched.metadata.generation && c?.status === 'False'
          ? x
          : undefined;
      },
      30_000,
    );
    const c = e.status!.conditions!.find((k) => k.type === 'ConfigApplied')!;
    assert.equal(c.reason, 'InvalidConfig');
    assert.match(c.message, /spec\.config\.data/);
    assert.match(c.message, /line \d+/i, `the message has the line: ${c.message}`);
    assert.match(c.message, /col(umn)? \d+/i, `the message has the column: ${c.message}`);
    const ev = await sb.waitFor(
      'an InvalidConfig Event',
      async () => (await events(ns, 'InvalidConfig'))[0],
      15_000,
    );
    assert.equal(ev.type, 'Warning');
    assert.match(ev.note, /line \d+/i);

    // Several reconcile passes later (the safety net runs every 2 s here), nothing was written from the bad spec.
    const passes = async () =>
      (await readMetrics(sb.operator))
        .filter((m) => m.name === 'emqx_operator_reconcile_total' && m.labels.kind === 'EMQX')
        .reduce((sum, m) => sum + m.value, 0);
    const seen = await passes();
    await sb.waitFor('3 more reconcile passes', async () => (await passes()) >= seen + 3, 20_000);
    assert.deepEqual(
      await snapshot(),
      before,
      'the ConfigMap, StatefulSet, ReplicaSet, Service and pods are unchanged',
    );
    for (const [pod, mqtt] of await nodeConfigs(ns, 'mqtt')) assert.equal(mqtt.max_packet_size, '2MB', pod);
    for (const [pod, l] of await nodeConfigs(ns, 'listeners')) assert.equal(l.tcp?.extra, undefined, pod);
    const still = await getEmqx(sb, ns);
    assert.equal(condition(still, 'ConfigApplied'), 'False', 'still refused');
    // issue 11: the cluster does not match the spec, so it is not Ready; it still serves (Available)
    assert.equal(condition(still, 'Ready'), 'False', 'not Ready while its config is refused');
    assert.equal(still?.status?.conditions?.find((k) => k.type === 'Ready')?.reason, 'InvalidConfig');
    assert.equal(condition(still, 'Available'), 'True', 'the running cluster stays Available');

    // Fixed: applied everywhere, condition back to True.
    await patchEmqx(sb, ns, { spec: { config: { data: `${bad}}\n` } } });
    await waitEveryNode(ns, 'mqtt', (m) => m.max_packet_size, '3MB');
    await waitEveryNode(ns, 'listeners', (l) => l?.tcp?.extra?.bind, '0.0.0.0:11883');
    const fixed: EMQX = await sb.waitFor(
      'ConfigApplied=True again',
      async () => {
        const x = await waitReady(sb, ns);
        return condition(x, 'ConfigApplied') === 'True' ? x : undefined;
      },
      30_000,
    );
    assert.equal(fixed.status!.conditions!.find((k) => k.type === 'ConfigApplied')!.reason, 'ConfigApplied');
    assert.deepEqual(await podUids(ns), before.pods, 'the fix is hot too: no pod restarted');
  });
});
