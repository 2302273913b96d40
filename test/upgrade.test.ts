// Issue: upgrades that drop no client and lose no data. The operator runs unchanged against the sandbox; EMQX
// nodes are emulated, with client connections as counters that move only through evacuation (or reconnect after
// their node went away, which the emulator counts as dropped).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useOperatorSandbox } from './support/operator.ts';
import { getEmqx, listPods, patchEmqx, waitReady } from './support/emqx.ts';
import { connectionsIn, emqxResource, loadEveryNode, pvcs, waitAllOnVersion } from './support/upgrade.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

describe('upgrades', () => {
  it('Enterprise 5.8.3 → 5.8.4, cores in place: every node upgraded, no connection dropped, data and PVCs kept', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 3, replicants: 3 }));
    await waitReady(sb, ns);
    const total = await loadEveryNode(sb, sb.emqx, ns, 100);
    const core0 = sb.emqx.fabric.nodeOfPod(`${ns}/emqx-core-0`)!.name;
    sb.emqx.fabric.retain(core0, 'sensors/1', 'before-upgrade');
    const pvcsBefore = await pvcs(sb, ns);
    assert.equal(pvcsBefore.length, 3);
    const droppedBefore = sb.emqx.fabric.droppedConnections;

    await patchEmqx(sb, ns, { spec: { image: 'emqx/emqx-enterprise:5.8.4' } });
    const e = await waitAllOnVersion(sb, ns, '5.8.4', Number(process.env.UPGRADE_TIMEOUT ?? 240_000));

    assert.equal(e.status!.coreNodes!.length, 3);
    assert.equal(e.status!.replicantNodes!.length, 3);
    assert.equal(await connectionsIn(sb, sb.emqx, ns), total, 'connections before and after');
    assert.equal(sb.emqx.fabric.droppedConnections - droppedBefore, 0, 'no connection was dropped');
    const core2 = sb.emqx.fabric.nodeOfPod(`${ns}/emqx-core-2`)!.name;
    assert.equal(sb.emqx.fabric.dbGet(core2, 'retained', 'sensors/1'), 'before-upgrade');
    assert.deepEqual(await pvcs(sb, ns), pvcsBefore, 'no PVC created, orphaned or deleted');
    const pods = await listPods(sb, ns);
    assert.deepEqual(
      pods
        .filter((p) => p.metadata.labels['apps.emqx.io/db-role'] === 'core')
        .map((p) => p.metadata.name)
        .sort(),
      ['emqx-core-0', 'emqx-core-1', 'emqx-core-2'],
    );
    const after = await getEmqx(sb, ns);
    assert.equal(after?.status?.update?.phase, 'Idle');
  });
});
