// End to end: the operator, running unchanged against the sandbox, when things go wrong or nothing happens. An idle
// Ready cluster costs no Kubernetes writes and few EMQX calls; a replicant pod deleted by hand is replaced and the
// status follows; the oldest core's API failing (5xx, or slower than the client timeout) does not stop status
// updates; an operator killed with SIGKILL in the middle of a scale-up is replaced by a new one that converges
// without duplicate objects.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EMQX } from '../src/api/types.ts';
import {
  counterDelta,
  emqxApiCalls,
  kubeWrites,
  operatorReport,
  readMetrics,
  startOperatorProcess,
  useOperatorSandbox,
  type OperatorProcess,
} from './support/operator.ts';
import {
  assertNodesMatchPods,
  condition,
  emqxCall,
  example,
  getEmqx,
  listPods,
  patchEmqx,
  waitConverged,
} from './support/emqx.ts';
import { emqxResource } from './support/upgrade.ts';

// A 3 s safety net (default 30 s), so 20 idle seconds cover several full reconcile passes.
const OPERATOR_ARGS = ['--ready-interval', '3s'];
const sb = useOperatorSandbox({ timeScale: 10, operatorArgs: OPERATOR_ARGS });

async function reconcilePasses(op: OperatorProcess): Promise<number> {
  return (await readMetrics(op))
    .filter((m) => m.name === 'emqx_operator_reconcile_total' && m.labels.kind === 'EMQX')
    .reduce((sum, m) => sum + m.value, 0);
}

/** Waits for a reconcile pass that wrote nothing but Events and Lease renewals (the passes after Ready settled). */
async function quietPass(op: OperatorProcess): Promise<void> {
  await sb.waitFor(
    'a reconcile pass without writes',
    async () => {
      const w0 = await kubeWrites(op);
      const p0 = await reconcilePasses(op);
      await new Promise((r) => setTimeout(r, 3500));
      const dw = counterDelta(w0, await kubeWrites(op));
      const quiet = Object.keys(dw).every((k) => /\/(Lease|Event)$/.test(k));
      return quiet && (await reconcilePasses(op)) > p0;
    },
    30_000,
    0,
  );
}

/** Events of the namespace with this reason. */
async function eventsOf(ns: string, reason: string): Promise<any[]> {
  const list = await sb.api.get<{ items: any[] }>(`/api/v1/namespaces/${ns}/events`);
  return list.items.filter((ev) => ev.reason === reason && ev.involvedObject?.name === 'emqx');
}

