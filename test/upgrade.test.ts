// Issue: upgrades that drop no client and lose no data. The operator runs unchanged against the sandbox; EMQX
// nodes are emulated. The first test uses real MQTT.js clients through the listeners Service (persistent
// sessions, a QoS 1 publisher); the others still use the emulator's client counters, which move only through
// evacuation (or reconnect after their node went away, which the emulator counts as dropped).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useOperatorSandbox } from './support/operator.ts';
import { getEmqx, listPods, patchEmqx, waitReady } from './support/emqx.ts';
import { connectionsIn, emqxResource, pvcs, waitAllOnVersion } from './support/upgrade.ts';
import { assertNoClientLost, startListenerLoad } from './support/mqtt-load.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

describe('upgrades', () => {
  it('Enterprise 5.8.3 → 5.8.4, cores in place: real MQTT clients all back, no QoS 1 message lost, data and PVCs kept', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 3, replicants: 3 }));
    await waitReady(sb, ns);
    const load = await startListenerLoad(t, sb, ns, { subscribers: 30, rate: 20, selects: 'replicant' });
    const core0 = sb.emqx.fabric.nodeOfPod(`${ns}/emqx-core-0`)!.name;
    sb.emqx.fabric.retain(core0, 'sensors/1', 'before-upgrade');
    const pvcsBefore = await pvcs(sb, ns);
    assert.equal(pvcsBefore.length, 3);

    await patchEmqx(sb, ns, { spec: { image: 'emqx/emqx-enterprise:5.8.4' } });
    const e = await waitAllOnVersion(sb, ns, '5.8.4', Number(process.env.UPGRADE_TIMEOUT ?? 240_000));

    assert.equal(e.status!.coreNodes!.length, 3);
    assert.equal(e.status!.replicantNodes!.length, 3);
    await assertNoClientLost(t, load);
    assert.equal(sb.emqx.fabric.droppedConnectionsIn(ns), 0, 'no connection was cut by a node going away');
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

