// Issue: crash safety — every step of an upgrade is recorded in the cluster (pod revisions, EMQX evacuation state,
// pod annotations, the status), so an operator killed at any moment resumes where it was. The operator is killed
// with SIGKILL (no clean-up) at five points of one upgrade, and a new one is started each time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EMQX } from '../src/api/types.ts';
import { startOperatorProcess, useOperatorSandbox } from './support/operator.ts';
import { getEmqx, listPods, patchEmqx, waitReady } from './support/emqx.ts';
import { connectionsIn, emqxResource, loadEveryNode, pvcs, waitAllOnVersion } from './support/upgrade.ts';
import { assertNoClientLost, MqttLoad, serviceHost } from './support/mqtt-load.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

interface KillPoint {
  name: string;
  reached(e: EMQX | undefined, ns: string): boolean | Promise<boolean>;
}

describe('crash safety', () => {
  it('the operator killed at five points of an upgrade converges to the same end state', async (t) => {
    const ns = await sb.newNamespace(t);
    const resource = emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 3, replicants: 3 });
    // Slow evacuations (10 connections per second) so the kills can land in the middle of one.
    resource.spec.updateStrategy.evacuationStrategy.connEvictRate = 10;
    resource.spec.updateStrategy.evacuationStrategy.sessEvictRate = 10;
    await sb.apply(resource);
    await waitReady(sb, ns);
    const fabric = sb.emqx.fabric;
    await sb.waitFor(
      'the listeners Service selects the replicants',
      async () =>
        ((await sb.api.get(`/api/v1/namespaces/${ns}/services/emqx-listeners`)) as any).spec?.selector?.[
          'apps.emqx.io/db-role'
        ] === 'replicant',
      30_000,
    );
    // Real MQTT clients through the listeners Service, plus counted clients on every node (cores included) that
    // keep each evacuation long enough for the kills to land in the middle of one.
    const load = new MqttLoad({
      host: await serviceHost(sb.api, ns, 'emqx-listeners'),
      subscribers: 30,
      rate: 20,
      prefix: ns,
    });
    t.after(() => load.stop());
    await load.start();
    const real = load.subscribers.length + 1;
    const total = (await loadEveryNode(sb, sb.emqx, ns, 60)) + real;
    fabric.retain(fabric.nodeOfPod(`${ns}/emqx-core-1`)!.name, 'crash/test', 'kept');
    const pvcsBefore = await pvcs(sb, ns);

    const evacuating = (role: string) =>
      fabric
        .nodes()
        .some((n) => n.pod?.startsWith(`${ns}/`) && n.role === role && n.evacuation !== undefined);

    const points: KillPoint[] = [
      { name: 'right after the spec changed', reached: () => true },
      { name: 'during a core evacuation', reached: () => evacuating('core') },
      {
        // A core already runs the new version while another still runs the old one.
        name: 'during the core roll, between two cores',
        reached: (e) => {
          const cores = (e?.status?.coreNodes ?? []).filter((n) => n.node_status === 'running');
          return cores.some((n) => n.version === '5.8.4') && cores.some((n) => n.version === '5.8.3');
        },
      },
      {
        name: 'between roles (new replicants starting)',
        reached: (e) => e?.status?.update?.phase === 'UpdatingReplicants',
      },
      { name: 'during a replicant evacuation', reached: () => evacuating('replicant') },
    ];

    await patchEmqx(sb, ns, { spec: { image: 'emqx/emqx-enterprise:5.8.4' } });
    const hit: string[] = [];
    for (const point of points) {
      await sb.waitFor(
        `kill point "${point.name}"`,
        async () => point.reached(await getEmqx(sb, ns), ns),
        120_000,
        50,
      );
      await sb.operator.kill();
      hit.push(point.name);
      sb.operator = startOperatorProcess(sb.sandbox, {
        name: `operator-after-kill-${hit.length}`,
        logLevel: 'debug',
      });
    }
    assert.equal(hit.length, 5);

    const e = await waitAllOnVersion(sb, ns, '5.8.4', 240_000);
    assert.equal(e.status!.coreNodes!.length, 3);
    assert.equal(e.status!.replicantNodes!.length, 3);
    assert.ok(
      [...e.status!.coreNodes!, ...e.status!.replicantNodes!].every((n) => n.node_status === 'running'),
    );
    await assertNoClientLost(t, load);
    assert.equal(await connectionsIn(sb, sb.emqx, ns), total, 'no client lost');
    assert.equal(fabric.droppedConnectionsIn(ns), 0, 'no connection dropped');
    assert.equal(fabric.dbGet(fabric.nodeOfPod(`${ns}/emqx-core-0`)!.name, 'retained', 'crash/test'), 'kept');
    assert.deepEqual(await pvcs(sb, ns), pvcsBefore);
    const sets = ((await sb.api.get(`/apis/apps/v1/namespaces/${ns}/replicasets`)) as any).items;
    assert.equal(sets.filter((s: any) => s.spec.replicas > 0).length, 1, 'one ReplicaSet serves');
    const sts = ((await sb.api.get(`/apis/apps/v1/namespaces/${ns}/statefulsets`)) as any).items;
    assert.equal(sts.length, 1);
    assert.equal((await listPods(sb, ns)).length, 6);
    assert.ok(!(await listPods(sb, ns)).some((p) => p.metadata.annotations?.['apps.emqx.io/draining']));
  });
});
