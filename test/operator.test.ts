// End to end: the operator (a child process, restricted RBAC) against the sandbox's real API server with emulated
// EMQX nodes. Issue: reconcile EMQX clusters with live config, listeners and a truthful status.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useOperatorSandbox } from './support/operator.ts';
import { condition, example, getEmqx, listPods, waitReady } from './support/emqx.ts';
import { FIELD_MANAGER } from '../src/api/names.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

describe('operator: a core + replicant cluster (seed 004)', () => {
  it('reaches Ready with every node listed from EMQX itself', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(example('core-replicant.yaml', ns));
    const e = await waitReady(sb, ns);
    const pods = await listPods(sb, ns);
    const cores = pods.filter((p) => p.metadata.labels['apps.emqx.io/db-role'] === 'core');
    const repls = pods.filter((p) => p.metadata.labels['apps.emqx.io/db-role'] === 'replicant');
    assert.equal(cores.length, 2);
    assert.equal(repls.length, 3);
    assert.deepEqual(
      e.status!.coreNodes!.map((n) => n.name).sort(),
      cores.map((p) => `emqx@${p.metadata.name}.emqx-headless.${ns}.svc.cluster.local`).sort(),
    );
    assert.deepEqual(
      e.status!.replicantNodes!.map((n) => n.name).sort(),
      repls.map((p) => `emqx@${p.status.podIP}`).sort(),
    );
    for (const n of [...e.status!.coreNodes!, ...e.status!.replicantNodes!]) {
      assert.equal(n.node_status, 'running', n.name);
      assert.equal(n.version, '6.0.1', n.name);
      assert.match(n.otp_release ?? '', /^\d+/);
      assert.ok(n.podName, `${n.name} matched to a pod`);
    }
    assert.equal(e.status!.coreNodes![0]!.role, 'core');
    assert.equal(e.status!.replicantNodes![0]!.role, 'replicant');
    assert.equal(e.status!.cores, '2/2');
    assert.equal(e.status!.replicants, '3/3');
    assert.equal(condition(e, 'ConfigApplied'), 'True');

    const table = await sb.kubectl(['get', 'emqx', 'emqx', '-n', ns]);
    const [header, row] = table.trim().split('\n');
    assert.match(header!, /^NAME\s+STATUS\s+CORES\s+REPLICANTS\s+IMAGE\s+AGE/);
    assert.match(row!, /^emqx\s+Ready\s+2\/2\s+3\/3\s+emqx\/emqx:6\.0\.1\s+\d+s/);

    // Dashboard traffic goes to cores, MQTT to replicants.
    const svc = (name: string) => sb.api.get<any>(`/api/v1/namespaces/${ns}/services/${name}`);
    const dashboard = await svc('emqx-dashboard');
    assert.equal(dashboard.spec.type, 'LoadBalancer');
    assert.equal(dashboard.spec.selector['apps.emqx.io/db-role'], 'core');
    const listeners = await svc('emqx-listeners');
    assert.equal(listeners.spec.selector['apps.emqx.io/db-role'], 'replicant');
    assert.deepEqual(listeners.spec.ports.map((p: any) => p.port).sort(), [1883, 8083, 8084, 8883]);
  });
});

describe('operator: pausing reconciliation', () => {
  it('apps.emqx.io/reconcile-paused: "true" stops every change and shows Paused; removing it resumes', async (t) => {
    const ns = await sb.newNamespace(t);
    const resource = example('minimal.yaml', ns);
    await sb.apply(resource);
    await waitReady(sb, ns, resource.metadata.name);
    const name = resource.metadata.name as string;
    const stsBefore = (await sb.api.get(`/apis/apps/v1/namespaces/${ns}/statefulsets`)) as any;
    const replicas = stsBefore.items[0].spec.replicas as number;
    await sb.kubectl(['annotate', 'emqx', name, '-n', ns, 'apps.emqx.io/reconcile-paused=true']);
    await sb.kubectl([
      'patch',
      'emqx',
      name,
      '-n',
      ns,
      '--type=merge',
      '-p',
      `{"spec":{"coreTemplate":{"spec":{"replicas":${replicas + 1}}}}}`,
    ]);
    const paused = await sb.waitFor('phase Paused', async () => {
      const e = await getEmqx(sb, ns, name);
      return e?.status?.phase === 'Paused' ? e : undefined;
    });
    assert.equal(condition(paused, 'Paused'), 'True');
    await new Promise((r) => setTimeout(r, 3000));
    const stsPaused = (await sb.api.get(`/apis/apps/v1/namespaces/${ns}/statefulsets`)) as any;
    assert.equal(stsPaused.items[0].spec.replicas, replicas, 'no change while paused');
    // The spec is unchanged and the operator wrote nothing to it: kube-controller-manager may still write the
    // StatefulSet's status after Ready (a new resourceVersion), which is not a change of the operator's.
    assert.equal(stsPaused.items[0].metadata.generation, stsBefore.items[0].metadata.generation);
    const operatorEntry = (sts: any) =>
      JSON.stringify(sts.metadata.managedFields.filter((m: any) => m.manager === FIELD_MANAGER));
    assert.notEqual(operatorEntry(stsBefore.items[0]), '[]', 'the operator applied the StatefulSet');
    assert.equal(
      operatorEntry(stsPaused.items[0]),
      operatorEntry(stsBefore.items[0]),
      'no write of the operator',
    );
    await sb.kubectl(['annotate', 'emqx', name, '-n', ns, 'apps.emqx.io/reconcile-paused-']);
    const e = await sb.waitFor(
      'resumed and scaled',
      async () => {
        const x = await waitReady(sb, ns, name);
        return x.status?.coreNodes?.length === replicas + 1 ? x : undefined;
      },
      120_000,
      500,
    );
    assert.equal(condition(e, 'Paused'), 'False');
  });
});
