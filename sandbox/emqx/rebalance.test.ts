// Contract tests of /api/v5/load_rebalance/* (emqx-node-api.md §2.6) on a ManualClock, so every state of the
// evacuation and rebalance state machines can be observed in order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from './clock.ts';
import { HEADLESS, Testbed, api, runningNames } from './testkit.ts';
import type { StartedNode } from './testkit.ts';

const T = { timeout: 30_000 };
const core = (pod: string): string => `emqx@${pod}.${HEADLESS}`;
const enc = encodeURIComponent;

interface EvacStatus {
  node: string;
  state: string;
  connection_eviction_rate: number;
  session_eviction_rate: number;
  connection_goal: number;
  session_goal: number;
  session_recipients: string[];
  stats: {
    initial_connected: number;
    current_connected: number;
    initial_sessions: number;
    current_sessions: number;
  };
}

interface GlobalStatus {
  evacuations: EvacStatus[];
  rebalances: Array<Record<string, unknown>>;
  purges: unknown[];
}

async function globalStatus(n: StartedNode): Promise<GlobalStatus> {
  const r = await api(n, '/api/v5/load_rebalance/global_status');
  assert.equal(r.status, 200);
  return r.json as GlobalStatus;
}

async function bootCluster(
  tb: Testbed,
  clock: ManualClock,
  pods: string[],
  image?: string,
): Promise<StartedNode[]> {
  const nodes: StartedNode[] = [];
  for (const p of pods) nodes.push(await tb.core(p, image === undefined ? {} : { image }));
  for (let i = 0; i < 20 && (await runningNames(nodes[0]!)).length < pods.length; i++)
    await clock.advance(1000);
  await clock.advance(2000);
  assert.equal((await runningNames(nodes[0]!)).length, pods.length, 'cluster formed');
  return nodes;
}

