// Issue: crash safety — every step of an upgrade is recorded in the cluster (pod revisions, EMQX evacuation state,
// pod annotations, the status), so an operator killed at any moment resumes where it was. The operator is killed
// with SIGKILL (no clean-up) at five points of one upgrade, and a new one is started each time.
//
// Each point is held by the test, not caught in passing: before the spec changes, the emulator is told to keep the
// phase (an evacuation that makes no progress, a new node whose /status fails so its pod is not Ready), and the
// test releases it only after the kill and the restart. So a point cannot be missed however slow the machine is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeExit, NodeFaults, NodeSummary } from '../sandbox/emqx/index.ts';
import type { EMQX } from '../src/api/types.ts';
import { startOperatorProcess, useOperatorSandbox, type OperatorProcess } from './support/operator.ts';
import { getEmqx, listPods, patchEmqx, waitReady } from './support/emqx.ts';
import { connectionsIn, emqxResource, loadEveryNode, pvcs, waitAllOnVersion } from './support/upgrade.ts';
import { assertNoClientLost, startListenerLoad } from './support/mqtt-load.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

const OLD = '5.8.3';
const NEW = '5.8.4';

interface KillPoint {
  name: string;
  /** Keeps the upgrade at this point (set before the spec changes): the nodes it matches get `faults`. */
  hold?: { match: (n: NodeSummary) => boolean; faults: NodeFaults };
  /** Reached, read from the emulator alone when `usesStatus` is false (no API call). */
  usesStatus?: boolean;
  reached(e: EMQX | undefined): boolean;
}

