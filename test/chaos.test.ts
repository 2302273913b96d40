// Chaos (issue 11, finding 13): the control plane and EMQX fail under the operator, which runs unchanged against
// the sandbox. Each case converges with nothing lost (PVCs, nodes, clients) and nothing done twice (each core pod
// replaced once). The sandbox restarts etcd and kube-apiserver with the same state and port
// (ControlPlane.restart). Watches ending with 410 Gone: test/watch-gone.test.ts (a real API server without watch
// cache, etcd compacted every second) and src/k8s/informer.test.ts (relist, cache diff).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { startOperatorProcess, useOperatorSandbox } from './support/operator.ts';
import { example, getEmqx, listPods, patchEmqx, waitConverged, waitReady } from './support/emqx.ts';
import { connectionsIn, emqxResource, loadEveryNode, pvcs, waitAllOnVersion } from './support/upgrade.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

/**
 * What the Deployment's restart policy does in a cluster: an operator that exited (it does when it loses its Lease,
 * e.g. during an API-server outage longer than the renew deadline) is started again. Returns how many times.
 */
function keepOperatorRunning(t: TestContext): () => number {
  let restarts = 0;
  const timer = setInterval(() => {
    if (sb.operator.child.exitCode === null && sb.operator.child.signalCode === null) return;
    restarts++;
    sb.operator = startOperatorProcess(sb.sandbox, {
      name: `operator-restarted-${restarts}`,
      logLevel: 'debug',
    });
  }, 200);
  t.after(() => clearInterval(timer));
  return () => restarts;
}

describe('chaos', () => {
  it('kube-apiserver restarted mid-upgrade: every node upgraded, no PVC or client lost', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 2, replicants: 2 }));
    await waitReady(sb, ns);
    const total = await loadEveryNode(sb, sb.emqx, ns, 50);
    const pvcsBefore = await pvcs(sb, ns);
    const restarts = keepOperatorRunning(t);
    const coreUids = async () =>
      (await listPods(sb, ns))
        .filter((p) => p.metadata.labels['apps.emqx.io/db-role'] === 'core')
        .map((p) => p.metadata.uid)
        .sort();
    const coresBefore = await coreUids();

    await patchEmqx(sb, ns, { spec: { image: 'emqx/emqx-enterprise:5.8.4' } });
    await sb.waitFor(
      'the upgrade to be under way',
      async () => (await getEmqx(sb, ns))?.status?.update?.phase !== 'Idle',
      60_000,
      50,
    );
    await sb.sandbox.controlPlane.restart('kube-apiserver', { downMs: 3000 });

    await waitAllOnVersion(sb, ns, '5.8.4', 240_000);
    assert.deepEqual(await pvcs(sb, ns), pvcsBefore, 'no PVC created, orphaned or deleted');
    assert.equal(await connectionsIn(sb, sb.emqx, ns), total, 'every client is still connected');
    assert.equal(sb.emqx.fabric.droppedConnectionsIn(ns), 0, 'no connection was dropped');
    const pods = await listPods(sb, ns);
    assert.equal(pods.length, 4);
    const coresAfter = await coreUids();
    assert.equal(coresAfter.length, 2);
    assert.ok(
      coresAfter.every((u) => !coresBefore.includes(u)),
      'each core pod was replaced',
    );
    t.diagnostic(`operator restarts during the outage: ${restarts()}`);
  });

  it('etcd restarted: the operator keeps reconciling and follows the next change', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(example('core-replicant.yaml', ns));
    await waitConverged(sb, ns, { cores: 2, replicants: 3 });
    const pvcsBefore = await pvcs(sb, ns);
    keepOperatorRunning(t);
    await sb.sandbox.controlPlane.restart('etcd', { downMs: 2000 });
    await patchEmqx(sb, ns, { spec: { replicantTemplate: { spec: { replicas: 4 } } } });
    await waitConverged(sb, ns, { cores: 2, replicants: 4 }, 120_000);
    assert.deepEqual(await pvcs(sb, ns), pvcsBefore);
  });

  it('the EMQX API of every core timing out: no crash, the status says so, and the change lands afterwards', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(example('core-replicant.yaml', ns));
    await waitConverged(sb, ns, { cores: 2, replicants: 3 });
    t.after(() => sb.emqx.fabric.clearFaults());
    const cores = (await listPods(sb, ns)).filter(
      (p) => p.metadata.labels['apps.emqx.io/db-role'] === 'core',
    );
    // 80 emulated seconds = 8 s at timeScale 10, beyond the client's 5 s timeout
    for (const p of cores)
      sb.emqx.fabric.setFaults(sb.emqx.fabric.nodeOfPod(`${ns}/${p.metadata.name}`)!.name, {
        api: { delayMs: 80_000 },
      });
    await patchEmqx(sb, ns, { spec: { replicantTemplate: { spec: { replicas: 4 } } } });
    await sb.waitFor(
      'the API failure in the status',
      async () => {
        const e = await getEmqx(sb, ns);
        return JSON.stringify(e?.status?.conditions ?? []).includes('timed out');
      },
      90_000,
    );
    assert.equal(sb.operator.child.exitCode, null, 'the operator is still running');
    sb.emqx.fabric.clearFaults();
    await waitConverged(sb, ns, { cores: 2, replicants: 4 }, 120_000);
  });
});
