// Leader election against a local fake Lease endpoint that behaves like the API server where it matters:
// optimistic concurrency on resourceVersion (409), 409 on a second create, and MicroTime validation (exactly 6
// fractional digits, else 400). (Against a real kube-apiserver: test/runtime.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { serveLocalApi } from '../../test/support/local-api.ts';
import { waitFor } from '../../test/support/wait-for.ts';
import { LeaderElector, defaultIdentity, microTime, parseMicroTime, type Lease } from './leader.ts';
import { KubeClient } from './rest.ts';

const MICRO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

async function fakeLeaseServer() {
  const state = {
    lease: undefined as Lease | undefined,
    rv: 0,
    badTimes: 0,
    puts: 0,
    down: false,
    refused: 0,
  };
  const path = '/apis/coordination.k8s.io/v1/namespaces/ns/leases';
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      };
      if (state.down) state.refused++;
      if (state.down) return send(503, { kind: 'Status', code: 503, reason: 'ServiceUnavailable' });
      const body = raw ? (JSON.parse(raw) as Lease) : undefined;
      for (const t of [body?.spec?.renewTime, body?.spec?.acquireTime]) {
        if (t !== undefined && !MICRO.test(t)) {
          state.badTimes++;
          return send(400, { kind: 'Status', code: 400, message: `cannot parse "${t}" as ".000000"` });
        }
      }
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname === `${path}/lock`) {
        return state.lease
          ? send(200, state.lease)
          : send(404, { kind: 'Status', code: 404, reason: 'NotFound' });
      }
      if (req.method === 'POST' && url.pathname === path) {
        if (state.lease) return send(409, { kind: 'Status', code: 409, reason: 'AlreadyExists' });
        state.lease = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(++state.rv) } };
        return send(201, state.lease);
      }
      if (req.method === 'PUT' && url.pathname === `${path}/lock`) {
        state.puts++;
        if (!state.lease || body?.metadata?.resourceVersion !== state.lease.metadata?.resourceVersion) {
          return send(409, { kind: 'Status', code: 409, reason: 'Conflict' });
        }
        state.lease = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(++state.rv) } };
        return send(200, state.lease);
      }
      send(404, {});
    });
  });
  const kc = await serveLocalApi(server);
  return { client: new KubeClient(kc), state };
}

const fast = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };

test('microTime has exactly 6 fractional digits; parseMicroTime is lenient', () => {
  const d = new Date('2024-05-01T10:00:00.123Z');
  assert.equal(microTime(d), '2024-05-01T10:00:00.123000Z');
  assert.match(microTime(), MICRO);
  assert.equal(parseMicroTime('2024-05-01T10:00:00.123456Z'), d.getTime());
  assert.equal(parseMicroTime('2024-05-01T10:00:00.123Z'), d.getTime());
  assert.equal(parseMicroTime('2024-05-01T10:00:00Z'), d.getTime() - 123);
  assert.equal(parseMicroTime('2024-05-01T12:00:00.123+02:00'), d.getTime());
  assert.equal(parseMicroTime('yesterday'), undefined);
});

test(
  'one of two candidates leads; stop() releases and the other takes over at once',
  { timeout: 20_000 },
  async () => {
    const { client, state } = await fakeLeaseServer();
    const events: string[] = [];
    const mk = (id: string) =>
      new LeaderElector(client, {
        namespace: 'ns',
        name: 'lock',
        identity: id,
        ...fast,
        // Far longer than the test may run: b can only lead because a released the lease, never because it
        // expired, however slow the machine (no wall-clock assertion needed).
        leaseDurationMs: 600_000,
        renewDeadlineMs: 300_000,
        onStartedLeading: () => void events.push(`${id} started`),
        onStoppedLeading: () => void events.push(`${id} stopped`),
      });
    const a = mk('a');
    const b = mk('b');
    void a.run();
    await waitFor('a leads', () => a.isLeader());
    void b.run();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(b.isLeader(), false, 'b must not take a valid lease');
    assert.equal(b.leader, 'a');
    const putsBefore = state.puts;
    await waitFor('the leader renews', () => state.puts > putsBefore);
    assert.equal(state.lease?.spec?.holderIdentity, 'a');

    await a.stop();
    assert.equal(state.lease?.spec?.holderIdentity, '', 'released on stop');
    await waitFor('b leads (the lease would expire only after 600 s)', () => b.isLeader(), 15_000);
    assert.equal(state.lease?.spec?.holderIdentity, 'b');
    assert.equal(state.lease?.spec?.leaseTransitions, 1);
    assert.deepEqual(events, ['a started', 'a stopped', 'b started']);
    assert.equal(state.badTimes, 0, 'every time sent had 6 fractional digits');
    await b.stop();
  },
);