describe('crash safety', () => {
  it('the operator killed at five points of an upgrade converges to the same end state', async (t) => {
    const ns = await sb.newNamespace(t);
    const resource = emqxResource(ns, { image: `emqx/emqx-enterprise:${OLD}`, cores: 3, replicants: 3 });
    // Slow evacuations (10 connections per second): a kill is likely to land in the middle of one.
    resource.spec.updateStrategy.evacuationStrategy.connEvictRate = 10;
    resource.spec.updateStrategy.evacuationStrategy.sessEvictRate = 10;
    await sb.apply(resource);
    await waitReady(sb, ns);
    const fabric = sb.emqx.fabric;
    // Real MQTT clients through the listeners Service, plus counted clients on every node (cores included).
    const load = await startListenerLoad(t, sb, ns, { subscribers: 30, rate: 10, selects: 'replicant' });
    const real = load.subscribers.length + 1;
    const total = (await loadEveryNode(sb, sb.emqx, ns, 60)) + real;
    fabric.retain(fabric.nodeOfPod(`${ns}/emqx-core-1`)!.name, 'crash/test', 'kept');
    const pvcsBefore = await pvcs(sb, ns);

    const mine = (role: string, version: string) => (n: NodeSummary) =>
      n.pod.startsWith(`${ns}/`) && n.role === role && n.version === version;
    const evacuating = (role: string) =>
      fabric.nodes().some((n) => mine(role, OLD)(n) && n.evacuation !== undefined);

    const points: KillPoint[] = [
      { name: 'right after the spec changed', usesStatus: false, reached: () => true },
      {
        name: 'during a core evacuation',
        hold: { match: mine('core', OLD), faults: { holdEvacuation: true } },
        usesStatus: false,
        reached: () => evacuating('core'),
      },
      {
        // The first core runs the new version in the cluster, its pod not Ready yet; the others run the old one.
        name: 'during the core roll, between two cores',
        hold: { match: mine('core', NEW), faults: { statusFail: true } },
        reached: (e) => {
          const cores = (e?.status?.coreNodes ?? []).filter((n) => n.node_status === 'running');
          return cores.some((n) => n.version === NEW) && cores.some((n) => n.version === OLD);
        },
      },
      {
        // The new replicants run, not Ready yet; no old one is drained before they serve.
        name: 'between roles (new replicants starting)',
        hold: { match: mine('replicant', NEW), faults: { statusFail: true } },
        reached: (e) =>
          e?.status?.update?.phase === 'UpdatingReplicants' && fabric.nodes().some(mine('replicant', NEW)),
      },
      {
        name: 'during a replicant evacuation',
        hold: { match: mine('replicant', OLD), faults: { holdEvacuation: true } },
        usesStatus: false,
        reached: () => evacuating('replicant'),
      },
    ];
    const releases = points.map((p) => p.hold && fabric.faultsWhere(p.hold.match, p.hold.faults));
    t.after(() => releases.forEach((release) => release?.()));

    await patchEmqx(sb, ns, { spec: { image: `emqx/emqx-enterprise:${NEW}` } });
    const hit: string[] = [];
    const operators = [sb.operator];
    /** Where the upgrade is: the operator's phase and message, and every node of the namespace in the emulator. */
    const where = async (): Promise<string> => {
      const update = (await getEmqx(sb, ns))?.status?.update;
      const nodes = fabric
        .nodes()
        .filter((n) => n.pod.startsWith(`${ns}/`))
        .map(
          (n) =>
            `${n.pod.slice(ns.length + 1)} ${n.version} ${n.status}${n.evacuation ? ` ${n.evacuation}` : ''}`,
        );
      return `phase ${update?.phase ?? '-'} (${update?.message ?? ''}); nodes: ${nodes.join(', ')}`;
    };
    for (const [i, point] of points.entries()) {
      try {
        await sb.waitFor(
          `kill point "${point.name}" (held by the emulator until released)`,
          async () => point.reached(point.usesStatus === false ? undefined : await getEmqx(sb, ns)),
          240_000,
          point.usesStatus === false ? 20 : 200,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}; ${await where()}`, { cause: err });
      }
      await sb.operator.kill();
      hit.push(point.name);
      t.diagnostic(`killed at "${point.name}": ${await where()}`);
      sb.operator = startOperatorProcess(sb.sandbox, {
        name: `operator-after-kill-${hit.length}`,
        logLevel: 'debug',
      });
      operators.push(sb.operator);
      releases[i]?.();
    }
    assert.equal(hit.length, 5);

    const endState = async () => {
      const e = await waitAllOnVersion(sb, ns, '5.8.4', 240_000);
      assert.equal(e.status!.coreNodes!.length, 3);
      assert.equal(e.status!.replicantNodes!.length, 3);
      assert.ok(
        [...e.status!.coreNodes!, ...e.status!.replicantNodes!].every((n) => n.node_status === 'running'),
      );
      await assertNoClientLost(t, load);
      assert.equal(await connectionsIn(sb, sb.emqx, ns), total, 'no client lost');
      assert.equal(fabric.droppedConnectionsIn(ns), 0, 'no connection dropped');
      assert.equal(
        fabric.dbGet(fabric.nodeOfPod(`${ns}/emqx-core-0`)!.name, 'retained', 'crash/test'),
        'kept',
      );
      assert.deepEqual(await pvcs(sb, ns), pvcsBefore);
      const sets = ((await sb.api.get(`/apis/apps/v1/namespaces/${ns}/replicasets`)) as any).items;
      assert.equal(sets.filter((s: any) => s.spec.replicas > 0).length, 1, 'one ReplicaSet serves');
      const sts = ((await sb.api.get(`/apis/apps/v1/namespaces/${ns}/statefulsets`)) as any).items;
      assert.equal(sts.length, 1);
      assert.equal((await listPods(sb, ns)).length, 6);
      assert.ok(!(await listPods(sb, ns)).some((p) => p.metadata.annotations?.['apps.emqx.io/draining']));
    };
    try {
      await endState();
    } catch (err) {
      // The failure explains itself: which nodes went away holding clients or sessions, and what each operator
      // process wrote (rollout actions, scalings, warnings), in time order.
      t.diagnostic(`end state not reached: ${await where()}`);
      t.diagnostic(lostSessionsReport(fabric.exitsWithSessionsIn(ns), operators));
      throw err;
    }
  });
});

/** Nodes that exited holding clients or sessions, and the operators' rollout writes, scalings and warnings. */
function lostSessionsReport(exits: NodeExit[], operators: OperatorProcess[]): string {
  const lines = exits.map(
    (x) =>
      `${x.at} node ${x.node} (pod ${x.pod}) exited (${x.reason}, code ${x.code}) holding ${x.connections} ` +
      `connected clients and ${x.sessions} sessions; its evacuation: ${x.evacuation ?? 'none'}`,
  );
  for (const op of operators) {
    for (const l of op.logs()) {
      if (l.msg !== 'rollout action' && l.msg !== 'scaling' && l.level !== 'warn') continue;
      const { time, msg, level: _level, ...rest } = l;
      lines.push(`${String(time)} ${op.name}: ${String(msg)} ${JSON.stringify(rest)}`);
    }
  }
  lines.sort();
  return [`nodes gone with clients or sessions (${exits.length}), and the operators' writes:`, ...lines].join(
    '\n',
  );
}