describe('node evacuation', () => {
  const clock = new ManualClock();
  let tb: Testbed;
  let c0: StartedNode;
  let c1: StartedNode;
  let c2: StartedNode;

  before(async () => {
    tb = new Testbed({ clock });
    [c0, c1, c2] = await bootCluster(tb, clock, ['emqx-core-0', 'emqx-core-1', 'emqx-core-2']);
  });
  after(() => tb.close());

  test(
    'node list validation: never-seen names 400 BAD_REQUEST, stopped or busy nodes 400 NOT_FOUND',
    T,
    async () => {
      const invalid = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-2'))}/evacuation/start`, {
        method: 'POST',
        body: { migrate_to: ['emqx@nowhere'] },
      });
      assert.equal(invalid.status, 400);
      assert.deepEqual(invalid.json, { code: 'BAD_REQUEST', message: 'Invalid nodes: [<<"emqx@nowhere">>]' });
      // a node this fabric has seen but that is not running
      const extra = await tb.core('emqx-core-9');
      await clock.advance(3000);
      await tb.stop(extra);
      const unavailable = await api(
        c0,
        `/api/v5/load_rebalance/${enc(core('emqx-core-2'))}/evacuation/start`,
        {
          method: 'POST',
          body: { migrate_to: [core('emqx-core-9')] },
        },
      );
      assert.equal(unavailable.status, 400);
      assert.deepEqual(unavailable.json, {
        code: 'NOT_FOUND',
        message: `Nodes unavailable: ['${core('emqx-core-9')}']`,
      });
      const notRunning = await api(
        c0,
        `/api/v5/load_rebalance/${enc(core('emqx-core-9'))}/evacuation/start`,
        {
          method: 'POST',
        },
      );
      assert.equal(notRunning.status, 404);
      const badRate = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-2'))}/evacuation/start`, {
        method: 'POST',
        body: { conn_evict_rate: 0 },
      });
      assert.equal(badRate.status, 400);
      assert.equal((badRate.json as { code: string }).code, 'BAD_REQUEST');
      const stopNothing = await api(
        c0,
        `/api/v5/load_rebalance/${enc(core('emqx-core-2'))}/evacuation/stop`,
        {
          method: 'POST',
        },
      );
      assert.deepEqual(stopNothing.json, {
        code: 'BAD_REQUEST',
        message: `error on node '${core('emqx-core-2')}': not_started`,
      });
    },
  );

  test('availability_check: 200 {} without auth', T, async () => {
    const r = await api(c2, '/api/v5/load_rebalance/availability_check', { auth: null });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {});
    const local = await api(c2, '/api/v5/load_rebalance/status');
    assert.deepEqual(local.json, { status: 'disabled' });
  });

  test(
    'evacuation walks waiting_health_check → evicting_conns → waiting_takeover → evicting_sessions → prohibiting',
    T,
    async () => {
      const f = tb.fabric;
      f.setClients(core('emqx-core-2'), { connections: 100, sessions: 130 });
      const start = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-2'))}/evacuation/start`, {
        method: 'POST',
        body: {
          conn_evict_rate: 30,
          sess_evict_rate: 10,
          wait_health_check: '3s',
          wait_takeover: 2,
          migrate_to: [core('emqx-core-0')],
        },
      });
      assert.equal(start.status, 200);
      assert.deepEqual(start.json, {});
      // the eviction agent is on from the start
      const avail = await api(c2, '/api/v5/load_rebalance/availability_check', { auth: null });
      assert.equal(avail.status, 503);
      assert.deepEqual(avail.json, { code: 'NODE_EVACUATING', message: 'Node Evacuating' });
      assert.equal((await api(c1, '/api/v5/load_rebalance/availability_check', { auth: null })).status, 200);
      const again = await api(c1, `/api/v5/load_rebalance/${enc(core('emqx-core-2'))}/evacuation/start`, {
        method: 'POST',
      });
      assert.deepEqual(again.json, {
        code: 'BAD_REQUEST',
        message: `error on node '${core('emqx-core-2')}': already_started`,
      });
      // an evacuating node is no valid target
      const busy = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-1'))}/evacuation/start`, {
        method: 'POST',
        body: { migrate_to: [core('emqx-core-2')] },
      });
      assert.equal((busy.json as { code: string }).code, 'NOT_FOUND');

      const first = (await globalStatus(c1)).evacuations;
      assert.equal(first.length, 1);
      assert.deepEqual(first[0], {
        node: core('emqx-core-2'),
        state: 'waiting_health_check',
        connection_eviction_rate: 30,
        session_eviction_rate: 10,
        connection_goal: 0,
        session_goal: 0,
        session_recipients: [core('emqx-core-0')],
        stats: {
          initial_connected: 100,
          current_connected: 100,
          initial_sessions: 130,
          current_sessions: 130,
        },
      });
      assert.equal(
        f.connect(core('emqx-core-2'), 1),
        1,
        'new connections allowed while waiting for health checks',
      );
      f.disconnect(core('emqx-core-2'), 1, { dropSessions: true });

      const seen: string[] = ['waiting_health_check'];
      const connectedPerTick: number[] = [];
      for (let i = 0; i < 30; i++) {
        await clock.advance(1000);
        const e = (await globalStatus(c0)).evacuations[0]!;
        if (e.state === 'evicting_conns') connectedPerTick.push(e.stats.current_connected);
        if (seen[seen.length - 1] !== e.state) seen.push(e.state);
        if (e.state === 'evicting_conns') {
          assert.equal(f.connect(core('emqx-core-2'), 5), 0, 'new connections refused while evicting');
        }
        if (e.state === 'prohibiting') break;
      }
      assert.deepEqual(seen, [
        'waiting_health_check',
        'evicting_conns',
        'waiting_takeover',
        'evicting_sessions',
        'prohibiting',
      ]);
      // 30 per 1 s tick
      assert.ok(
        connectedPerTick.includes(70) || connectedPerTick.includes(40),
        JSON.stringify(connectedPerTick),
      );
      // nothing lost: all 130 sessions, 100 of them connected, are on the migrate_to node
      const counts = f.counts();
      assert.deepEqual(counts.total, { connections: 100, sessions: 130 });
      assert.deepEqual(
        counts.nodes.map((n) => [n.name, n.connections, n.sessions]),
        [
          [core('emqx-core-0'), 100, 130],
          [core('emqx-core-1'), 0, 0],
          [core('emqx-core-2'), 0, 0],
        ],
      );
      const local = (await api(c2, '/api/v5/load_rebalance/status')).json as Record<string, unknown>;
      assert.equal(local['status'], 'enabled');
      assert.equal(local['process'], 'evacuation');
      assert.equal(local['state'], 'prohibiting');
      // the evacuated node lists fine in /nodes with 0 sessions
      const nodes = (await api(c0, '/api/v5/nodes')).json as Array<{ node: string; connections: number }>;
      assert.equal(nodes.find((n) => n.node === core('emqx-core-2'))!.connections, 0);
    },
  );

  test(
    'the evacuation persists in data/.evacuation and resumes at evicting_conns after a restart',
    T,
    async () => {
      await tb.stop(c2);
      const back = await tb.core('emqx-core-2', { dataDir: c2.input.dataDir! });
      for (let i = 0; i < 10 && (await runningNames(c0)).length < 3; i++) await clock.advance(1000);
      const e = (await globalStatus(c0)).evacuations.find((x) => x.node === core('emqx-core-2'));
      assert.ok(e, 'evacuation listed again');
      assert.ok(
        ['evicting_conns', 'waiting_takeover', 'evicting_sessions', 'prohibiting'].includes(e.state),
        e.state,
      );
      assert.equal(
        (await api(back, '/api/v5/load_rebalance/availability_check', { auth: null })).status,
        503,
      );
      const stop = await api(c1, `/api/v5/load_rebalance/${enc(core('emqx-core-2'))}/evacuation/stop`, {
        method: 'POST',
      });
      assert.equal(stop.status, 200);
      assert.deepEqual(stop.json, {});
      assert.equal(
        (await api(back, '/api/v5/load_rebalance/availability_check', { auth: null })).status,
        200,
      );
      assert.deepEqual((await globalStatus(c0)).evacuations, []);
    },
  );

  test(
    'with nowhere to go, clean clients are dropped and persistent sessions stay until a target appears',
    T,
    async () => {
      const f = tb.fabric;
      f.setClients(core('emqx-core-0'), { connections: 0 });
      f.setClients(core('emqx-core-1'), { connections: 10, sessions: 10 });
      f.connect(core('emqx-core-1'), 5, { cleanStart: true });
      // migrate_to a node we then stop
      const r = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-1'))}/evacuation/start`, {
        method: 'POST',
        body: {
          migrate_to: [core('emqx-core-2')],
          wait_health_check: 0,
          wait_takeover: 0,
          conn_evict_rate: 100,
        },
      });
      assert.equal(r.status, 200);
      f.stopApp(core('emqx-core-2'));
      for (let i = 0; i < 5; i++) await clock.advance(1000);
      const e = (await globalStatus(c0)).evacuations[0]!;
      assert.equal(e.state, 'evicting_sessions');
      assert.deepEqual(
        [e.stats.current_connected, e.stats.current_sessions],
        [0, 10],
        '5 clean clients gone, 10 persistent sessions wait',
      );
      f.startApp(core('emqx-core-2'));
      for (let i = 0; i < 40 && (await globalStatus(c0)).evacuations[0]!.state !== 'prohibiting'; i++) {
        await clock.advance(1000);
      }
      assert.equal((await globalStatus(c0)).evacuations[0]!.state, 'prohibiting');
      assert.equal(f.counts().nodes.find((n) => n.name === core('emqx-core-2'))!.sessions, 10);
      await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-1'))}/evacuation/stop`, { method: 'POST' });
    },
  );
});

