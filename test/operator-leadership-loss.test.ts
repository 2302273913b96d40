// End to end (issue 11, finding 2): a replica that loses its Lease must not linger as a healthy process that never
// campaigns again. The operator, unchanged, runs against the sandbox; the Lease is taken from it (as a successor
// would after an API-server outage longer than the lease): it stops reconciling, fails its liveness check and
// exits non-zero, so that Kubernetes restarts it and it campaigns afresh.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OPERATOR_NAMESPACE, startOperatorProcess, useOperatorSandbox } from './support/operator.ts';

const sb = useOperatorSandbox({ startOperator: false });

const microNow = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

describe('operator: leadership lost', () => {
  it('exits with code 1 (health server closed) instead of idling with /healthz 200', async (t) => {
    const op = startOperatorProcess(sb.sandbox, { name: 'operator-loses-lease', logLevel: 'debug' });
    t.after(() => op.stop());
    sb.operator = op;
    await sb.waitFor(
      'the operator to lead',
      () => op.logs().some((l) => l.msg === 'controllers started'),
      60_000,
    );
    const health = await sb.waitFor('its health address', () => op.healthUrl(), 30_000);
    assert.equal((await fetch(`${health}/healthz`)).status, 200);

    // Another candidate holds the Lease now, freshly renewed, for an hour. The operator renews every 2 s, so a
    // replace can lose the race (409 Conflict on resourceVersion): read and replace again until it lands.
    await sb.waitFor(
      'the Lease to be taken over by another candidate',
      async () => {
        const lease = JSON.parse(
          await sb.kubectl(['get', 'lease', 'emqx-operator-leader', '-n', OPERATOR_NAMESPACE, '-o', 'json']),
        );
        lease.spec = {
          ...lease.spec,
          holderIdentity: 'another-replica',
          leaseDurationSeconds: 3600,
          acquireTime: microNow(),
          renewTime: microNow(),
        };
        await sb.kubectl(['replace', '-f', '-'], JSON.stringify(lease)); // a conflict throws: try again
        return true;
      },
      30_000,
    );

    const code = await Promise.race([
      op.exited,
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), 60_000)),
    ]);
    assert.equal(code, 1, 'the process exits non-zero once it stopped leading');
    const logs = op.logs();
    assert.ok(logs.some((l) => l.msg === 'lost leadership: stopping'));
    await assert.rejects(
      fetch(`${health}/healthz`),
      'nothing answers 200 for a process that stopped working',
    );
  });
});
