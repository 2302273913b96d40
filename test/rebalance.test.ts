// Issue: the Rebalance resource — start, follow, complete; clear failures when the EMQX cluster cannot rebalance.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWebhookCertificates } from '../src/webhook/cert.ts';
import { useOperatorSandbox } from './support/operator.ts';
import { emqxCall, listPods, patchEmqx, waitReady } from './support/emqx.ts';
import { assertNoClientLost, startListenerLoad } from './support/mqtt-load.ts';
import { tlsSecret } from './support/tls.ts';
import { emqxResource } from './support/upgrade.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

function rebalance(ns: string, instanceName: string): Record<string, any> {
  return {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'Rebalance',
    metadata: { name: 'rb', namespace: ns },
    spec: {
      instanceName,
      rebalanceStrategy: {
        connEvictRate: 50,
        sessEvictRate: 50,
        waitTakeover: 2,
        waitHealthCheck: 1,
        absConnThreshold: 10,
        relConnThreshold: '1.1',
        absSessThreshold: 10,
        relSessThreshold: '1.1',
      },
    },
  };
}

async function getRebalance(ns: string): Promise<any> {
  return sb.api.get(`/apis/apps.emqx.io/v2beta1/namespaces/${ns}/rebalances/rb`);
}

/** The Rebalance `rb` once its status reaches `phase`. */
async function waitPhase(ns: string, phase: string, timeoutMs: number, intervalMs: number): Promise<any> {
  return sb.waitFor(
    `Rebalance ${phase}`,
    async () => {
      const x = await getRebalance(ns);
      return x.status?.phase === phase ? x : undefined;
    },
    timeoutMs,
    intervalMs,
  );
}

