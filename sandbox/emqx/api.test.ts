// Contract tests of the emulated EMQX REST API (emqx-node-api.md §1–§2), over HTTP on 127.2.x.y (claimed test addresses), no Kubernetes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseHocon } from '../../src/hocon/index.ts';
import type { HoconObject } from '../../src/hocon/index.ts';
import {
  API_KEY,
  API_SECRET,
  HEADLESS,
  Testbed,
  api,
  nextIp,
  nodeName,
  runningNames,
  waitFor,
} from './testkit.ts';
import type { StartedNode } from './testkit.ts';

// every test bounded in real time, so a regression cannot hang the run
const T = { timeout: 30_000 };

const basic = (k: string, s: string): string => `Basic ${Buffer.from(`${k}:${s}`).toString('base64')}`;

describe('EMQX REST API contract (Enterprise 5.8.3, 3 cores + 1 replicant, one core stopped)', () => {
  let tb: Testbed;
  let c0: StartedNode;
  let c1: StartedNode;
  let c2: StartedNode;
  let r0: StartedNode;
  const name = (pod: string): string => `emqx@${pod}.${HEADLESS}`;

  before(async () => {
    tb = new Testbed();
    c0 = await tb.core('emqx-core-0');
    c1 = await tb.core('emqx-core-1');
    c2 = await tb.core('emqx-core-2');
    r0 = await tb.replicant('emqx-replicant-0');
    await waitFor('a cluster of 4 running nodes', async () => (await runningNames(c0)).length === 4);
    await tb.stop(c2);
    await waitFor('emqx-core-2 stopped', async () => (await runningNames(c0)).length === 3);
  });
  after(() => tb.close());

  test('GET /status: text, 200, retry-after: 15, no auth needed', T, async () => {
    for (const p of ['/status', '/api/v5/status']) {
      const r = await api(c0, p, { auth: null });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('retry-after'), '15');
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(r.text, `Node ${name('emqx-core-0')} is started\nemqx is running`);
    }
  });

  test('GET /status?format=json: 5.x carries rel_vsn', T, async () => {
    const r = await api(r0, '/api/v5/status?format=json', { auth: null });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      node_name: nodeName(r0),
      rel_vsn: '5.8.3',
      broker_status: 'started',
      app_status: 'running',
    });
  });

  test('missing Authorization: 401 AUTHORIZATION_HEADER_ERROR with WWW-Authenticate', T, async () => {
    const r = await api(c0, '/api/v5/nodes', { auth: null });
    assert.equal(r.status, 401);
    assert.equal((r.json as { code: string }).code, 'AUTHORIZATION_HEADER_ERROR');
    assert.equal(r.headers.get('www-authenticate'), 'Basic Realm="emqx-dashboard"');
  });

  test('bad API key or secret: 401 BAD_API_KEY_OR_SECRET', T, async () => {
    for (const auth of [basic(API_KEY, 'wrong'), basic('nobody', API_SECRET), 'Basic !!!']) {
      const r = await api(c0, '/api/v5/nodes', { auth });
      assert.equal(r.status, 401, auth);
      assert.equal((r.json as { code: string }).code, 'BAD_API_KEY_OR_SECRET');
    }
  });

  test('the replicant accepts the bootstrap keys it got by replication', T, async () => {
    const r = await api(r0, '/api/v5/nodes');
    assert.equal(r.status, 200);
  });

  test('Bearer token from POST /login (admin/public); a bad password is 401', T, async () => {
    const bad = await api(c0, '/api/v5/login', {
      method: 'POST',
      auth: null,
      body: { username: 'admin', password: 'nope' },
    });
    assert.equal(bad.status, 401);
    assert.equal((bad.json as { code: string }).code, 'BAD_USERNAME_OR_PWD');
    const ok = await api(c0, '/api/v5/login', {
      method: 'POST',
      auth: null,
      body: { username: 'admin', password: 'public' },
    });
    assert.equal(ok.status, 200);
    const body = ok.json as { token: string; version: string; license: { edition: string }; role: string };
    assert.equal(body.version, '5.8.3');
    assert.equal(body.license.edition, 'ee');
    assert.equal(body.role, 'administrator');
    const viaToken = await api(r0, '/api/v5/cluster', { auth: `Bearer ${body.token}` });
    assert.equal(viaToken.status, 200);
    const badToken = await api(c0, '/api/v5/cluster', { auth: 'Bearer nope' });
    assert.equal(badToken.status, 401);
  });

  test('unknown paths: 404 {"code":"NOT_FOUND"}; wrong method: 405', T, async () => {
    const r = await api(c0, '/api/v5/no_such_thing');
    assert.equal(r.status, 404);
    assert.equal((r.json as { code: string }).code, 'NOT_FOUND');
    const m = await api(c0, '/api/v5/nodes', { method: 'DELETE' });
    assert.equal(m.status, 405);
  });

  test('GET /nodes: running nodes sorted by name, then the stopped core as a 3-field stub', T, async () => {
    const r = await api(c1, '/api/v5/nodes');
    assert.equal(r.status, 200);
    const nodes = r.json as Array<Record<string, unknown>>;
    const running = nodes.filter((n) => n['node_status'] === 'running');
    assert.deepEqual(
      running.map((n) => n['node']),
      [nodeName(r0), name('emqx-core-0'), name('emqx-core-1')].sort(),
    );
    assert.deepEqual(nodes[nodes.length - 1], {
      node: name('emqx-core-2'),
      node_status: 'stopped',
      role: 'core',
    });
    assert.equal(nodes.length, 4);
    for (const n of running) {
      for (const f of [
        'node',
        'node_status',
        'role',
        'edition',
        'version',
        'otp_release',
        'uptime',
        'connections',
        'live_connections',
        'load1',
        'memory_total',
        'memory_used',
        'max_fds',
        'process_available',
        'process_used',
        'sys_path',
        'log_path',
      ]) {
        assert.ok(f in n, `field ${f} in ${JSON.stringify(n)}`);
      }
      assert.equal(n['edition'], 'Enterprise');
      assert.equal(n['version'], '5.8.3');
      assert.equal(n['otp_release'], '26.2.5-3/14.2.5');
      assert.equal(typeof n['uptime'], 'number');
      assert.equal(typeof n['memory_total'], 'string');
    }
    assert.deepEqual(
      running.map((n) => n['role']),
      running.map((n) => (n['node'] === nodeName(r0) ? 'replicant' : 'core')),
    );
  });

  test('uptime is in ms and grows', T, async () => {
    const get = async (): Promise<number> =>
      ((await api(c0, `/api/v5/nodes/${encodeURIComponent(name('emqx-core-0'))}`)).json as { uptime: number })
        .uptime;
    const a = await get();
    await new Promise((r) => setTimeout(r, 100));
    const b = await get();
    assert.ok(a >= 1000, `uptime ${a} should be ms since boot (timeScale 20)`);
    assert.ok(b > a + 500, `uptime ${a} -> ${b}`);
  });

  test('GET /nodes/{node}: 200 for a running node, 404 for a stopped or unknown one', T, async () => {
    const ok = await api(c0, `/api/v5/nodes/${encodeURIComponent(nodeName(r0))}`);
    assert.equal(ok.status, 200);
    assert.equal((ok.json as { role: string }).role, 'replicant');
    const stopped = await api(c0, `/api/v5/nodes/${encodeURIComponent(name('emqx-core-2'))}`);
    assert.equal(stopped.status, 404);
    assert.deepEqual(stopped.json, { code: 'NOT_FOUND', message: `Node not found: ${name('emqx-core-2')}` });
    const unknown = await api(c0, '/api/v5/nodes/emqx@nowhere');
    assert.equal(unknown.status, 404);
  });

  test('GET /cluster lists running nodes only; PUT changes only the description', T, async () => {
    const r = await api(r0, '/api/v5/cluster');
    assert.equal(r.status, 200);
    const body = r.json as { name: string; description: string; nodes: string[]; self: string };
    assert.equal(body.name, 'emqxcl');
    assert.equal(body.self, nodeName(r0));
    assert.deepEqual([...body.nodes].sort(), [nodeName(r0), name('emqx-core-0'), name('emqx-core-1')].sort());
    const put = await api(c0, '/api/v5/cluster', { method: 'PUT', body: { description: 'prod' } });
    assert.equal(put.status, 200);
    assert.equal(((await api(c1, '/api/v5/cluster')).json as { description: string }).description, 'prod');
    const bad = await api(c0, '/api/v5/cluster', { method: 'PUT', body: { name: 'x' } });
    assert.equal(bad.status, 400);
  });

  test('DELETE /cluster/{node}/force_leave: self 400, unknown 400 node_not_in_cluster', T, async () => {
    const self = await api(c0, `/api/v5/cluster/${encodeURIComponent(name('emqx-core-0'))}/force_leave`, {
      method: 'DELETE',
    });
    assert.equal(self.status, 400);
    assert.deepEqual(self.json, { code: 'BAD_REQUEST', message: "Can't leave self" });
    const unknown = await api(c0, '/api/v5/cluster/emqx@elsewhere/force_leave', { method: 'DELETE' });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.json, { code: 'BAD_REQUEST', message: 'node_not_in_cluster' });
    const post = await api(c0, '/api/v5/cluster/emqx@elsewhere/force_leave', { method: 'POST' });
    assert.equal(post.status, 405);
  });

  test('GET /listeners: the four defaults, merged over running nodes', T, async () => {
    const r = await api(c0, '/api/v5/listeners');
    assert.equal(r.status, 200);
    const ls = r.json as Array<Record<string, unknown>>;
    assert.deepEqual(ls.map((l) => l['id']).sort(), [
      'ssl:default',
      'tcp:default',
      'ws:default',
      'wss:default',
    ]);
    const tcp = ls.find((l) => l['id'] === 'tcp:default')!;
    assert.equal(tcp['type'], 'tcp');
    assert.equal(tcp['name'], 'default');
    assert.equal(tcp['enable'], true);
    assert.equal(tcp['bind'], '0.0.0.0:1883');
    assert.deepEqual(tcp['status'], { running: true, max_connections: 'infinity', current_connections: 0 });
    const ns = tcp['node_status'] as Array<{ node: string; status: { running: boolean } }>;
    assert.equal(ns.length, 3);
    const only = await api(c0, '/api/v5/listeners?type=ws');
    assert.deepEqual(
      (only.json as Array<{ id: string }>).map((l) => l.id),
      ['ws:default'],
    );
  });

  test('GET /configs: text/plain HOCON with defaults, hidden roots dropped, secrets masked', T, async () => {
    for (const accept of [undefined, 'text/plain', '*/*', 'application/json;q=0.5, text/plain;q=0.9']) {
      const r = await api(c0, '/api/v5/configs', accept === undefined ? {} : { headers: { accept } });
      assert.equal(r.status, 200, String(accept));
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    }
    const r = await api(c0, '/api/v5/configs', { headers: { accept: 'text/plain' } });
    const conf = parseHocon(r.text);
    for (const hidden of ['stats', 'broker', 'plugins', 'zones']) assert.ok(!(hidden in conf), hidden);
    assert.equal((conf['node'] as HoconObject)['cookie'], '******');
    assert.ok(!r.text.includes('cookie-abc'), 'the cookie never appears');
    assert.equal((conf['node'] as HoconObject)['name'], name('emqx-core-0'));
    const cluster = conf['cluster'] as HoconObject;
    assert.equal(cluster['discovery_strategy'], 'dns');
    assert.deepEqual(cluster['dns'], { name: HEADLESS, record_type: 'srv' });
    assert.ok(!('static' in cluster) && !('etcd' in cluster) && !('k8s' in cluster));
    const tcp = ((conf['listeners'] as HoconObject)['tcp'] as HoconObject)['default'] as HoconObject;
    assert.equal(tcp['bind'], '0.0.0.0:1883');
    assert.equal(tcp['max_connections'], 'infinity');
    assert.match(r.text, /bind = "0\.0\.0\.0:1883"/);
    assert.equal(
      (((conf['dashboard'] as HoconObject)['listeners'] as HoconObject)['http'] as HoconObject)[
        'bind'
      ] as number,
      18083,
    );
    assert.equal((conf['license'] as HoconObject)['key'], '******');
  });

  test(
    'GET /configs: JSON roots with Accept: application/json, 400 INVALID_ACCEPT otherwise',
    T,
    async () => {
      const j = await api(c0, '/api/v5/configs', { headers: { accept: 'application/json' } });
      assert.equal(j.status, 200);
      assert.deepEqual(Object.keys(j.json as object).sort(), [
        'alarm',
        'broker',
        'dashboard',
        'file_transfer',
        'log',
        'sys_topics',
        'sysmon',
      ]);
      const key = await api(c0, '/api/v5/configs?key=listeners', { headers: { accept: 'application/json' } });
      assert.deepEqual(Object.keys(key.json as object), ['listeners']);
      const bad = await api(c0, '/api/v5/configs', { headers: { accept: 'application/xml' } });
      assert.equal(bad.status, 400);
      assert.equal((bad.json as { code: string }).code, 'INVALID_ACCEPT');
      const otherNode = await api(c0, `/api/v5/configs?node=${encodeURIComponent(nodeName(r0))}`);
      assert.equal(otherNode.status, 200);
      assert.equal((parseHocon(otherNode.text)['node'] as HoconObject)['role'], 'replicant');
      const stoppedNode = await api(c0, `/api/v5/configs?node=${encodeURIComponent(name('emqx-core-2'))}`);
      assert.equal(stoppedNode.status, 404);
    },
  );

  test('PUT /configs: read-only keys give 400 {"errors": …} without ignore_readonly', T, async () => {
    const r = await api(c0, '/api/v5/configs', {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'cluster { autoheal = false, autoclean = "1h" }\nlog.console.level = info',
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { errors: "Cannot update read-only key 'cluster.autoclean,cluster.autoheal'." });
    const n = await api(c0, '/api/v5/configs', {
      method: 'PUT',
      body: 'node.process_limit = 10\nrpc.mode = sync',
    });
    assert.equal(n.status, 400);
    assert.deepEqual(n.json, { errors: "Cannot update read-only key 'rpc,node'." });
    // nothing applied
    const conf = parseHocon((await api(c1, '/api/v5/configs')).text);
    assert.equal(((conf['log'] as HoconObject)['console'] as HoconObject)['level'], 'warning');
  });

  test(
    'PUT /configs?ignore_readonly=true drops read-only keys, applies the rest cluster-wide, persists',
    T,
    async () => {
      const r = await api(c0, '/api/v5/configs?mode=merge&ignore_readonly=true', {
        method: 'PUT',
        body: 'node.cookie = stolen\ncluster.autoheal = false\nlog.console.level = info\n',
      });
      assert.equal(r.status, 200);
      assert.equal(r.text, '');
      for (const n of [c0, c1, r0]) {
        const conf = parseHocon((await api(n, '/api/v5/configs')).text);
        assert.equal(((conf['log'] as HoconObject)['console'] as HoconObject)['level'], 'info');
        assert.equal((conf['cluster'] as HoconObject)['autoheal'], true);
      }
      const file = path.join(c1.input.dataDir!, 'configs', 'cluster.hocon');
      const saved = parseHocon(fs.readFileSync(file, 'utf8'));
      assert.equal(((saved['log'] as HoconObject)['console'] as HoconObject)['level'], 'info');
      assert.ok(!('node' in saved) && !('cluster' in saved));
    },
  );

  test('PUT /configs: a new listener, then a disabled one, show up live in /listeners', T, async () => {
    const add = await api(c1, '/api/v5/configs', {
      method: 'PUT',
      body: 'listeners.tcp.internal { bind = "0.0.0.0:11883", max_connections = 100 }',
    });
    assert.equal(add.status, 200);
    const ls = (await api(r0, '/api/v5/listeners')).json as Array<Record<string, unknown>>;
    const internal = ls.find((l) => l['id'] === 'tcp:internal');
    assert.ok(internal, 'tcp:internal listed');
    assert.equal(internal['bind'], '0.0.0.0:11883');
    assert.deepEqual(internal['status'], { running: true, max_connections: 300, current_connections: 0 });
    const off = await api(c0, '/api/v5/configs', {
      method: 'PUT',
      body: 'listeners.ws.default.enable = false',
    });
    assert.equal(off.status, 200);
    const ls2 = (await api(c0, '/api/v5/listeners')).json as Array<Record<string, unknown>>;
    const ws = ls2.find((l) => l['id'] === 'ws:default')!;
    assert.equal(ws['enable'], false);
    assert.equal((ws['status'] as { running: boolean }).running, false);
    // the operator's listener discovery reads the text config
    const conf = parseHocon((await api(c0, '/api/v5/configs')).text);
    const tcp = (conf['listeners'] as HoconObject)['tcp'] as HoconObject;
    assert.equal((tcp['internal'] as HoconObject)['bind'], '0.0.0.0:11883');
  });

  test('PUT /configs?mode=replace swaps a whole root', T, async () => {
    const r = await api(c0, '/api/v5/configs?mode=replace', {
      method: 'PUT',
      body: 'listeners { tcp { default { bind = "0.0.0.0:1883" } } }',
    });
    assert.equal(r.status, 200);
    const ls = (await api(c1, '/api/v5/listeners')).json as Array<{ id: string }>;
    assert.deepEqual(
      ls.map((l) => l.id),
      ['tcp:default'],
    );
  });

  test('PUT /configs error bodies: parse error, unknown root, validation errors', T, async () => {
    const parse = await api(c0, '/api/v5/configs', { method: 'PUT', body: 'log {' });
    assert.equal(parse.status, 400);
    const pe = (parse.json as { errors: { line: number; reason: string; type: string } }).errors;
    assert.equal(pe.line, 1);
    assert.equal(typeof pe.reason, 'string');
    assert.ok(['parse_error', 'scan_error'].includes(pe.type));
    const root = await api(c0, '/api/v5/configs', { method: 'PUT', body: 'a = 1' });
    assert.equal(root.status, 400);
    assert.match((root.json as { errors: { a: string } }).errors.a, /^\{root_key_not_found,/);
    const level = await api(c0, '/api/v5/configs', { method: 'PUT', body: 'log.console.level = x' });
    assert.equal(level.status, 400);
    assert.deepEqual(level.json, {
      errors: {
        log: {
          kind: 'validation_error',
          path: 'log.console.level',
          reason: 'unable_to_convert_to_enum_symbol',
          value: 'x',
        },
      },
    });
    const dash = await api(c0, '/api/v5/configs', { method: 'PUT', body: 'dashboard.nofield = 1' });
    assert.deepEqual(dash.json, {
      errors: { dashboard: { kind: 'validation_error', reason: 'unknown_fields', unknown: 'nofield' } },
    });
    const mode = await api(c0, '/api/v5/configs?mode=patch', {
      method: 'PUT',
      body: 'log.console.level = info',
    });
    assert.equal(mode.status, 400);
    const empty = await api(c0, '/api/v5/configs', { method: 'PUT', body: '' });
    assert.equal(empty.status, 200);
  });

  test('GET /monitor_current: flat integers over the cluster', T, async () => {
    tb.fabric.setClients(name('emqx-core-0'), { connections: 7, sessions: 9 });
    tb.fabric.setClients(nodeName(r0), { connections: 3 });
    tb.fabric.retain(name('emqx-core-1'), 't/1', 'hello');
    const r = await api(c1, '/api/v5/monitor_current');
    assert.equal(r.status, 200);
    const m = r.json as Record<string, unknown>;
    assert.equal(m['connections'], 12);
    assert.equal(m['live_connections'], 10);
    assert.equal(m['retained_msg_count'], 1);
    for (const f of [
      'topics',
      'subscriptions',
      'shared_subscriptions',
      'received_msg_rate',
      'license_quota',
    ]) {
      assert.equal(typeof m[f], 'number', f);
    }
    const per = await api(c1, `/api/v5/monitor_current/nodes/${encodeURIComponent(nodeName(r0))}`);
    assert.equal((per.json as { connections: number }).connections, 3);
    assert.equal(typeof (per.json as { node_uptime: number }).node_uptime, 'number');
    const nodes = (await api(c1, '/api/v5/nodes')).json as Array<{ node: string; connections?: number }>;
    assert.equal(nodes.find((n) => n.node === name('emqx-core-0'))!.connections, 9);
    tb.fabric.setClients(name('emqx-core-0'), { connections: 0 });
    tb.fabric.setClients(nodeName(r0), { connections: 0 });
  });

  test('/ds/* is 404 "Durable storage is disabled" while durable sessions are off', T, async () => {
    const r = await api(c0, '/api/v5/ds/sites');
    assert.deepEqual(
      { status: r.status, body: r.json },
      {
        status: 404,
        body: { code: 'NOT_FOUND', message: 'Durable storage is disabled' },
      },
    );
  });

  test('faults: slow or failing API, failing /status, RPC failure', T, async () => {
    const n0 = name('emqx-core-0');
    tb.fabric.setFaults(n0, { api: { status: 503 } });
    const failing = await api(c0, '/api/v5/nodes');
    assert.equal(failing.status, 503);
    assert.equal((await api(c0, '/status', { auth: null })).status, 200, '/status unaffected by API faults');
    tb.fabric.setFaults(n0, { api: { delayMs: 4000 } }); // 200 ms real at timeScale 20
    const t0 = Date.now();
    assert.equal((await api(c0, '/api/v5/nodes')).status, 200);
    assert.ok(Date.now() - t0 >= 150, 'slow API');
    tb.fabric.setFaults(n0, { statusFail: true });
    const st = await api(c0, '/status', { auth: null });
    assert.equal(st.status, 503);
    assert.equal(st.text, '');
    assert.equal(st.headers.get('retry-after'), '15');
    tb.fabric.setFaults(n0, { rpcFail: true });
    const list = (await api(c1, '/api/v5/nodes')).json as Array<{ node: string }>;
    assert.ok(!list.some((n) => n.node === n0), 'a node whose RPC fails is omitted');
    const direct = await api(c1, `/api/v5/nodes/${encodeURIComponent(n0)}`);
    assert.equal(direct.status, 503);
    assert.equal((direct.json as { code: string }).code, 'RPC_ERROR');
    tb.fabric.clearFaults();
    assert.equal((await api(c1, '/api/v5/nodes')).status, 200);
  });

  test('force_leave of a stopped core removes its stub', T, async () => {
    const r = await api(c1, `/api/v5/cluster/${encodeURIComponent(name('emqx-core-2'))}/force_leave`, {
      method: 'DELETE',
    });
    assert.equal(r.status, 204);
    const nodes = (await api(c0, '/api/v5/nodes')).json as Array<{ node: string }>;
    assert.ok(!nodes.some((n) => n.node === name('emqx-core-2')));
    assert.equal(nodes.length, 3);
  });
});

