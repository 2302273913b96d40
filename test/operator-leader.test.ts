// End to end: two operator processes, unchanged, against the sandbox. Only the Lease holder writes; the standby
// reads (and renews nothing) while the leader scales a cluster; when the leader is killed with SIGKILL the standby
// takes the Lease and reconciles a change made after the kill.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  OPERATOR_NAMESPACE,
  counterDelta,
  kubeWrites,
  readMetrics,
  startOperatorProcess,
  useOperatorSandbox,
  type OperatorProcess,
} from './support/operator.ts';
import { assertNodesMatchPods, example, patchEmqx, waitConverged } from './support/emqx.ts';
import type { TestSandbox } from './support/sandbox.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

async function leaseHolder(s: TestSandbox): Promise<string | undefined> {
  const lease = JSON.parse(
    await s.kubectl(['get', 'lease', 'emqx-operator-leader', '-n', OPERATOR_NAMESPACE, '-o', 'json']),
  );
  return lease.spec?.holderIdentity;
}

async function gauge(op: OperatorProcess, name: string): Promise<number | undefined> {
  return (await readMetrics(op)).find((m) => m.name === name)?.value;
}

/** Writes other than Lease (leader election); the standby must have none. */
function nonLease(writes: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(writes).filter(([k]) => !k.endsWith('/Lease')));
}

describe('operator: two replicas with leader election', () => {
  it('only the leader writes; SIGKILL on the leader hands over to the standby, which reconciles', async (t) => {
    const leader = sb.operator;
    await sb.waitFor(
      'the first operator to hold the Lease',
      async () => (await leaseHolder(sb)) === leader.name,
    );
    const standby = startOperatorProcess(sb.sandbox, { name: 'operator-standby', logLevel: 'debug' });
    t.after(() => standby.stop());
    await sb.waitFor('the standby to serve its metrics', () => standby.healthUrl() !== undefined, 30_000);
    await sb.waitFor(
      'the standby to see the leader',
      () => standby.logs().some((l) => l.msg === 'new leader observed' && l.leader === leader.name),
      30_000,
    );
    assert.equal(await gauge(standby, 'emqx_operator_leading'), 0);
    assert.equal(await gauge(leader, 'emqx_operator_leading'), 1);
    // prom-client's process and runtime metrics, on every replica
    for (const op of [leader, standby]) {
      assert.ok(
        (await gauge(op, 'process_resident_memory_bytes'))! > 10 * 2 ** 20,
        `${op.name} reports its RSS`,
      );
      assert.ok((await gauge(op, 'nodejs_heap_size_used_bytes'))! > 0, `${op.name} reports its heap`);
      assert.ok((await gauge(op, 'nodejs_eventloop_lag_seconds'))! >= 0, `${op.name} reports event-loop lag`);
    }
    // At start every replica reads the shared webhook certificate Secret, which the leader created: the standby
    // writes nothing but its Lease attempts, at start and from here on.
    const standby0 = await kubeWrites(standby);
    assert.deepEqual(nonLease(standby0), {}, JSON.stringify(standby0));

    // The leader creates and scales a cluster; the standby writes nothing meanwhile.
    const ns = await sb.newNamespace(t);
    const leader0 = await kubeWrites(leader);
    await sb.apply(example('core-replicant.yaml', ns));
    await waitConverged(sb, ns, { cores: 2, replicants: 3 });
    await patchEmqx(sb, ns, { spec: { replicantTemplate: { spec: { replicas: 5 } } } });
    await waitConverged(sb, ns, { cores: 2, replicants: 5 });
    const leaderWrites = counterDelta(leader0, await kubeWrites(leader));
    for (const kind of ['StatefulSet', 'ReplicaSet', 'Service', 'ConfigMap', 'Secret', 'EMQX'])
      assert.ok(
        Object.keys(leaderWrites).some((k) => k.endsWith(`/${kind}`)),
        `the leader wrote ${kind}s: ${JSON.stringify(leaderWrites)}`,
      );
    const standbyWrites = counterDelta(standby0, await kubeWrites(standby));
    assert.deepEqual(nonLease(standbyWrites), {}, `the standby wrote: ${JSON.stringify(standbyWrites)}`);
    assert.equal(await leaseHolder(sb), leader.name);

    // SIGKILL: no release of the Lease; the standby takes it once it expires (15 s), then acts on a change made
    // after the kill.
    await leader.kill();
    await patchEmqx(sb, ns, { spec: { replicantTemplate: { spec: { replicas: 2 } } } });
    await sb.waitFor(
      'the standby to hold the Lease',
      async () => (await leaseHolder(sb)) === standby.name,
      40_000,
    );
    sb.operator = standby;
    const e = await waitConverged(sb, ns, { cores: 2, replicants: 2 }, 90_000);
    await assertNodesMatchPods(sb, ns, e);
    assert.equal(await gauge(standby, 'emqx_operator_leading'), 1);
    const after = counterDelta(standby0, await kubeWrites(standby));
    assert.ok(
      Object.keys(after).some((k) => k.endsWith('/ReplicaSet')),
      `the new leader scaled the ReplicaSet: ${JSON.stringify(after)}`,
    );
    assert.ok(after['update/Lease']! > 0, 'the new leader took and renews the Lease');
    const lease = JSON.parse(
      await sb.kubectl(['get', 'lease', 'emqx-operator-leader', '-n', OPERATOR_NAMESPACE, '-o', 'json']),
    );
    assert.ok(
      lease.spec.leaseTransitions >= 1,
      `a leader transition is recorded: ${JSON.stringify(lease.spec)}`,
    );
  });
});
