// End to end: scaling an EMQX cluster with the operator running unchanged against the sandbox. Replicants
// 3 → 5 (through the scale subresource, as an HPA would) → 0 → 2, then cores 2 → 3; after every step the status
// follows: node lists from EMQX, the `cores`/`replicants` columns, `replicantReplicas` and the scale subresource.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EMQX } from '../src/api/types.ts';
import { useOperatorSandbox } from './support/operator.ts';
import { assertNodesMatchPods, example, listPods, patchEmqx, waitConverged } from './support/emqx.ts';
import type { TestSandbox } from './support/sandbox.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

const REPLICANT_SELECTOR =
  'apps.emqx.io/instance=emqx,apps.emqx.io/managed-by=emqx-operator,apps.emqx.io/db-role=replicant';

/** `kubectl get emqx emqx`: the row's STATUS, CORES and REPLICANTS columns. */
async function columns(
  s: TestSandbox,
  ns: string,
): Promise<{ status: string; cores: string; replicants: string }> {
  const [header, row] = (await s.kubectl(['get', 'emqx', 'emqx', '-n', ns])).trim().split('\n');
  assert.match(header!, /^NAME\s+STATUS\s+CORES\s+REPLICANTS\s+IMAGE\s+AGE/);
  const [, status, cores, replicants] = row!.trim().split(/\s+/);
  return { status: status!, cores: cores!, replicants: replicants! };
}

/** `kubectl get emqx emqx --subresource=scale`: what an HPA reads. */
async function scaleOf(
  s: TestSandbox,
  ns: string,
): Promise<{ spec: number; status: number; selector: string }> {
  const scale = JSON.parse(
    await s.kubectl(['get', 'emqx', 'emqx', '-n', ns, '--subresource=scale', '-o', 'json']),
  );
  assert.equal(scale.kind, 'Scale');
  assert.equal(scale.apiVersion, 'autoscaling/v1');
  // autoscaling/v1 Scale omits spec.replicas when it is 0 (omitempty); status.replicas is always there.
  return { spec: scale.spec.replicas ?? 0, status: scale.status.replicas, selector: scale.status.selector };
}

/** Everything that must hold once the cluster converged on `cores` + `replicants`. */
async function assertConverged(ns: string, e: EMQX, cores: number, replicants: number): Promise<void> {
  await assertNodesMatchPods(sb, ns, e);
  assert.equal(e.status!.replicantReplicas, replicants, 'status.replicantReplicas');
  assert.equal(e.status!.replicantSelector, REPLICANT_SELECTOR);
  assert.deepEqual(await columns(sb, ns), {
    status: 'Ready',
    cores: `${cores}/${cores}`,
    replicants: `${replicants}/${replicants}`,
  });
  assert.deepEqual(await scaleOf(sb, ns), {
    spec: replicants,
    status: replicants,
    selector: REPLICANT_SELECTOR,
  });
  // The scale selector selects exactly the replicant pods (what an HPA averages its metrics over).
  const selected = await listPods(sb, ns, REPLICANT_SELECTOR);
  assert.equal(selected.length, replicants, 'pods matched by the scale selector');
  const pods = await listPods(sb, ns);
  assert.equal(pods.filter((p) => p.metadata.labels['apps.emqx.io/db-role'] === 'core').length, cores);
  const sts = await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/statefulsets/emqx-core`);
  assert.equal(sts.spec.replicas, cores, 'core StatefulSet replicas');
  // Exactly one ReplicaSet keeps replicant pods (no revision churn from scaling).
  const rs = (await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/replicasets`)).items as any[];
  assert.equal(rs.length, 1, `one replicant ReplicaSet (${rs.map((r) => r.metadata.name).join(', ')})`);
  assert.equal(rs[0].spec.replicas, replicants, 'replicant ReplicaSet replicas');
  for (const n of [...e.status!.coreNodes!, ...(e.status!.replicantNodes ?? [])])
    assert.equal(n.node_status, 'running', n.name);
}