describe('rebalance', () => {
  const clock = new ManualClock();
  let tb: Testbed;
  let c0: StartedNode;

  before(async () => {
    tb = new Testbed({ clock });
    [c0] = await bootCluster(tb, clock, ['emqx-core-0', 'emqx-core-1', 'emqx-core-2']);
  });
  after(() => tb.close());

  test('nothing_to_balance on an even cluster; stop without start is not_started', T, async () => {
    const r = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-0'))}/start`, {
      method: 'POST',
      body: {},
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, {
      code: 'BAD_REQUEST',
      message: `error on node '${core('emqx-core-0')}': nothing_to_balance`,
    });
    const s = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-0'))}/stop`, { method: 'POST' });
    assert.deepEqual(s.json, {
      code: 'BAD_REQUEST',
      message: `error on node '${core('emqx-core-0')}': not_started`,
    });
  });

  test('donors evict to recipients; the rebalance vanishes from global_status once done', T, async () => {
    const f = tb.fabric;
    f.setClients(core('emqx-core-0'), { connections: 300, sessions: 360 });
    const all = [core('emqx-core-0'), core('emqx-core-1'), core('emqx-core-2')];
    const r = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-0'))}/start`, {
      method: 'POST',
      body: {
        nodes: all,
        conn_evict_rate: 50,
        sess_evict_rate: 50,
        wait_health_check: 1,
        wait_takeover: 1,
        abs_conn_threshold: 10,
        rel_conn_threshold: 1.1,
        abs_sess_threshold: 10,
        rel_sess_threshold: 1.1,
      },
    });
    assert.equal(r.status, 200, r.text);
    const g = await globalStatus(c0);
    assert.equal(g.rebalances.length, 1);
    const rb = g.rebalances[0]!;
    assert.equal(rb['node'], core('emqx-core-0'));
    assert.equal(rb['coordinator_node'], core('emqx-core-0'));
    assert.equal(rb['state'], 'wait_health_check');
    assert.deepEqual(rb['donors'], [core('emqx-core-0')]);
    assert.deepEqual(rb['recipients'], [core('emqx-core-1'), core('emqx-core-2')]);
    assert.equal(rb['connection_eviction_rate'], 50);
    assert.equal((await api(c0, '/api/v5/load_rebalance/availability_check', { auth: null })).status, 503);
    const local = (await api(c0, '/api/v5/load_rebalance/status')).json as Record<string, unknown>;
    assert.equal(local['process'], 'rebalance');
    const again = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-0'))}/start`, {
      method: 'POST',
      body: { nodes: all, abs_conn_threshold: 10 },
    });
    assert.equal(
      (again.json as { message: string }).message,
      `error on node '${core('emqx-core-0')}': already_started`,
    );
    const evacDonor = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-0'))}/evacuation/start`, {
      method: 'POST',
    });
    assert.equal(
      (evacDonor.json as { message: string }).message,
      `error on node '${core('emqx-core-0')}': eviction_agent_busy`,
    );

    const seen = ['wait_health_check'];
    for (let i = 0; i < 40; i++) {
      await clock.advance(1000);
      const rs = (await globalStatus(c0)).rebalances;
      if (rs.length === 0) {
        seen.push('(done)');
        break;
      }
      const s = String(rs[0]!['state']);
      if (seen[seen.length - 1] !== s) seen.push(s);
    }
    assert.deepEqual(seen, [
      'wait_health_check',
      'evicting_conns',
      'wait_takeover',
      'evicting_sessions',
      '(done)',
    ]);
    const counts = f.counts();
    assert.deepEqual(counts.total, { connections: 300, sessions: 360 });
    for (const n of counts.nodes) {
      assert.ok(n.connections >= 90 && n.connections <= 110, `${n.name} has ${n.connections} connections`);
    }
    assert.equal((await api(c0, '/api/v5/load_rebalance/availability_check', { auth: null })).status, 200);
  });

  test('stop a running rebalance through its coordinator', T, async () => {
    const f = tb.fabric;
    f.setClients(core('emqx-core-0'), { connections: 0 });
    f.setClients(core('emqx-core-1'), { connections: 0 });
    f.setClients(core('emqx-core-2'), { connections: 500 });
    const r = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-1'))}/start`, {
      method: 'POST',
      body: { abs_conn_threshold: 10, wait_health_check: 30 },
    });
    assert.equal(r.status, 200, r.text);
    const s = await api(c0, `/api/v5/load_rebalance/${enc(core('emqx-core-1'))}/stop`, { method: 'POST' });
    assert.equal(s.status, 200);
    assert.deepEqual((await globalStatus(c0)).rebalances, []);
  });
});