describe('upgrades, other strategies and editions', () => {
  it('blue-green cores: new cores join, old ones leave after the replicants moved; real clients all back, none lost; old PVCs reported', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(
      emqxResource(ns, {
        image: 'emqx/emqx-enterprise:5.8.3',
        cores: 3,
        replicants: 3,
        coreStrategy: 'BlueGreen',
      }),
    );
    await waitReady(sb, ns);
    const load = await startListenerLoad(t, sb, ns, { subscribers: 30, rate: 20, selects: 'replicant' });
    const anyCore = (await listPods(sb, ns, 'apps.emqx.io/db-role=core'))[0].metadata.name;
    sb.emqx.fabric.retain(sb.emqx.fabric.nodeOfPod(`${ns}/${anyCore}`)!.name, 'sensors/bg', 'kept');

    const oldSets = ((await sb.api.get(`/apis/apps/v1/namespaces/${ns}/statefulsets`)) as any).items.map(
      (s: any) => s.metadata.name,
    );

    await patchEmqx(sb, ns, { spec: { image: 'emqx/emqx-enterprise:5.8.4' } });
    const e = await waitAllOnVersion(sb, ns, '5.8.4', Number(process.env.UPGRADE_TIMEOUT ?? 240_000));

    assert.equal(e.status!.coreNodes!.length, 3, 'no old core lingers in the node list');
    assert.ok(e.status!.coreNodes!.every((n) => n.node_status === 'running'));
    await assertNoClientLost(t, load);
    assert.equal(await connectionsIn(sb, sb.emqx, ns), load.subscribers.length + 1);
    assert.equal(sb.emqx.fabric.droppedConnectionsIn(ns), 0);
    const newCore = (await listPods(sb, ns, 'apps.emqx.io/db-role=core'))[0].metadata.name;
    assert.ok(!oldSets.some((s: string) => newCore.startsWith(`${s}-`)), 'cores run in a new StatefulSet');
    assert.equal(
      sb.emqx.fabric.dbGet(sb.emqx.fabric.nodeOfPod(`${ns}/${newCore}`)!.name, 'retained', 'sensors/bg'),
      'kept',
    );
    const events = (await sb.api.get(`/apis/events.k8s.io/v1/namespaces/${ns}/events`)) as any;
    assert.ok(
      events.items.some((ev: any) => ev.reason === 'OldCoreDataRetained' && /PVCs .* are kept/.test(ev.note)),
      'an Event names the retained PVCs of the old cores',
    );
    const claims = await pvcs(sb, ns);
    assert.equal(claims.length, 6, 'old PVCs kept (Retain), new ones created');
  });

  it('Opensource 5.7.2 → 5.7.3: takeover wait instead of evacuation, every client back', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx:5.7.2', cores: 2, replicants: 2 }));
    await waitReady(sb, ns);
    const load = await startListenerLoad(t, sb, ns, { subscribers: 30, rate: 20, selects: 'replicant' });
    await patchEmqx(sb, ns, { spec: { image: 'emqx/emqx:5.7.3' } });
    await waitAllOnVersion(sb, ns, '5.7.3', Number(process.env.UPGRADE_TIMEOUT ?? 240_000));
    // EMQX Opensource has no evacuation: the sessions of a replaced node end with it (no durable sessions), so
    // its clients come back without their session and miss what was published meanwhile. Every client must still
    // be back; the losses are printed (a known limit of Opensource upgrades, not asserted away).
    const r = await assertNoClientLost(t, load, { allowSessionLoss: true });
    t.diagnostic(
      `Opensource: ${r.sessionsLost} session(s) and ${r.lost} message(s) lost with the replaced nodes`,
    );
    const events = (await sb.api.get(`/apis/events.k8s.io/v1/namespaces/${ns}/events`)) as any;
    assert.ok(
      events.items.some((ev: any) => ev.reason === 'NodeDraining'),
      'old replicants were drained by a takeover wait',
    );
    assert.ok(
      !events.items.some((ev: any) => ev.reason === 'NodeEvacuationStarted'),
      'no evacuation on Opensource',
    );
  });

  it('reverting the image mid-upgrade goes back without replacing every node twice', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 3, replicants: 2 }));
    await waitReady(sb, ns);
    const uidsBefore = new Map(
      (await listPods(sb, ns, 'apps.emqx.io/db-role=core')).map((p) => [p.metadata.name, p.metadata.uid]),
    );
    await patchEmqx(sb, ns, { spec: { image: 'emqx/emqx-enterprise:5.8.4' } });
    await sb.waitFor(
      'the first core on 5.8.4',
      async () => {
        const e = await getEmqx(sb, ns);
        return e?.status?.coreNodes?.some((n) => n.version === '5.8.4' && n.node_status === 'running');
      },
      120_000,
      200,
    );
    await patchEmqx(sb, ns, { spec: { image: 'emqx/emqx-enterprise:5.8.3' } });
    await waitAllOnVersion(sb, ns, '5.8.3', Number(process.env.UPGRADE_TIMEOUT ?? 240_000));
    const after = await listPods(sb, ns, 'apps.emqx.io/db-role=core');
    const kept = after.filter((p) => uidsBefore.get(p.metadata.name) === p.metadata.uid);
    assert.ok(kept.length >= 1, `cores never replaced: ${kept.map((p) => p.metadata.name).join(', ')}`);
  });
});

describe('upgrades of the smallest cluster, and revision history', () => {
  it('1 core + 1 replicant upgrades twice; only revisionHistoryLimit old ReplicaSets are kept', async (t) => {
    const ns = await sb.newNamespace(t);
    const resource = emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 1, replicants: 1 });
    resource.spec.revisionHistoryLimit = 1;
    await sb.apply(resource);
    await waitReady(sb, ns);
    for (const version of ['5.8.4', '5.8.5']) {
      await patchEmqx(sb, ns, { spec: { image: `emqx/emqx-enterprise:${version}` } });
      await waitAllOnVersion(sb, ns, version, Number(process.env.UPGRADE_TIMEOUT ?? 240_000));
    }
    const rs = await sb.waitFor(
      'old ReplicaSets pruned to revisionHistoryLimit',
      async () => {
        const list = ((await sb.api.get(`/apis/apps/v1/namespaces/${ns}/replicasets`)) as any).items;
        return list.length === 2 ? list : undefined;
      },
      30_000,
      500,
    );
    assert.deepEqual(
      rs.map((s: any) => s.spec.replicas).sort(),
      [0, 1],
      'the current ReplicaSet and one old one at zero',
    );
    const sts = ((await sb.api.get(`/apis/apps/v1/namespaces/${ns}/statefulsets`)) as any).items;
    assert.equal(sts.length, 1);
    assert.equal(sts[0].metadata.name, 'emqx-core');
  });
});
