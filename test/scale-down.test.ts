// Issue: safe core scale-down — one node at a time, clients evacuated, the node leaves the cluster (no `stopped`
// node lingers), data intact; a scale-down to zero cores is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useOperatorSandbox } from './support/operator.ts';
import { emqxCall, getEmqx, listPods, patchEmqx, waitConverged, waitReady } from './support/emqx.ts';
import { emqxResource, pvcs } from './support/upgrade.ts';
import { assertNoClientLost, startListenerLoad } from './support/mqtt-load.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

describe('core scale-down', () => {
  it('3 → 1 cores: real MQTT clients evacuated, none lost; left the cluster, no stopped node, data and PVCs intact', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 3 }));
    await waitReady(sb, ns);
    const fabric = sb.emqx.fabric;
    const load = await startListenerLoad(t, sb, ns, { subscribers: 30, rate: 20 });
    for (const i of [0, 1, 2]) {
      const n = fabric.node(fabric.nodeOfPod(`${ns}/emqx-core-${i}`)!.name)!;
      assert.ok(n.connections > 0, `clients on core-${i} before the scale-down (${n.connections})`);
    }
    fabric.retain(fabric.nodeOfPod(`${ns}/emqx-core-2`)!.name, 'plant/7', 'kept');

    await patchEmqx(sb, ns, { spec: { coreTemplate: { spec: { replicas: 1 } } } });
    const e = await sb.waitFor(
      'one core left and Ready',
      async () => {
        const x = await waitReady(sb, ns);
        return x.status?.coreNodes?.length === 1 ? x : undefined;
      },
      120_000,
      500,
    );
    const pods = await listPods(sb, ns);
    assert.deepEqual(
      pods.map((p) => p.metadata.name),
      ['emqx-core-0'],
    );
    const nodes = await emqxCall(sb, ns, pods[0].status.podIP, '/api/v5/nodes');
    assert.equal(nodes.status, 200);
    assert.deepEqual(
      nodes.json.map((n: any) => [n.node, n.node_status]),
      [[`emqx@emqx-core-0.emqx-headless.${ns}.svc.cluster.local`, 'running']],
      'no stopped node in /api/v5/nodes',
    );
    assert.equal(e.status!.coreNodes![0]!.node_status, 'running');
    await assertNoClientLost(t, load);
    assert.equal(
      fabric.node(fabric.nodeOfPod(`${ns}/emqx-core-0`)!.name)!.connections,
      31,
      'all on the remaining core',
    );
    assert.equal(fabric.droppedConnectionsIn(ns), 0, 'no connection dropped');
    assert.equal(fabric.dbGet(fabric.nodeOfPod(`${ns}/emqx-core-0`)!.name, 'retained', 'plant/7'), 'kept');
    assert.equal((await pvcs(sb, ns)).length, 3, 'PVCs retained by default (whenScaled: Retain)');
    const events = (await sb.api.get(`/apis/events.k8s.io/v1/namespaces/${ns}/events`)) as any;
    assert.equal(events.items.filter((ev: any) => ev.reason === 'NodeLeftCluster').length, 2);
  });

  it('a scale-down to zero cores is refused at admission, naming the field, and nothing changes', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 1 }));
    const before = await waitReady(sb, ns);
    await assert.rejects(
      sb.kubectl([
        'patch',
        'emqx',
        'emqx',
        '-n',
        ns,
        '--type=merge',
        '-p',
        '{"spec":{"coreTemplate":{"spec":{"replicas":0}}}}',
      ]),
      /spec\.coreTemplate\.spec\.replicas.*(greater than or equal to 1|>= 1)/,
    );
    const after = await getEmqx(sb, ns);
    assert.equal(after?.metadata.generation, before.metadata.generation);
    assert.equal((await listPods(sb, ns)).length, 1);
  });

  it('a core scaled away by hand without leaving (a stopped member) is removed from the cluster once its set no longer runs it; its PVC stays', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 2 }));
    await waitReady(sb, ns);
    const stopped = `emqx@emqx-core-1.emqx-headless.${ns}.svc.cluster.local`;
    // Held back, the StatefulSet is scaled by hand (no preStop hook: the node does not leave), then the spec follows.
    await sb.kubectl(['annotate', 'emqx', 'emqx', '-n', ns, 'apps.emqx.io/reconcile-paused=true']);
    await sb.kubectl(['scale', 'statefulset', 'emqx-core', '-n', ns, '--replicas=1']);
    const core0 = async () => (await listPods(sb, ns)).find((p) => p.metadata.name === 'emqx-core-0')!;
    await sb.waitFor(
      'emqx-core-1 gone and listed as a stopped member',
      async () => {
        const pods = await listPods(sb, ns);
        if (pods.some((p) => p.metadata.name === 'emqx-core-1')) return undefined;
        const nodes = await emqxCall(sb, ns, (await core0()).status.podIP, '/api/v5/nodes');
        return nodes.json?.some((n: any) => n.node === stopped && n.node_status === 'stopped');
      },
      60_000,
    );
    await patchEmqx(sb, ns, { spec: { coreTemplate: { spec: { replicas: 1 } } } });
    await sb.kubectl(['annotate', 'emqx', 'emqx', '-n', ns, 'apps.emqx.io/reconcile-paused-']);
    // the stopped member removed: one core listed, running
    await waitConverged(sb, ns, { cores: 1, replicants: 0 }, 60_000);
    const nodes = await emqxCall(sb, ns, (await core0()).status.podIP, '/api/v5/nodes');
    assert.deepEqual(
      nodes.json.map((n: any) => n.node),
      [`emqx@emqx-core-0.emqx-headless.${ns}.svc.cluster.local`],
    );
    const events = (await sb.api.get(`/apis/events.k8s.io/v1/namespaces/${ns}/events`)) as any;
    assert.ok(
      events.items.some((ev: any) => ev.reason === 'RetiredCoreRemoved' && ev.note.includes(stopped)),
      'an Event names the removed member',
    );
    assert.equal((await pvcs(sb, ns)).length, 2, 'its PVC is kept');
  });
});