describe('Opensource editions have no load_rebalance', () => {
  const clock = new ManualClock();
  let tb: Testbed;
  let c0: StartedNode;
  before(async () => {
    tb = new Testbed({ clock });
    [c0] = await bootCluster(tb, clock, ['emqx-core-0'], 'emqx/emqx:5.8.3');
  });
  after(() => tb.close());

  test('every /load_rebalance path is 404 on emqx/emqx:5.8.3', T, async () => {
    for (const [method, p, auth] of [
      ['GET', '/api/v5/load_rebalance/availability_check', null],
      ['GET', '/api/v5/load_rebalance/global_status', undefined],
      ['GET', '/api/v5/load_rebalance/status', undefined],
      ['POST', `/api/v5/load_rebalance/${enc(core('emqx-core-0'))}/evacuation/start`, undefined],
      ['POST', `/api/v5/load_rebalance/${enc(core('emqx-core-0'))}/start`, undefined],
    ] as const) {
      const r = await api(c0, p, { method, ...(auth === null ? { auth: null } : {}) });
      assert.equal(r.status, 404, p);
      assert.equal((r.json as { code: string }).code, 'NOT_FOUND');
    }
    const nodes = (await api(c0, '/api/v5/nodes')).json as Array<{ edition: string }>;
    assert.equal(nodes[0]!.edition, 'Opensource');
  });
});