test(
  'a crashed leader (no release) is replaced only after the lease expired',
  { timeout: 20_000 },
  async () => {
    const { client, state } = await fakeLeaseServer();
    const a = new LeaderElector(client, {
      namespace: 'ns',
      name: 'lock',
      identity: 'a',
      ...fast,
      releaseOnStop: false,
    });
    void a.run();
    await waitFor('a leads', () => a.isLeader());
    await a.stop(); // crash: no release
    const renewed = parseMicroTime(state.lease?.spec?.renewTime)!;
    const b = new LeaderElector(client, { namespace: 'ns', name: 'lock', identity: 'b', ...fast });
    void b.run();
    await waitFor('b leads', () => b.isLeader(), 15_000);
    const acquired = parseMicroTime(state.lease?.spec?.acquireTime)!;
    assert.ok(
      acquired - renewed >= fast.leaseDurationMs,
      `took over ${acquired - renewed} ms after the last renewal`,
    );
    await b.stop();
  },
);

test(
  'the leader gives up after the renew deadline when the API server is unreachable',
  { timeout: 20_000 },
  async () => {
    const { client, state } = await fakeLeaseServer();
    // The elector's own clock, moved by the test: the deadline is checked against it, so the check below does
    // not depend on how fast this machine runs the retries.
    let now = Date.now();
    let stopped = false;
    const a = new LeaderElector(client, {
      namespace: 'ns',
      name: 'lock',
      identity: 'a',
      ...fast,
      now: () => now,
      onStoppedLeading: () => (stopped = true),
    });
    const run = a.run();
    await waitFor('a leads', () => a.isLeader());
    state.down = true;
    await waitFor('three failed renewals', () => state.refused >= 3);
    now += fast.renewDeadlineMs - 1;
    const refused = state.refused;
    await waitFor('three more failed renewals', () => state.refused >= refused + 3);
    assert.equal(a.isLeader(), true, 'still leading: the renew deadline has not passed on its clock');
    assert.equal(stopped, false);
    now += 1;
    await run; // run() ends when leadership is lost
    assert.equal(a.isLeader(), false);
    assert.equal(stopped, true);
  },
);

test('two candidates racing for a missing lease: exactly one wins', { timeout: 20_000 }, async () => {
  const { client, state } = await fakeLeaseServer();
  const cands = ['a', 'b', 'c'].map(
    (id) => new LeaderElector(client, { namespace: 'ns', name: 'lock', identity: id, ...fast }),
  );
  cands.forEach((c) => void c.run());
  await waitFor('a leader', () => cands.some((c) => c.isLeader()));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(cands.filter((c) => c.isLeader()).length, 1);
  const leader = cands.find((c) => c.isLeader())!;
  assert.equal(state.lease?.spec?.holderIdentity, leader.leader);
  await Promise.all(cands.map((c) => c.stop()));
});

test('defaultIdentity is unique per process and names the pod', () => {
  const a = defaultIdentity({ POD_NAME: 'emqx-operator-7d9f' });
  assert.match(a, /^emqx-operator-7d9f_[0-9a-f-]{36}$/);
  assert.notEqual(a, defaultIdentity({ POD_NAME: 'emqx-operator-7d9f' }));
});

test('options are validated', async () => {
  const { client } = await fakeLeaseServer();
  assert.throws(
    () =>
      new LeaderElector(client, {
        namespace: 'ns',
        name: 'l',
        identity: 'x',
        leaseDurationMs: 5,
        renewDeadlineMs: 10,
      }),
    /leaseDuration must be greater/,
  );
});
