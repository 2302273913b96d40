// The EMQX client against local node:http servers on 127.0.0.1 that answer like EMQX does (shapes and error bodies
// from the EMQX node API reference); no emulator dependency.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../observability/logger.ts';
import { Registry } from '../observability/metrics.ts';
import { EmqxApiError, EmqxClient, EmqxConnectionError, EmqxResponseError } from './client.ts';

const KEY = 'emqx-operator-controller';
const SECRET = 'Zq8sV3nPq0aT7cW1yR5uE2iO9pL4kJ6hG3fD8sA1zX7cV5bN0mQ2wE4rT6yU8iO';
const AUTH = `Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`;

interface Seen {
  method: string;
  url: string;
  auth?: string;
  accept?: string;
  contentType?: string;
  body: string;
}
type Handler = (req: Seen) => {
  status: number;
  body?: unknown;
  text?: string;
  delayMs?: number;
  type?: string;
};

async function fakeEmqx(handler: Handler) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        auth: req.headers.authorization,
        accept: req.headers.accept,
        contentType: req.headers['content-type'],
        body,
      };
      seen.push(s);
      const r = handler(s);
      const send = () => {
        if (res.destroyed) return;
        const payload = r.text ?? (r.body === undefined ? '' : JSON.stringify(r.body));
        const headers: Record<string, string> = {};
        if (payload)
          headers['content-type'] = r.type ?? (r.text !== undefined ? 'text/plain' : 'application/json');
        res.writeHead(r.status, headers).end(payload);
      };
      if (r.delayMs) setTimeout(send, r.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/**
 * A URL on 127.0.0.1 where nothing listens, so a connection is refused before anything is sent. The port is a fixed
 * one below the ephemeral range (`port`: 2, or 3 for a second one; not 1, which fetch blocks as a "bad port" before
 * connecting, whatever the HTTP client does there): a port taken with listen(0) and closed again
 * could be handed to the next listen(0) before the client connects — this file's own next fake EMQX (its 503 then
 * answered the "dead" target) or another process's server — while listen(0) never hands out a port below 1024.
 * Checked first, so a machine where something does listen there fails with that reason, not a puzzling assertion.
 */
async function deadUrl(port = 2): Promise<string> {
  const refused = await new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
  assert.ok(refused, `deadUrl: 127.0.0.1:${port} must refuse connections for this test`);
  return `http://127.0.0.1:${port}`;
}

const node = (name: string, role = 'core') => ({
  node: name,
  node_status: 'running',
  role,
  edition: 'Enterprise',
  version: '5.10.0',
  otp_release: '27.2-3/15.2',
  uptime: 3600123,
  connections: 12,
  live_connections: 10,
  memory_total: '3.82G',
});

/** EMQX's auth check, then the route. */
function emqxLike(routes: Record<string, Handler>): Handler {
  return (req) => {
    const path = req.url.split('?')[0]!;
    const open = path === '/status' || path === '/api/v5/status' || path.endsWith('/availability_check');
    if (!open) {
      if (!req.auth)
        return {
          status: 401,
          body: { code: 'AUTHORIZATION_HEADER_ERROR', message: 'Support authorization: basic/bearer ' },
        };
      if (req.auth !== AUTH)
        return { status: 401, body: { code: 'BAD_API_KEY_OR_SECRET', message: 'Check api_key/api_secret' } };
    }
    const route = routes[`${req.method} ${path}`];
    return route
      ? route(req)
      : { status: 404, body: { code: 'NOT_FOUND', message: 'Request Path Not Found' } };
  };
}

function client(
  targets: string[],
  extra: { timeoutMs?: number; registry?: Registry; logLines?: string[] } = {},
) {
  return new EmqxClient({
    targets,
    apiKey: KEY,
    apiSecret: SECRET,
    timeoutMs: extra.timeoutMs ?? 2000,
    registry: extra.registry ?? new Registry(),
    logger: extra.logLines
      ? createLogger({ level: 'debug', sink: (l) => extra.logLines!.push(l) })
      : undefined,
  });
}

test('basic auth with the bootstrap key; nodes, node, cluster, listeners, monitor parsed', async () => {
  const a = await fakeEmqx(
    emqxLike({
      'GET /api/v5/nodes': () => ({
        status: 200,
        body: [
          node('emqx@core-0'),
          node('emqx@10.1.0.7', 'replicant'),
          { node: 'emqx@core-2', node_status: 'stopped', role: 'core' },
        ],
      }),
      'GET /api/v5/nodes/emqx@core-0': () => ({ status: 200, body: node('emqx@core-0') }),
      'GET /api/v5/nodes/emqx@core-2': () => ({
        status: 404,
        body: { code: 'NOT_FOUND', message: 'Node not found: emqx@core-2' },
      }),
      'GET /api/v5/cluster': () => ({
        status: 200,
        body: { name: 'emqxcl', description: '', nodes: ['emqx@core-0'], self: 'emqx@core-0' },
      }),
      'GET /api/v5/listeners': () => ({
        status: 200,
        body: [
          {
            id: 'tcp:default',
            type: 'tcp',
            name: 'default',
            enable: true,
            bind: '0.0.0.0:1883',
            status: { running: true, max_connections: 'infinity', current_connections: 21 },
          },
        ],
      }),
      'GET /api/v5/monitor_current': () => ({
        status: 200,
        body: { connections: 3, live_connections: 2, topics: 1 },
      }),
    }),
  );
  const api = client([a.url]);
  const nodes = await api.getNodes();
  assert.deepEqual(
    nodes.map((n) => `${n.node} ${n.node_status} ${n.role}`),
    ['emqx@core-0 running core', 'emqx@10.1.0.7 running replicant', 'emqx@core-2 stopped core'],
  );
  assert.equal(nodes[0]!.live_connections, 10);
  assert.equal((await api.getNode('emqx@core-0'))?.version, '5.10.0');
  assert.equal(await api.getNode('emqx@core-2'), undefined, '404 means stopped/unknown');
  assert.deepEqual((await api.getCluster()).nodes, ['emqx@core-0']);
  assert.equal((await api.getListeners())[0]!.bind, '0.0.0.0:1883');
  assert.equal((await api.monitorCurrent()).live_connections, 2);
  assert.ok(a.seen.every((s) => s.auth === AUTH));
  assert.ok(
    a.seen.some((s) => s.url === '/api/v5/nodes/emqx@core-2'),
    '@ stays literal in the path',
  );
});

test('401 bodies become EmqxApiError with status, code and message; no failover on 4xx', async () => {
  const a = await fakeEmqx(emqxLike({}));
  const b = await fakeEmqx(emqxLike({ 'GET /api/v5/nodes': () => ({ status: 200, body: [] }) }));
  const bad = new EmqxClient({
    targets: [a.url, b.url],
    apiKey: KEY,
    apiSecret: 'wrong-secret',
    registry: new Registry(),
  });
  const err = await bad.getNodes().catch((e: unknown) => e);
  assert.ok(err instanceof EmqxApiError);
  assert.equal(err.status, 401);
  assert.equal(err.code, 'BAD_API_KEY_OR_SECRET');
  assert.match(err.message, /401 BAD_API_KEY_OR_SECRET: Check api_key\/api_secret/);
  assert.equal(err.endpoint, 'GET /api/v5/nodes');
  assert.equal(err.target, a.url);
  assert.equal(b.seen.length, 0, 'a 4xx is not retried on another target');

  const noAuth = await fetch(`${a.url}/api/v5/nodes`);
  assert.equal(noAuth.status, 401);
  await noAuth.text();
});

test('failover: refused connection, timeout and 5xx move to the next target; the good one is remembered', async () => {
  const registry = new Registry();
  const logLines: string[] = [];
  const dead = await deadUrl();
  let slowCalls = 0;
  const slow = await fakeEmqx(() => {
    slowCalls++;
    return { status: 200, body: [], delayMs: 3000 };
  });
  const broken = await fakeEmqx(() => ({ status: 503, body: { code: 'RPC_ERROR', message: 'rpc failed' } }));
  const good = await fakeEmqx(
    emqxLike({ 'GET /api/v5/nodes': () => ({ status: 200, body: [node('emqx@core-1')] }) }),
  );
  // The timeout only has to separate the slow target (3 s) from quick answers; 1 s leaves room for a busy machine,
  // where 150 ms once timed out the 503 target too (the metrics then count 2 timeouts and no 5xx).
  const api = client([dead, slow.url, broken.url, good.url], { timeoutMs: 1000, registry, logLines });

  const nodes = await api.getNodes();
  assert.equal(nodes[0]!.node, 'emqx@core-1');
  assert.equal(api.currentTarget, good.url);
  assert.equal(slowCalls, 1);
  assert.equal(broken.seen.length, 1);

  await api.getNodes();
  assert.equal(good.seen.length, 2);
  assert.equal(slowCalls, 1, 'the last good target is asked first');
  assert.equal(broken.seen.length, 1);

  const text = await registry.render();
  assert.match(
    text,
    /emqx_operator_emqx_api_requests_total\{endpoint="GET \/api\/v5\/nodes",outcome="connection_error"\} 1/,
  );
  assert.match(
    text,
    /emqx_operator_emqx_api_requests_total\{endpoint="GET \/api\/v5\/nodes",outcome="timeout"\} 1/,
  );
  assert.match(
    text,
    /emqx_operator_emqx_api_requests_total\{endpoint="GET \/api\/v5\/nodes",outcome="http_5xx"\} 1/,
  );
  assert.match(
    text,
    /emqx_operator_emqx_api_requests_total\{endpoint="GET \/api\/v5\/nodes",outcome="success"\} 2/,
  );
  assert.match(
    text,
    /emqx_operator_emqx_api_request_duration_seconds_count\{endpoint="GET \/api\/v5\/nodes",outcome="success"\} 2/,
  );
  assert.ok(logLines.some((l) => l.includes('trying the next one')));
  assert.ok(!logLines.join('\n').includes(SECRET), 'the secret never reaches the logs');
});

test('when every target fails, the last error is thrown with the earlier attempts', async () => {
  const dead1 = await deadUrl(2);
  const dead2 = await deadUrl(3);
  const err = await client([dead1, dead2])
    .getCluster()
    .catch((e: unknown) => e);
  assert.ok(err instanceof EmqxConnectionError);
  assert.equal(err.timedOut, false);
  assert.equal(err.notSent, true);
  assert.equal(err.target, dead2);
  assert.equal(err.attempts.length, 1);
  assert.equal(err.attempts[0]!.target, dead1);
  assert.ok(!err.message.includes(SECRET));

  const none = await client([])
    .getNodes()
    .catch((e: unknown) => e);
  assert.ok(none instanceof EmqxConnectionError);
  assert.match(none.message, /no EMQX targets/);
});

test('a timeout is a connection error with timedOut, distinct from HTTP errors', async () => {
  const slow = await fakeEmqx(() => ({ status: 200, body: {}, delayMs: 500 }));
  const err = await client([slow.url], { timeoutMs: 100 })
    .globalStatus()
    .catch((e: unknown) => e);
  assert.ok(err instanceof EmqxConnectionError);
  assert.equal(err.timedOut, true);
  assert.ok(!(err instanceof EmqxApiError));
});

test('non-idempotent POSTs move on only when nothing was sent', async () => {
  const dead = await deadUrl();
  const broken = await fakeEmqx(() => ({ status: 503, body: { code: 'RPC_ERROR', message: 'x' } }));
  const good = await fakeEmqx(
    emqxLike({
      'POST /api/v5/load_rebalance/emqx@core-0/evacuation/start': () => ({ status: 200, body: {} }),
    }),
  );
  await client([dead, good.url]).evacuationStart('emqx@core-0', {
    conn_evict_rate: 500,
    migrate_to: ['emqx@core-1'],
  });
  assert.equal(good.seen.length, 1);
  assert.deepEqual(JSON.parse(good.seen[0]!.body), { conn_evict_rate: 500, migrate_to: ['emqx@core-1'] });
  assert.equal(good.seen[0]!.contentType, 'application/json');

  const err = await client([broken.url, good.url])
    .evacuationStart('emqx@core-0')
    .catch((e: unknown) => e);
  assert.ok(err instanceof EmqxApiError);
  assert.equal(err.status, 503);
  assert.equal(good.seen.length, 1, 'a 5xx on a POST is not retried elsewhere');
});

test('evacuation and rebalance endpoints, global status, state-machine refusals', async () => {
  const srv = await fakeEmqx(
    emqxLike({
      'POST /api/v5/load_rebalance/emqx@c0/evacuation/stop': () => ({
        status: 400,
        body: { code: 'BAD_REQUEST', message: "error on node 'emqx@c0': not_started" },
      }),
      'POST /api/v5/load_rebalance/emqx@c0/start': () => ({ status: 200, body: {} }),
      'POST /api/v5/load_rebalance/emqx@c0/stop': () => ({ status: 200, body: {} }),
      'GET /api/v5/load_rebalance/global_status': () => ({
        status: 200,
        body: {
          evacuations: [
            {
              node: 'emqx@c1',
              state: 'evicting_conns',
              connection_eviction_rate: 500,
              session_recipients: ['emqx@c2'],
              stats: {
                initial_connected: 120,
                current_connected: 40,
                initial_sessions: 130,
                current_sessions: 130,
              },
            },
          ],
          rebalances: [
            { node: 'emqx@c0', coordinator_node: 'emqx@c0', state: 'wait_takeover', donors: ['emqx@c0'] },
          ],
          purges: [],
        },
      }),
    }),
  );
  const api = client([srv.url]);
  const err = await api.evacuationStop('emqx@c0').catch((e: unknown) => e);
  assert.ok(err instanceof EmqxApiError);
  assert.equal(err.code, 'BAD_REQUEST');
  assert.match(err.message, /not_started/);
  await api.rebalanceStart('emqx@c0', { nodes: ['emqx@c0', 'emqx@c1'], rel_conn_threshold: 1.1 });
  assert.deepEqual(JSON.parse(srv.seen.at(-1)!.body), {
    nodes: ['emqx@c0', 'emqx@c1'],
    rel_conn_threshold: 1.1,
  });
  await api.rebalanceStop('emqx@c0');
  const g = await api.globalStatus();
  assert.equal(g.evacuations[0]!.stats?.current_connected, 40);
  assert.equal(g.rebalances[0]!.state, 'wait_takeover');
});

test('configs: GET as HOCON text, PUT text/plain with mode and ignore_readonly, {"errors":…} parsed', async () => {
  const hocon = 'listeners {\n  tcp {\n    default {bind = "0.0.0.0:1883"}\n  }\n}\n';
  let putReply: { status: number; body?: unknown } = { status: 200 };
  const srv = await fakeEmqx(
    emqxLike({
      'GET /api/v5/configs': (r) =>
        r.accept === 'text/plain'
          ? { status: 200, text: hocon }
          : { status: 400, body: { code: 'INVALID_ACCEPT' } },
      'PUT /api/v5/configs': () => putReply,
    }),
  );
  const api = client([srv.url]);
  assert.equal(await api.getConfigsHocon(), hocon);

  await api.putConfigs('log.console.level = debug', { mode: 'replace', ignoreReadonly: true });
  const put = srv.seen.at(-1)!;
  assert.equal(put.url, '/api/v5/configs?mode=replace&ignore_readonly=true');
  assert.equal(put.contentType, 'text/plain');
  assert.equal(put.body, 'log.console.level = debug');
  await api.putConfigs('a = 1');
  assert.equal(srv.seen.at(-1)!.url, '/api/v5/configs?mode=merge');

  putReply = {
    status: 400,
    body: { errors: "Cannot update read-only key 'cluster.autoclean,cluster.autoheal'." },
  };
  let err = await api.putConfigs('cluster.autoclean = 1h').catch((e: unknown) => e);
  assert.ok(err instanceof EmqxApiError);
  assert.equal(err.status, 400);
  assert.equal(err.errors, "Cannot update read-only key 'cluster.autoclean,cluster.autoheal'.");
  assert.match(err.message, /read-only key/);

  const validation = {
    log: {
      kind: 'validation_error',
      path: 'log.console.level',
      reason: 'unable_to_convert_to_enum_symbol',
      value: 'x',
    },
  };
  putReply = { status: 400, body: { errors: validation } };
  err = await api.putConfigs('log.console.level = x').catch((e: unknown) => e);
  assert.ok(err instanceof EmqxApiError);
  assert.deepEqual(err.errors, validation);
  assert.match(err.message, /unable_to_convert_to_enum_symbol/);
});

test('force_leave is a DELETE; its 400 reasons surface', async () => {
  const srv = await fakeEmqx(
    emqxLike({
      'DELETE /api/v5/cluster/emqx@core-2/force_leave': () => ({ status: 204 }),
      'DELETE /api/v5/cluster/emqx@core-0/force_leave': () => ({
        status: 400,
        body: { code: 'BAD_REQUEST', message: "Can't leave self" },
      }),
    }),
  );
  const api = client([srv.url]);
  await api.forceLeave('emqx@core-2');
  const err = await api.forceLeave('emqx@core-0').catch((e: unknown) => e);
  assert.ok(err instanceof EmqxApiError);
  assert.match(err.message, /Can't leave self/);
});

test('availability check and /status go to the given node, without auth', async () => {
  let evacuating = false;
  let booting = false;
  const srv = await fakeEmqx((r) => {
    if (r.url === '/api/v5/load_rebalance/availability_check') {
      return evacuating
        ? { status: 503, body: { code: 'NODE_EVACUATING', message: 'Node Evacuating' } }
        : { status: 200, body: {} };
    }
    if (r.url === '/status') {
      return booting
        ? { status: 503 }
        : { status: 200, text: 'Node emqx@core-0 is started\nemqx is running' };
    }
    return { status: 404 };
  });
  const api = client([]);
  assert.equal(await api.availabilityCheck(srv.url), true);
  evacuating = true;
  assert.equal(await api.availabilityCheck(`${srv.url}/`), false);
  assert.deepEqual(await api.status(srv.url), {
    running: true,
    httpStatus: 200,
    text: 'Node emqx@core-0 is started\nemqx is running',
  });
  booting = true;
  assert.deepEqual(await api.status(srv.url), { running: false, httpStatus: 503, text: '' });
  assert.equal(srv.seen.length, 4);
  assert.ok(
    srv.seen.every((s) => s.auth === undefined),
    'no credentials on unauthenticated endpoints',
  );
});

test('a target given with its /api/v5 suffix is the same base URL', async () => {
  const a = await fakeEmqx(
    emqxLike({ 'GET /api/v5/cluster': () => ({ status: 200, body: { name: 'a', nodes: [] } }) }),
  );
  const api = client([`${a.url}/api/v5/`]);
  assert.equal((await api.getCluster()).name, 'a');
  assert.equal(api.currentTarget, a.url);
});

test('api keys with ":" are rejected', () => {
  assert.throws(
    () => new EmqxClient({ targets: [], apiKey: 'a:b', apiSecret: 'x', registry: new Registry() }),
    /must not contain/,
  );
});

test('a body over maxResponseBytes is refused without reading it all, declared or streamed', async () => {
  // a declared length over the limit
  const declared = await fakeEmqx(() => ({ status: 200, text: 'x'.repeat(200_000), type: 'text/plain' }));
  const api = new EmqxClient({
    targets: [declared.url],
    apiKey: KEY,
    apiSecret: SECRET,
    maxResponseBytes: 64 * 1024,
  });
  await assert.rejects(api.getConfigsHocon(), (e: unknown) => {
    assert.ok(e instanceof EmqxResponseError);
    assert.match(
      e.message,
      /GET \/api\/v5\/configs on .*: 200: unusable answer: body larger than 65536 bytes/,
    );
    return true;
  });
  // chunked, no length: the reader stops at the limit
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    let sent = 0;
    const push = () => {
      while (sent < 1000 && !res.destroyed) {
        sent++;
        if (!res.write(chunk)) return void res.once('drain', push);
      }
      res.end();
    };
    push();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const streamed = new EmqxClient({
    targets: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`],
    apiKey: KEY,
    apiSecret: SECRET,
    maxResponseBytes: 64 * 1024,
  });
  await assert.rejects(streamed.getNodes(), EmqxResponseError);
});

test('bodies of the wrong shape are EmqxResponseErrors naming the field, tried on the next target', async () => {
  const cases: Array<[unknown, string]> = [
    [{ nodes: 'oops' }, 'expected nodes as a JSON array'],
    ['not json', 'expected nodes as a JSON array'],
    [[{ node: 'emqx@a', node_status: 'running' }, 7], 'nodes[1] is not an object'],
    [[{ node: 1, node_status: 'running' }], 'nodes[0].node is not a string'],
  ];
  for (const [body, reason] of cases) {
    const bad = await fakeEmqx(() =>
      typeof body === 'string' ? { status: 200, text: body } : { status: 200, body },
    );
    const api = new EmqxClient({ targets: [bad.url], apiKey: KEY, apiSecret: SECRET });
    await assert.rejects(api.getNodes(), (e: unknown) => {
      assert.ok(e instanceof EmqxResponseError, String(e));
      assert.ok(e.message.endsWith(`unusable answer: ${reason}`), e.message);
      return true;
    });
  }
  const good = await fakeEmqx(() => ({ status: 200, body: [{ node: 'emqx@b', node_status: 'running' }] }));
  const broken = await fakeEmqx(() => ({ status: 200, body: { nodes: 'oops' } }));
  const api = new EmqxClient({ targets: [broken.url, good.url], apiKey: KEY, apiSecret: SECRET });
  assert.deepEqual(await api.getNodes(), [{ node: 'emqx@b', node_status: 'running' }]);

  const other = await fakeEmqx((req) =>
    req.url.startsWith('/api/v5/cluster')
      ? { status: 200, body: { name: 'c', nodes: [1] } }
      : req.url.startsWith('/api/v5/listeners')
        ? { status: 200, body: [{ id: 'tcp:default' }] }
        : { status: 200, body: { evacuations: 'none' } },
  );
  const o = new EmqxClient({ targets: [other.url], apiKey: KEY, apiSecret: SECRET });
  await assert.rejects(o.getCluster(), /cluster\.nodes is not a list of strings/);
  await assert.rejects(o.getListeners(), /listeners\[0\]\.type is not a string/);
  await assert.rejects(o.globalStatus(), /global_status\.evacuations is not an array/);
});

test('a PUT /configs 400 naming a sensitive path never carries the refused value in the error message', () => {
  const err = new EmqxApiError('PUT /api/v5/configs', 'http://127.0.0.1:18083', 400, {
    errors: {
      authorization: {
        kind: 'validation_error',
        path: 'authorization.sources.1.password',
        reason: 'expected string, got "s3cr3t-value"',
        value: 's3cr3t-value',
      },
    },
  });
  assert.ok(!err.message.includes('s3cr3t-value'), err.message);
  assert.match(err.message, /400: .*"path":"authorization\.sources\.1\.password".*"value":"\*\*\*\*\*\*"/);
  assert.ok(!JSON.stringify(err.errors).includes('s3cr3t-value'));
});

test('durable storage answers of the wrong shape are EmqxResponseErrors naming the field (never an empty list)', async () => {
  const answers: Record<string, unknown> = {
    '/api/v5/ds/sites': { sites: ['s1'] },
    '/api/v5/ds/storages': ['messages', 3],
    '/api/v5/ds/sites/s1': { node: 'emqx@a', up: 'yes', shards: [] },
    '/api/v5/ds/sites/s2': { node: 'emqx@a', up: true, shards: [{ storage: 'messages', id: 0 }] },
    '/api/v5/ds/storages/messages': { name: 'messages', shards: [{ id: '0', replicas: [{ site: 's1' }] }] },
    '/api/v5/ds/storages/other': {
      name: 'other',
      shards: [{ id: '0', replicas: [], transitions: 'none' }],
    },
  };
  const srv = await fakeEmqx((req) => ({ status: 200, body: answers[req.url.split('?')[0]!] }));
  const api = new EmqxClient({ targets: [srv.url], apiKey: KEY, apiSecret: SECRET });
  await assert.rejects(api.dsSites(), /unusable answer: expected sites as a JSON array of strings$/);
  await assert.rejects(api.dsStorages(), /unusable answer: expected storages as a JSON array of strings$/);
  await assert.rejects(api.dsSite('s1'), /unusable answer: site\.up is not a boolean$/);
  await assert.rejects(api.dsSite('s2'), /unusable answer: site\.shards\[0\]\.id is not a string$/);
  await assert.rejects(
    api.dsStorage('messages'),
    /unusable answer: storage\.shards\[0\]\.replicas\[0\]\.status is not a string$/,
  );
  await assert.rejects(
    api.dsStorage('other'),
    /unusable answer: storage\.shards\[0\]\.transitions is not an array$/,
  );
  const good = await fakeEmqx((req) => ({
    status: 200,
    body:
      req.url === '/api/v5/ds/storages/messages'
        ? { name: 'messages', shards: [{ id: '0', replicas: [{ site: 's1', status: 'up' }] }] }
        : { node: 'emqx@a', up: true },
  }));
  const ok = new EmqxClient({ targets: [good.url], apiKey: KEY, apiSecret: SECRET });
  assert.equal((await ok.dsStorage('messages')).shards[0]!.replicas[0]!.status, 'up');
  assert.equal((await ok.dsSite('s1')).up, true);
});
