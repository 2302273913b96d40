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

  // The ReplicaSet controller removes the pod it ranks first with its own cache, and the operator's pod cache
  // learns of the removal only after that. kube-controller-manager is paused here (SIGSTOP) once it has seen the
  // drained pod out of the Services (not Ready), so that the window a loaded machine opens by chance is
  // held open: the operator's scale-down of the old set is not acted on, the retired pod is still listed.
  it('a ReplicaSet controller slow to remove a retired replicant: no second replicant goes with its clients', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: `emqx/emqx-enterprise:${OLD}`, cores: 2, replicants: 2 }));
    await waitReady(sb, ns);
    const fabric = sb.emqx.fabric;
    const total = await loadEveryNode(sb, sb.emqx, ns, 20);
    const oldReplicant = (n: NodeSummary) =>
      n.pod.startsWith(`${ns}/`) && n.role === 'replicant' && n.version === OLD;
    const release = fabric.faultsWhere(oldReplicant, { holdEvacuation: true });
    t.after(release);
    const kcm = sb.sandbox.controlPlane.processes.find((p) => p.name === 'kube-controller-manager')!;
    let paused = false;
    const resume = () => {
      if (paused) process.kill(kcm.pid, 'SIGCONT');
      paused = false;
    };
    t.after(resume);

    await patchEmqx(sb, ns, { spec: { image: `emqx/emqx-enterprise:${NEW}` } });
    const first = await sb.waitFor(
      'an old replicant evacuating (held by the emulator)',
      () => fabric.nodes().find((n) => oldReplicant(n) && n.evacuation !== undefined),
      240_000,
      20,
    );
    const podName = first.pod.slice(ns.length + 1);
    const ready = (p: any) =>
      p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
    // Out of the Services (not Ready), and seen so by kube-controller-manager: its disruption controller (same
    // pod cache as the ReplicaSet controller) counts the replicants' healthy pods without it.
    const set = await sb.waitFor(
      `${podName} not Ready in kube-controller-manager's view`,
      async () => {
        const pods = await listPods(sb, ns);
        const pod = pods.find((p) => p.metadata.name === podName);
        if (!pod || ready(pod)) return;
        const replicants = pods.filter((p) => p.metadata.labels['apps.emqx.io/db-role'] === 'replicant');
        const pdbs = ((await sb.api.get(`/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`)) as any)
          .items;
        const pdb = pdbs.find(
          (b: any) => b.spec.selector.matchLabels['apps.emqx.io/db-role'] === 'replicant',
        );
        if (pdb?.status?.currentHealthy !== replicants.filter(ready).length) return;
        return pod.metadata.ownerReferences[0].name as string;
      },
      60_000,
      50,
    );
    process.kill(kcm.pid, 'SIGSTOP');
    paused = true;
    release();
    // The evacuation finishes and the operator scales the old set 2 → 1; nothing removes the pod meanwhile.
    const outcome = await sb.waitFor(
      'the operator waiting for the ReplicaSet controller (or scaling the old set down again)',
      async () => {
        const rs = (await sb.api.get(`/apis/apps/v1/namespaces/${ns}/replicasets/${set}`)) as any;
        if (rs.spec.replicas === 0) return 'scaled again: a second old replicant, never evacuated, would go';
        const message = (await getEmqx(sb, ns))?.status?.update?.message ?? '';
        return /waiting for the ReplicaSet .* to remove a pod/.test(message) ? 'waited' : undefined;
      },
      60_000,
      100,
    );
    assert.equal(outcome, 'waited');
    const marked = (await listPods(sb, ns)).find((p) => p.metadata.name === podName);
    assert.equal(
      marked?.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'],
      '-99999',
      'the lowest deletion cost was written when it started draining',
    );
    resume();

    await waitAllOnVersion(sb, ns, NEW, 240_000);
    assert.deepEqual(fabric.exitsWithSessionsIn(ns), [], 'no node went away holding clients or sessions');
    assert.equal(fabric.droppedConnectionsIn(ns), 0, 'no connection dropped');
    assert.equal(await connectionsIn(sb, sb.emqx, ns), total, 'no client lost');
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
