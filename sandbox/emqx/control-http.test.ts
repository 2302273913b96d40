// The test-only control API over HTTP: load, cluster DB, faults and time, driven from "another process".
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startControlServer } from './control-http.ts';
import type { ControlServer } from './control-http.ts';
import { HEADLESS, Testbed, api, runningNames, waitFor } from './testkit.ts';
import type { StartedNode } from './testkit.ts';

const T = { timeout: 30_000 };
const core = (pod: string): string => `emqx@${pod}.${HEADLESS}`;

describe('control API over HTTP', () => {
  let tb: Testbed;
  let ctl: ControlServer;
  let c0: StartedNode;
  let c1: StartedNode;

  async function call(method: string, p: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${ctl.url}${p}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    return { status: res.status, json: await res.json() };
  }

  before(async () => {
    tb = new Testbed();
    ctl = await startControlServer(tb.fabric);
    c0 = await tb.core('emqx-core-0');
    c1 = await tb.core('emqx-core-1');
    await waitFor('2 running', async () => (await runningNames(c0)).length === 2);
  });
  after(() => tb.close());

  test('binds to loopback only', T, async () => {
    assert.match(ctl.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    await assert.rejects(startControlServer(tb.fabric, { host: '0.0.0.0' }), /loopback/);
  });

  test('GET /nodes and /nodes/{name}', T, async () => {
    const r = await call('GET', '/nodes');
    assert.equal(r.status, 200);
    const nodes = r.json as Array<{ name: string; role: string; status: string; cluster: string[] }>;
    assert.deepEqual(
      nodes.map((n) => [n.name, n.role, n.status]),
      [
        [core('emqx-core-0'), 'core', 'running'],
        [core('emqx-core-1'), 'core', 'running'],
      ],
    );
    assert.equal(nodes[0]!.cluster.length, 2);
    assert.equal((await call('GET', `/nodes/${encodeURIComponent('emqx@nope')}`)).status, 404);
  });

  test('clients: set, connect, disconnect, counts; the REST API reflects them', T, async () => {
    const n0 = encodeURIComponent(core('emqx-core-0'));
    assert.equal((await call('PUT', `/nodes/${n0}/clients`, { connections: 40, sessions: 50 })).status, 200);
    assert.deepEqual((await call('POST', `/nodes/${n0}/connect`, { n: 10 })).json, { accepted: 10 });
    assert.deepEqual((await call('POST', `/nodes/${n0}/disconnect`, { n: 5 })).json, { disconnected: 5 });
    const counts = (await call('GET', '/counts')).json as {
      total: { connections: number; sessions: number };
    };
    assert.deepEqual(counts.total, { connections: 45, sessions: 60 });
    const nodes = (await api(c1, '/api/v5/nodes')).json as Array<{
      node: string;
      connections: number;
      live_connections: number;
    }>;
    const mine = nodes.find((n) => n.node === core('emqx-core-0'))!;
    assert.deepEqual([mine.connections, mine.live_connections], [60, 45]);
    assert.equal((await call('PUT', `/nodes/${n0}/clients`, { connections: 'many' })).status, 400);
  });

  test('cluster DB: write through one node, read from another', T, async () => {
    const q0 = `?node=${encodeURIComponent(core('emqx-core-0'))}`;
    const q1 = `?node=${encodeURIComponent(core('emqx-core-1'))}`;
    assert.equal(
      (await call('PUT', `/db/retained/${encodeURIComponent('a/b')}${q0}`, 'payload')).status,
      200,
    );
    assert.deepEqual((await call('GET', `/db/retained${q1}`)).json, { 'a/b': 'payload' });
    assert.equal((await call('GET', `/db/retained/${encodeURIComponent('a/b')}${q1}`)).json, 'payload');
    assert.equal((await call('DELETE', `/db/retained/${encodeURIComponent('a/b')}${q1}`)).status, 200);
    assert.equal((await call('GET', `/db/retained/${encodeURIComponent('a/b')}${q0}`)).status, 404);
    assert.equal((await call('GET', '/db/retained')).status, 400);
  });

  test('faults: API 5xx, status failure, partition and heal', T, async () => {
    const n1 = encodeURIComponent(core('emqx-core-1'));
    assert.equal((await call('PUT', `/nodes/${n1}/faults`, { api: { status: 500 } })).status, 200);
    assert.equal((await api(c1, '/api/v5/nodes')).status, 500);
    assert.equal((await call('PUT', `/nodes/${n1}/faults`, { api: { status: 404 } })).status, 400);
    assert.equal((await call('PUT', `/nodes/${n1}/faults`, { statusFail: true })).status, 200);
    assert.equal((await api(c1, '/status', { auth: null })).status, 503);
    assert.equal((await api(c1, '/api/v5/nodes')).status, 200, 'replacing faults cleared the API fault');
    await call('DELETE', `/nodes/${n1}/faults`);
    assert.equal((await api(c1, '/status', { auth: null })).status, 200);
    assert.equal((await call('POST', '/partitions', { a: core('emqx-core-1') })).status, 200);
    assert.deepEqual(await runningNames(c0), [core('emqx-core-0')]);
    assert.equal((await call('DELETE', '/partitions')).status, 200);
    assert.equal((await runningNames(c0)).length, 2);
  });

  test('crash: the container exits with the given code', T, async () => {
    const r = await call('POST', `/nodes/${encodeURIComponent(core('emqx-core-1'))}/crash`, { exitCode: 3 });
    assert.equal(r.status, 200);
    assert.equal(await c1.container.exited, 3);
    const t = (await call('GET', '/time')).json as { now: number; timeScale: number };
    assert.equal(t.timeScale, 20);
    assert.ok(t.now > 0);
  });
});