describe('Rebalance', () => {
  it('rebalances real MQTT clients after a replicant scale-up and completes; no client or message lost', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 2, replicants: 1 }));
    await waitReady(sb, ns);
    // every client lands on the only replicant; two more replicants then join with none
    const load = await startListenerLoad(t, sb, ns, { subscribers: 40, rate: 20, selects: 'replicant' });
    await patchEmqx(sb, ns, { spec: { replicantTemplate: { spec: { replicas: 3 } } } });
    await sb.waitFor(
      '3 replicants Ready',
      async () => (await waitReady(sb, ns)).status?.replicantNodes?.length === 3,
      120_000,
      500,
    );
    const repl = await listPods(sb, ns, 'apps.emqx.io/db-role=replicant');
    const fabric = sb.emqx.fabric;
    const nodes = repl.map((p) => fabric.nodeOfPod(`${ns}/${p.metadata.name}`)!.name);
    const before = nodes.map((n) => fabric.node(n)!.connections);
    assert.deepEqual(
      [...before].sort((a, b) => b - a),
      [41, 0, 0],
      `all clients on one replicant before: ${before.join(', ')}`,
    );
    await sb.apply(rebalance(ns, 'emqx'));
    const r = await waitPhase(ns, 'Completed', 120_000, 500);
    assert.ok(r.status.startedTime && r.status.completedTime);
    assert.ok(r.metadata.finalizers.includes('apps.emqx.io/finalizer'));
    await assertNoClientLost(t, load);
    const counts = nodes.map((n) => fabric.node(n)!.connections);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      41,
      'no client lost',
    );
    assert.ok(Math.max(...counts) < 41, `load moved off the busiest node: ${counts.join(', ')}`);
    await sb.api.delete(`/apis/apps.emqx.io/v2beta1/namespaces/${ns}/rebalances/rb`);
    await sb.waitFor('Rebalance deleted (finalizer removed)', async () => {
      try {
        await getRebalance(ns);
        return false;
      } catch {
        return true;
      }
    });
  });

  it('deleted while Processing: the rebalance is stopped on its coordinator before the finalizer goes', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx-enterprise:5.8.3', cores: 2, replicants: 3 }));
    await waitReady(sb, ns);
    const repl = await listPods(sb, ns, 'apps.emqx.io/db-role=replicant');
    const fabric = sb.emqx.fabric;
    const busiest = fabric.nodeOfPod(`${ns}/${repl[0].metadata.name}`)!.name;
    fabric.setClients(busiest, { connections: 3000 });
    const slow = rebalance(ns, 'emqx');
    slow.spec.rebalanceStrategy.connEvictRate = 1; // 3000 connections at 1/s: it cannot finish during the test
    slow.spec.rebalanceStrategy.waitHealthCheck = 1;
    await sb.apply(slow);
    const r = await waitPhase(ns, 'Processing', 60_000, 300);
    const coordinator = r.status.rebalanceStates[0].coordinator_node as string;
    const pod =
      repl.find((p) => fabric.nodeOfPod(`${ns}/${p.metadata.name}`)?.name === coordinator) ?? repl[0];
    const running = await emqxCall(sb, ns, pod.status.podIP, '/api/v5/load_rebalance/global_status');
    assert.equal(running.json.rebalances.length, 1, 'a rebalance runs in EMQX before the delete');
    await sb.api.delete(`/apis/apps.emqx.io/v2beta1/namespaces/${ns}/rebalances/rb`);
    await sb.waitFor(
      'Rebalance gone (finalizer removed)',
      async () => {
        try {
          await getRebalance(ns);
          return false;
        } catch {
          return true;
        }
      },
      60_000,
    );
    const events = (await sb.api.get(`/apis/events.k8s.io/v1/namespaces/${ns}/events`)) as any;
    assert.ok(
      events.items.some((ev: any) => ev.reason === 'RebalanceStopped' && ev.note.includes(coordinator)),
    );
    const status = await emqxCall(sb, ns, pod.status.podIP, '/api/v5/load_rebalance/global_status');
    assert.equal(status.status, 200);
    assert.deepEqual(status.json.rebalances, [], 'no rebalance left running in EMQX');
  });

  it('over an https-only dashboard signed by a private CA (spec.tls.dashboard)', async (t) => {
    const ns = await sb.newNamespace(t);
    const host = `*.emqx-headless.${ns}.svc.cluster.local`;
    const c = await createWebhookCertificates({ commonName: 'emqx-dashboard', hosts: [host] });
    await sb.apply(tlsSecret('dashboard-tls', c), ns);
    const emqx = emqxResource(ns, {
      image: 'emqx/emqx-enterprise:5.8.3',
      cores: 2,
      replicants: 2,
      config: 'dashboard.listeners { http.enable = false, https.bind = 18084 }',
    });
    emqx.spec.tls = { dashboard: { secretName: 'dashboard-tls' } };
    await sb.apply(emqx);
    await waitReady(sb, ns);
    const repl = await listPods(sb, ns, 'apps.emqx.io/db-role=replicant');
    const fabric = sb.emqx.fabric;
    fabric.setClients(fabric.nodeOfPod(`${ns}/${repl[0].metadata.name}`)!.name, { connections: 100 });
    await sb.apply(rebalance(ns, 'emqx'));
    const r = await sb.waitFor(
      'Rebalance Completed through the https dashboard',
      async () => {
        const x = await getRebalance(ns);
        if (x.status?.phase === 'Failed') throw new Error(`Rebalance failed: ${JSON.stringify(x.status)}`);
        return x.status?.phase === 'Completed' ? x : undefined;
      },
      120_000,
      500,
    );
    assert.ok(r.status.startedTime && r.status.completedTime);
  });

  it('fails with a clear condition on an Opensource cluster', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(emqxResource(ns, { image: 'emqx/emqx:5.7.2', cores: 1, replicants: 1 }));
    await waitReady(sb, ns);
    await sb.apply(rebalance(ns, 'emqx'));
    const r = await waitPhase(ns, 'Failed', 60_000, 500);
    const c = r.status.conditions.find((x: any) => x.type === 'Failed');
    assert.equal(c.reason, 'NotSupported');
    assert.match(c.message, /Opensource.*Enterprise/);
  });

  it('fails clearly when the EMQX resource does not exist', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(rebalance(ns, 'missing'));
    const r = await waitPhase(ns, 'Failed', 60_000, 500);
    assert.match(r.status.conditions[0].message, /EMQX "missing" not found/);
  });
});