describe('EMQX REST API details that depend on version, edition and role', () => {
  let tb: Testbed;
  before(() => {
    tb = new Testbed();
  });
  after(() => tb.close());

  test('6.x /status JSON carries cluster instead of rel_vsn; Enterprise edition', T, async () => {
    const n = await tb.core('six-0', { image: 'emqx/emqx:6.0.1' });
    await waitFor('running', async () => (await api(n, '/status', { auth: null })).status === 200);
    const r = await api(n, '/status?format=json', { auth: null });
    assert.deepEqual(r.json, {
      node_name: `emqx@six-0.${HEADLESS}`,
      cluster: 'emqxcl',
      broker_status: 'started',
      app_status: 'running',
    });
    const nodes = (await api(n, '/api/v5/nodes')).json as Array<Record<string, unknown>>;
    assert.equal(nodes[0]!['edition'], 'Enterprise');
    assert.equal(nodes[0]!['otp_release'], '27.2-3/15.2');
    const j = await api(n, '/api/v5/configs', { headers: { accept: 'application/json' } });
    assert.ok('a2a_registry' in (j.json as object));
  });

  test('/status is 503 "not_running" while booting', T, async () => {
    const slow = new Testbed({ timeScale: 1, timing: { bootMs: 60_000 } });
    try {
      const n = await slow.core('slow-0');
      const r = await api(n, '/status', { auth: null });
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('retry-after'), '15');
      assert.match(r.text, /emqx is not_running$/);
      const j = await api(n, '/api/v5/status?format=json', { auth: null });
      assert.equal((j.json as { app_status: string }).app_status, 'not_running');
    } finally {
      await slow.close();
    }
  });

  test('Enterprise roles: a viewer key reads but cannot write (403 UNAUTHORIZED_ROLE)', T, async () => {
    const ip = nextIp();
    const n = await tb.start({
      name: 'roles-0',
      image: 'emqx/emqx-enterprise:5.8.3',
      env: { EMQX_API_KEY__BOOTSTRAP_FILE: '/opt/emqx/data/keys', EMQX_HOST: ip },
      ip,
      files: { '/opt/emqx/data/keys': 'admin-k:admin-secret\nview-k:view-secret:viewer\n' },
    });
    await waitFor('running', async () => (await api(n, '/status', { auth: null })).status === 200);
    const viewer = basic('view-k', 'view-secret');
    assert.equal((await api(n, '/api/v5/nodes', { auth: viewer })).status, 200);
    const put = await api(n, '/api/v5/configs', {
      method: 'PUT',
      body: 'log.console.level = info',
      auth: viewer,
    });
    assert.equal(put.status, 403);
    assert.equal((put.json as { code: string }).code, 'UNAUTHORIZED_ROLE');
    const admin = await api(n, '/api/v5/configs', {
      method: 'PUT',
      body: 'log.console.level = info',
      auth: basic('admin-k', 'admin-secret'),
    });
    assert.equal(admin.status, 200);
  });

  test(
    'a bad line in the bootstrap file aborts the load: earlier keys work, later ones do not',
    T,
    async () => {
      const ip = nextIp();
      const n = await tb.start({
        name: 'badkeys-0',
        image: 'emqx/emqx:5.8.3',
        ip,
        env: { EMQX_API_KEY__BOOTSTRAP_FILE: '/opt/emqx/data/keys', EMQX_HOST: ip },
        files: { '/opt/emqx/data/keys': 'first:secret-1\n\nbroken-line\nthird:secret-3\n' },
      });
      await waitFor('running', async () => (await api(n, '/status', { auth: null })).status === 200);
      assert.equal((await api(n, '/api/v5/nodes', { auth: basic('first', 'secret-1') })).status, 200);
      assert.equal((await api(n, '/api/v5/nodes', { auth: basic('third', 'secret-3') })).status, 401);
      assert.ok(!n.logs.join('\n').includes('secret-'), 'secrets never logged');
    },
  );
});