describe('operator: scaling', () => {
  it('replicants 3 → 5 (scale subresource) → 0 → 2 and cores 2 → 3 converge, the status following', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(example('core-replicant.yaml', ns));
    let e = await waitConverged(sb, ns, { cores: 2, replicants: 3 });
    await assertConverged(ns, e, 2, 3);
    const coreUids = new Set(
      (await listPods(sb, ns, 'apps.emqx.io/db-role=core')).map((p) => p.metadata.uid),
    );

    // 3 → 5 through the scale subresource, as `kubectl scale` and an HPA do it.
    const out = await sb.kubectl(['scale', 'emqx', 'emqx', '-n', ns, '--replicas=5']);
    assert.match(out, /scaled/);
    assert.equal(
      (await scaleOf(sb, ns)).spec,
      5,
      'the scale subresource writes spec.replicantTemplate.spec.replicas',
    );
    e = await waitConverged(sb, ns, { cores: 2, replicants: 5 });
    assert.equal(e.spec.replicantTemplate?.spec?.replicas, 5);
    await assertConverged(ns, e, 2, 5);

    // 5 → 0: every replicant leaves; MQTT traffic falls back to the cores.
    await patchEmqx(sb, ns, { spec: { replicantTemplate: { spec: { replicas: 0 } } } });
    e = await waitConverged(sb, ns, { cores: 2, replicants: 0 });
    await assertConverged(ns, e, 2, 0);
    assert.equal(e.status!.replicantNodes, undefined, 'no replicants: the list is absent, not []');
    const left = sb.emqx.fabric.nodes().filter((n) => n.pod.startsWith(`${ns}/`) && n.role === 'replicant');
    assert.deepEqual(
      left.map((n) => n.name),
      [],
      'no replicant node left in the emulator',
    );
    await sb.waitFor(
      'the listeners Service to select cores while no replicant runs',
      async () => {
        const svc = await sb.api.get<any>(`/api/v1/namespaces/${ns}/services/emqx-listeners`);
        return svc.spec.selector['apps.emqx.io/db-role'] === 'core';
      },
      30_000,
    );

    // 0 → 2.
    await patchEmqx(sb, ns, { spec: { replicantTemplate: { spec: { replicas: 2 } } } });
    e = await waitConverged(sb, ns, { cores: 2, replicants: 2 });
    await assertConverged(ns, e, 2, 2);
    await sb.waitFor(
      'the listeners Service to select replicants again',
      async () => {
        const svc = await sb.api.get<any>(`/api/v1/namespaces/${ns}/services/emqx-listeners`);
        return svc.spec.selector['apps.emqx.io/db-role'] === 'replicant';
      },
      30_000,
    );

    // Cores 2 → 3: the new core joins the same cluster; the existing cores are not replaced.
    await patchEmqx(sb, ns, { spec: { coreTemplate: { spec: { replicas: 3 } } } });
    e = await waitConverged(sb, ns, { cores: 3, replicants: 2 });
    await assertConverged(ns, e, 3, 2);
    const cores = await listPods(sb, ns, 'apps.emqx.io/db-role=core');
    assert.deepEqual(cores.map((p) => p.metadata.name).sort(), ['emqx-core-0', 'emqx-core-1', 'emqx-core-2']);
    for (const uid of coreUids)
      assert.ok(
        cores.some((p) => p.metadata.uid === uid),
        `existing core pod ${uid} kept through the scale-up`,
      );
    const newCore = sb.emqx.fabric.nodeOfPod(`${ns}/emqx-core-2`);
    assert.ok(newCore, 'emqx-core-2 runs an EMQX node');
    assert.equal(newCore.status, 'running');
    // One cluster: every node of the namespace sees the new core.
    for (const n of [...e.status!.coreNodes!, ...e.status!.replicantNodes!]) {
      const view = sb.emqx.fabric.node(n.name);
      assert.ok(view?.cluster.includes(newCore.name), `${n.name} sees ${newCore.name} (${view?.cluster})`);
    }
  });
});