describe('test holds (control API faults): an evacuation or a readiness kept where it is until released', () => {
  const clock = new ManualClock();
  let tb: Testbed;
  let c0: StartedNode;

  before(async () => {
    tb = new Testbed({ clock });
    [c0] = await bootCluster(tb, clock, ['emqx-core-0', 'emqx-core-1']);
  });
  after(() => tb.close());

  test('holdEvacuation keeps the evacuation in its state; released, it runs to prohibiting', T, async () => {
    const f = tb.fabric;
    const c1 = core('emqx-core-1');
    f.setClients(c1, { connections: 20 });
    const release = f.faultsWhere((n) => n.name === c1, { holdEvacuation: true });
    assert.deepEqual(f.node(core('emqx-core-0'))!.evacuation, undefined);
    const start = await api(c0, `/api/v5/load_rebalance/${enc(c1)}/evacuation/start`, {
      method: 'POST',
      body: { conn_evict_rate: 10, wait_health_check: 1, wait_takeover: 1 },
    });
    assert.equal(start.status, 200);
    for (let i = 0; i < 10; i++) await clock.advance(1000);
    assert.equal(f.node(c1)!.evacuation, 'waiting_health_check', 'held');
    assert.equal(f.node(c1)!.connections, 20, 'no client moved while held');
    release();
    const seen: string[] = [];
    for (let i = 0; i < 10 && f.node(c1)!.evacuation !== 'prohibiting'; i++) {
      await clock.advance(1000);
      seen.push(f.node(c1)!.evacuation!);
    }
    assert.equal(seen.at(-1), 'prohibiting', seen.join(' → '));
    assert.equal(f.node(c1)!.connections, 0);
    assert.equal(f.node(core('emqx-core-0'))!.connections, 20);
  });

  test(
    'faultsWhere also gives its faults to a node that starts later, from its first /status on',
    T,
    async () => {
      const f = tb.fabric;
      const release = f.faultsWhere((n) => n.pod.endsWith('emqx-core-2'), { statusFail: true });
      const c2 = await tb.core('emqx-core-2');
      assert.equal((await api(c2, '/status', { auth: null })).status, 503);
      for (let i = 0; i < 10 && !(await runningNames(c0)).includes(core('emqx-core-2')); i++)
        await clock.advance(1000);
      assert.ok((await runningNames(c0)).includes(core('emqx-core-2')), 'it runs in the cluster meanwhile');
      assert.equal((await api(c2, '/status', { auth: null })).status, 503, 'still held once running');
      assert.equal((await api(c0, '/status', { auth: null })).status, 200, 'other nodes are not affected');
      release();
      assert.equal((await api(c2, '/status', { auth: null })).status, 200);
    },
  );
});