/** The core pods of the namespace, oldest first (the order of EMQX API targets), with their EMQX node names. */
async function coresByAge(ns: string): Promise<Array<{ pod: string; ip: string; node: string }>> {
  const pods = (await listPods(sb, ns, 'apps.emqx.io/db-role=core')).sort(
    (a, b) =>
      Date.parse(a.metadata.creationTimestamp) - Date.parse(b.metadata.creationTimestamp) ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
  return pods.map((p) => {
    const node = sb.emqx.fabric.nodeOfPod(`${ns}/${p.metadata.name}`);
    assert.ok(node, `an EMQX node runs in ${p.metadata.name}`);
    return { pod: p.metadata.name, ip: p.status.podIP, node: node.name };
  });
}

describe('operator: resilience', () => {
  it('an idle Ready cluster gets no Kubernetes writes and few EMQX API calls', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(example('core-replicant.yaml', ns));
    await waitConverged(sb, ns, { cores: 2, replicants: 3 });
    // Let the passes that follow Ready (the last readiness-gate and status writes) settle first: wait for a pass
    // that wrote nothing but Events and Lease renewals, then measure a fresh window.
    const op = sb.operator;
    await quietPass(op);

    const writes0 = await kubeWrites(op);
    const api0 = await emqxApiCalls(op);
    const passes0 = await reconcilePasses(op);
    const status0 = (await getEmqx(sb, ns))!.status;
    await new Promise((r) => setTimeout(r, 20_000)); // the idle window being measured, not a wait for a condition
    const writes = counterDelta(writes0, await kubeWrites(op));
    const api = counterDelta(api0, await emqxApiCalls(op));
    const passes = (await reconcilePasses(op)) - passes0;

    assert.ok(passes >= 4, `the operator kept reconciling while idle (${passes} passes in 20 s)`);
    const unexpected = Object.fromEntries(
      Object.entries(writes).filter(([k]) => !/\/(Lease|Event)$/.test(k)),
    );
    assert.deepEqual(
      unexpected,
      {},
      `writes while idle over ${passes} passes (all: ${JSON.stringify(writes)})`,
    );
    assert.deepEqual((await getEmqx(sb, ns))!.status, status0, 'the status did not change');
    // EMQX: only reads, all answered, a bounded number per pass: the node list, the evacuation status (this image
    // is an Enterprise edition) and the config the listener ports are read from.
    const total = Object.values(api).reduce((a, b) => a + b, 0);
    for (const k of Object.keys(api)) {
      assert.match(k, /^GET /, `only reads while idle: ${JSON.stringify(api)}`);
      assert.match(k, / success$/, `every call answered: ${JSON.stringify(api)}`);
    }
    assert.ok(total > 0, 'the operator did look at EMQX while idle');
    assert.ok(
      total <= 3 * passes,
      `at most 3 EMQX calls per pass: ${total} in ${passes} (${JSON.stringify(api)})`,
    );
  });

  it('a replicant pod deleted by hand is replaced and the status follows', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(example('core-replicant.yaml', ns));
    const e0 = await waitConverged(sb, ns, { cores: 2, replicants: 3 });
    const victim = (await listPods(sb, ns, 'apps.emqx.io/db-role=replicant'))[0];
    const oldIP = victim.status.podIP as string;
    assert.ok(e0.status!.replicantNodes!.some((n) => n.name === `emqx@${oldIP}`));

    await sb.api.delete(`/api/v1/namespaces/${ns}/pods/${victim.metadata.name}`);
    const e: EMQX = await sb.waitFor(
      'a replacement replicant listed in .status.replicantNodes and the cluster Ready',
      async () => {
        const x = await waitConverged(sb, ns, { cores: 2, replicants: 3 }, 5_000);
        const names = x.status!.replicantNodes!.map((n) => n.name);
        return !names.includes(`emqx@${oldIP}`) && x;
      },
      90_000,
      500,
    );
    const pods = await listPods(sb, ns, 'apps.emqx.io/db-role=replicant');
    assert.equal(pods.length, 3);
    assert.ok(!pods.some((p) => p.metadata.uid === victim.metadata.uid), 'the deleted pod is gone');
    const fresh = pods.filter((p) => !e0.status!.replicantNodes!.some((n) => n.podUID === p.metadata.uid));
    assert.equal(fresh.length, 1, 'exactly one new replicant pod');
    assert.ok(
      e.status!.replicantNodes!.some(
        (n) => n.name === `emqx@${fresh[0].status.podIP}` && n.podName === fresh[0].metadata.name,
      ),
      'the new pod IP is listed',
    );
    await assertNodesMatchPods(sb, ns, e);
  });

  // The API client keeps using the target that answered last, so the oldest core is the first target only until
  // one failover happened. Each case therefore faults the oldest core during one scale-up, then the other core
  // during a second one: whichever core the client sticks to, it meets the fault at least once.
  const faults = [
    { what: 'answering 503', fault: { api: { status: 503 } }, outcome: 'http_5xx' },
    // 80 emulated seconds = 8 s at timeScale 10, beyond the client's 5 s timeout.
    { what: 'slower than the 5 s timeout', fault: { api: { delayMs: 80_000 } }, outcome: 'timeout' },
  ];
  for (const { what, fault, outcome } of faults) {
    it(`a core's EMQX API ${what} (the oldest first) does not stop status updates`, async (t) => {
      const ns = await sb.newNamespace(t);
      await sb.apply(example('core-replicant.yaml', ns));
      await waitConverged(sb, ns, { cores: 2, replicants: 3 });
      const cores = await coresByAge(ns);
      const failures = async () =>
        Object.entries(await emqxApiCalls(sb.operator))
          .filter(([k]) => k.endsWith(` ${outcome}`))
          .reduce((sum, [, v]) => sum + v, 0);
      const failures0 = await failures();
      t.after(() => sb.emqx.fabric.clearFaults());

      for (const [i, core] of cores.entries()) {
        sb.emqx.fabric.clearFaults();
        sb.emqx.fabric.setFaults(core.node, fault);
        // The fault is real: the node's API fails for any client (its /status, the probe, still answers).
        await assert.rejects(
          (async () => {
            const r = await emqxCall(sb, ns, core.ip, '/api/v5/nodes');
            if (r.status >= 500) throw new Error(`HTTP ${r.status}`);
          })(),
          `GET /api/v5/nodes on ${core.pod} fails`,
        );
        const replicants = 4 + i;
        await patchEmqx(sb, ns, { spec: { replicantTemplate: { spec: { replicas: replicants } } } });
        // A failure says what the operator was doing: the status seen last, its queue, its last log lines.
        const e = await waitConverged(sb, ns, { cores: 2, replicants }, 90_000).catch(async (err: Error) => {
          const report = await operatorReport(sb.operator, { ns });
          throw new Error(`scale-up ${i + 1} (fault on ${core.pod}): ${err.message}\n${report}`, {
            cause: err,
          });
        });
        await assertNodesMatchPods(sb, ns, e);
        // The faulty node is still listed as running: the other core answered for the whole cluster.
        assert.ok(e.status!.coreNodes!.some((n) => n.name === core.node && n.node_status === 'running'));
      }
      assert.ok((await failures()) > failures0, `the operator met the faults (${outcome})`);
    });
  }

  // A failed read of the node list on a Ready cluster is reported only once it lasts (src/controller/api-outage.ts,
  // 15 s): one failed pass writes no status and records no Event; a lasting failure shows in the conditions with one
  // Warning, and its end with one Normal Event. Durable sessions are on, so the DurableStorage condition (read
  // through the same API) follows the same grace: unchanged for one failed pass, Unknown once the failure counts.
  it('an EMQX API failure on a Ready cluster is reported only once it lasts, with one Event each way', async (t) => {
    const ns = await sb.newNamespace(t);
    const config =
      'durable_sessions.enable = true\ndurable_storage.messages { n_shards = 4, replication_factor = 2 }\n';
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 2, config }));
    await waitConverged(sb, ns, { cores: 2, replicants: 0 });
    await sb.waitFor(
      'DurableStorage True',
      async () => condition(await getEmqx(sb, ns), 'DurableStorage') === 'True',
      60_000,
      200,
    );
    const op = sb.operator;
    await quietPass(op);
    const nodesFailed = async () => (await emqxApiCalls(op))['GET /api/v5/nodes http_5xx'] ?? 0;
    const nodesAnswered = async () => (await emqxApiCalls(op))['GET /api/v5/nodes success'] ?? 0;
    const cores = (n: { pod: string; role: string }) => n.role === 'core' && n.pod.startsWith(`${ns}/`);
    let release: (() => void) | undefined = undefined;
    t.after(() => release?.());

    // One failed pass: every core answers 503 until the operator met it, then answers again. The metrics count every
    // namespace's passes, so the window after it lasts past this cluster's next passes (3 s interval) as well.
    const before = (await getEmqx(sb, ns))!;
    const status0 = before.status;
    const failed0 = await nodesFailed();
    release = sb.emqx.fabric.faultsWhere(cores, { api: { status: 503 } });
    await sb.waitFor(
      'a pass that failed to read the node list',
      async () => (await nodesFailed()) >= failed0 + 2,
      30_000,
      100,
    );
    release();
    release = undefined;
    const releasedAt = Date.now();
    const answered0 = await nodesAnswered();
    const passes0 = await reconcilePasses(op);
    await sb.waitFor(
      'passes that read the node list again',
      async () =>
        Date.now() - releasedAt >= 7_000 &&
        (await nodesAnswered()) >= answered0 + 2 &&
        (await reconcilePasses(op)) >= passes0 + 2,
      30_000,
      200,
    );
    const after = (await getEmqx(sb, ns))!;
    assert.equal(
      after.metadata.resourceVersion,
      before.metadata.resourceVersion,
      'no status write for one failed read',
    );
    assert.deepEqual((await getEmqx(sb, ns))!.status, status0, 'the status did not change');
    assert.deepEqual(await eventsOf(ns, 'FailedToGetNodeStatuses'), [], 'no Warning Event');
    assert.deepEqual(await eventsOf(ns, 'DurableStorageUnknown'), [], 'no DurableStorage Event');

    // A lasting failure: the conditions say so, one Warning Event; its end: one Normal Event, conditions clean.
    const started = Date.now();
    release = sb.emqx.fabric.faultsWhere(cores, { api: { status: 503 } });
    const unusable = (e: EMQX | undefined) =>
      e?.status?.conditions?.some((c) => c.type === 'CoreNodesReady' && /EMQX API unusable/.test(c.message));
    await sb.waitFor(
      'the conditions to report the failure',
      async () => unusable(await getEmqx(sb, ns)),
      90_000,
      200,
    );
    const reportedAfter = Date.now() - started;
    assert.ok(reportedAfter >= 15_000, `not reported within the 15 s grace (${reportedAfter} ms)`);
    assert.equal(
      condition(await getEmqx(sb, ns), 'DurableStorage'),
      'Unknown',
      'durable storage unknown with it',
    );
    const failedNow = await nodesFailed();
    await sb.waitFor(
      'two more failed passes',
      async () => (await nodesFailed()) >= failedNow + 4,
      30_000,
      200,
    );
    const warnings = await eventsOf(ns, 'FailedToGetNodeStatuses');
    assert.equal(warnings.length, 1, `one Warning Event: ${JSON.stringify(warnings.map((e) => e.message))}`);
    assert.ok((warnings[0].count ?? 1) <= 1, `recorded once (count ${warnings[0].count})`);
    release();
    release = undefined;
    await sb.waitFor(
      'the conditions clean again',
      async () => {
        const e = await getEmqx(sb, ns);
        return condition(e, 'Ready') === 'True' && !unusable(e) && condition(e, 'DurableStorage') === 'True';
      },
      60_000,
      200,
    );
    const restored = await sb.waitFor(
      'the Normal Event of its end',
      async () => {
        const found = await eventsOf(ns, 'NodeStatusesRestored');
        return found.length > 0 && found;
      },
      30_000,
      200,
    );
    assert.equal(restored.length, 1);
    assert.equal(restored[0].type, 'Normal');
    assert.equal((await eventsOf(ns, 'FailedToGetNodeStatuses')).length, 1, 'still one Warning Event');
  });

  it('an operator killed (SIGKILL) during a scale-up is replaced and the new one converges without duplicates', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(example('core-replicant.yaml', ns));
    await waitConverged(sb, ns, { cores: 2, replicants: 3 });

    const first = sb.operator;
    await patchEmqx(sb, ns, {
      spec: { coreTemplate: { spec: { replicas: 3 } }, replicantTemplate: { spec: { replicas: 5 } } },
    });
    // Kill it once it started acting on the change, before the cluster converged.
    await sb.waitFor(
      'the operator to start the scale-up',
      async () => {
        const sts = await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/statefulsets/emqx-core`);
        return sts.spec.replicas === 3;
      },
      30_000,
      50,
    );
    await first.kill();
    const mid = await getEmqx(sb, ns);
    assert.notEqual(mid?.status?.replicants, '5/5', 'killed before the scale-up finished');

    const second = startOperatorProcess(sb.sandbox, {
      name: 'operator-restarted',
      args: OPERATOR_ARGS,
      logLevel: 'debug',
    });
    sb.operator = second;
    // The Lease of the killed process must expire first (15 s), then the new one reconciles.
    const e = await waitConverged(sb, ns, { cores: 3, replicants: 5 }, 120_000);
    await assertNodesMatchPods(sb, ns, e);
    assert.ok(
      second.logs().some((l) => l.msg === 'became leader'),
      'the new process took over',
    );

    const names = async (path: string) =>
      (
        (await sb.api.get<{ items: any[] }>(`${path}?labelSelector=apps.emqx.io/instance%3Demqx`))
          .items as any[]
      )
        .filter((o) => !o.metadata.deletionTimestamp)
        .map((o) => o.metadata.name as string)
        .sort();
    assert.deepEqual(await names(`/apis/apps/v1/namespaces/${ns}/statefulsets`), ['emqx-core']);
    const rs = await names(`/apis/apps/v1/namespaces/${ns}/replicasets`);
    assert.equal(rs.length, 1, `one replicant ReplicaSet: ${rs}`);
    assert.deepEqual(await names(`/api/v1/namespaces/${ns}/services`), [
      'emqx-dashboard',
      'emqx-headless',
      'emqx-listeners',
    ]);
    assert.deepEqual(await names(`/api/v1/namespaces/${ns}/configmaps`), ['emqx-configs']);
    assert.deepEqual(await names(`/api/v1/namespaces/${ns}/secrets`), [
      'emqx-bootstrap-api-key',
      'emqx-license',
      'emqx-node-cookie',
    ]);
    assert.deepEqual(await names(`/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`), [
      'emqx-core',
      'emqx-replicant',
    ]);
    const pods = await listPods(sb, ns);
    assert.equal(pods.length, 8, `3 cores + 5 replicants: ${pods.map((p) => p.metadata.name)}`);
  });
});
