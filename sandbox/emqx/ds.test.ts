// Durable storage of the emulated nodes (emqx-node-api.md §2.7 `/ds/*`, §2.3 `nonempty_ds_site`): sites from
// the data dir, shards and replica sets, transitions that take emulated time, the leave refusal, 404 when
// disabled, and durable sessions that outlive their node.
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { computeAllocation, pendingTransitions, shardOf } from './ds.ts';
import { HEADLESS, Testbed, api, runningNames, waitFor } from './testkit.ts';
import type { StartedNode } from './testkit.ts';

const T = { timeout: 30_000 };
const DS_ENV = {
  EMQX_DURABLE_SESSIONS__ENABLE: 'true',
  EMQX_DURABLE_STORAGE__MESSAGES__N_SHARDS: '4',
  EMQX_DURABLE_STORAGE__MESSAGES__REPLICATION_FACTOR: '2',
};
const name = (pod: string): string => `emqx@${pod}.${HEADLESS}`;

interface DbView {
  name: string;
  shards: Array<{
    id: string;
    replicas: Array<{ site: string; status: string }>;
    transitions?: Array<{ site: string; transition: string }>;
  }>;
}

async function db(n: StartedNode): Promise<DbView> {
  const r = await api(n, '/api/v5/ds/storages/messages');
  assert.equal(r.status, 200, r.text);
  return r.json as DbView;
}

async function siteOf(n: StartedNode, node: string): Promise<string> {
  const sites = (await api(n, '/api/v5/ds/sites')).json as string[];
  for (const s of sites) {
    const info = (await api(n, `/api/v5/ds/sites/${s}`)).json as { node: string };
    if (info.node === node) return s;
  }
  throw new Error(`no site for ${node}`);
}

/** Two clustered DS cores (`tb` decides the clock) and, with `sites`, both their sites registered. */
async function twoCores(
  tb: Testbed,
  opts: { sites?: boolean } = {},
): Promise<{ c0: StartedNode; c1: StartedNode; s0: string; s1: string }> {
  const c0 = await tb.core('emqx-core-0', { env: DS_ENV });
  await waitFor('c0 running', async () => (await runningNames(c0)).length === 1);
  const c1 = await tb.core('emqx-core-1', { env: DS_ENV });
  await waitFor('clustered', async () => (await runningNames(c0)).length === 2);
  if (!opts.sites) return { c0, c1, s0: '', s1: '' };
  await waitFor('2 sites', async () => ((await api(c0, '/api/v5/ds/sites')).json as string[]).length === 2);
  return { c0, c1, s0: await siteOf(c0, name('emqx-core-0')), s1: await siteOf(c1, name('emqx-core-1')) };
}

const stable = (v: DbView, sites: string[]): boolean =>
  v.shards.every(
    (s) =>
      !s.transitions &&
      s.replicas.map((r) => r.site).join() === [...sites].sort().join() &&
      s.replicas.every((r) => r.status === 'up'),
  );

test('allocation and transition plans (pure)', () => {
  const shards = ['0', '1', '2', '3'].map((id) => ({ id, replicas: ['A'] }));
  const two = computeAllocation(shards, ['A', 'B'], 3);
  assert.deepEqual(
    [...two.values()],
    [
      ['A', 'B'],
      ['A', 'B'],
      ['A', 'B'],
      ['A', 'B'],
    ],
  );
  // 4 sites, factor 2: existing replicas are kept, the rest spread evenly
  const four = computeAllocation(
    [...two].map(([id, replicas]) => ({ id, replicas })),
    ['A', 'B', 'C', 'D'],
    2,
  );
  const load = new Map<string, number>();
  for (const set of four.values()) {
    assert.equal(set.length, 2);
    for (const s of set) load.set(s, (load.get(s) ?? 0) + 1);
  }
  assert.deepEqual([...load.values()], [2, 2, 2, 2]);
  assert.deepEqual(pendingTransitions({ replicas: ['A', 'B'], target: ['B', 'C'] }), [
    { site: 'C', op: 'add' },
    { site: 'A', op: 'del' },
  ]);
  assert.deepEqual(pendingTransitions({ replicas: ['A'] }), []);
  assert.equal(shardOf('client-1', 4), shardOf('client-1', 4));
});

describe('/ds/* REST API', () => {
  let tb: Testbed;
  beforeEach(() => {
    tb = new Testbed();
  });
  afterEach(() => tb.close());

  test('disabled durable storage: every /ds path is 404 "Durable storage is disabled"', T, async () => {
    const c0 = await tb.core('emqx-core-0');
    await waitFor('running', async () => (await runningNames(c0)).length === 1);
    for (const p of ['/api/v5/ds/sites', '/api/v5/ds/storages', '/api/v5/ds/storages/messages']) {
      const r = await api(c0, p);
      assert.equal(r.status, 404, p);
      assert.deepEqual(r.json, { code: 'NOT_FOUND', message: 'Durable storage is disabled' });
    }
    const put = await api(c0, '/api/v5/ds/storages/messages/replicas', { method: 'PUT', body: ['x'] });
    assert.equal(put.status, 404);
  });

  test(
    'sites, shards, a replica set change that takes time, errors, and the nonempty_ds_site refusal',
    T,
    async () => {
      const { c0, c1, s0, s1 } = await twoCores(tb, { sites: true });
      assert.match(s0, /^[0-9A-F]{16}$/);
      assert.notEqual(s0, s1);
      assert.deepEqual((await api(c1, '/api/v5/ds/storages')).json, ['messages']);
      // the first core allocated every shard to itself; the joiner holds nothing until it is assigned
      const v = await db(c1);
      assert.equal(v.name, 'messages');
      assert.deepEqual(
        v.shards.map((s) => s.id),
        ['0', '1', '2', '3'],
      );
      assert.ok(v.shards.every((s) => s.replicas.length === 1 && s.replicas[0]!.site === s0));
      const site1 = (await api(c0, `/api/v5/ds/sites/${s1}`)).json as {
        node: string;
        up: boolean;
        shards: [];
      };
      assert.deepEqual(site1, { node: name('emqx-core-1'), up: true, shards: [] });
      // errors, as emqx_mgmt_api_ds gives them
      assert.deepEqual((await api(c0, '/api/v5/ds/sites/NOPE')).json, {
        code: 'NOT_FOUND',
        message: 'Site not found: NOPE',
      });
      assert.deepEqual((await api(c0, '/api/v5/ds/storages/nodb')).json, {
        code: 'NOT_FOUND',
        message: "DB 'nodb' does not exist",
      });
      const put = (body: unknown): ReturnType<typeof api> =>
        api(c0, '/api/v5/ds/storages/messages/replicas', { method: 'PUT', body: body as object });
      assert.deepEqual((await put([])).json, {
        code: 'BAD_REQUEST',
        message: 'Replica sets would become too small',
      });
      assert.deepEqual((await put([s0, 'NOPE'])).json, {
        code: 'BAD_REQUEST',
        message: 'Unknown sites: NOPE',
      });
      assert.deepEqual((await put({ a: 1 })).json, { code: 'BAD_REQUEST', message: 'Bad type' });

      // add the second site: 202, transitions show at once, and take emulated time
      const r = await put([s0, s1]);
      assert.equal(r.status, 202);
      const during = await db(c0);
      assert.ok(
        during.shards.every((s) => s.transitions?.some((t) => t.site === s1 && t.transition === 'joining')),
      );
      const joining = (await api(c0, `/api/v5/ds/sites/${s1}`)).json as {
        shards: Array<{ transition?: string }>;
      };
      assert.equal(joining.shards.length, 4);
      assert.ok(joining.shards.every((s) => s.transition === 'joining'));
      await waitFor('both sites hold every shard', async () => stable(await db(c1), [s0, s1]));
      assert.deepEqual((await api(c0, '/api/v5/ds/storages/messages/replicas')).json, [s0, s1].sort());

      // a core that holds replicas cannot leave (preStop) nor be force-left
      const leave = await c1.container.exec(['emqx', 'ctl', 'cluster', 'leave'], 5000);
      assert.match(leave.stdout, /Failed to leave the cluster: nonempty_ds_site/);
      const fl = await api(c0, `/api/v5/cluster/${encodeURIComponent(name('emqx-core-1'))}/force_leave`, {
        method: 'DELETE',
      });
      assert.deepEqual([fl.status, fl.json], [400, { code: 'BAD_REQUEST', message: 'nonempty_ds_site' }]);
      assert.equal((await runningNames(c0)).length, 2);

      // take it out of the replica set (DELETE …/replicas/{site}), wait for the transitions, then it may go
      const del = await api(c0, `/api/v5/ds/storages/messages/replicas/${s1}`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      const leaving = await db(c0);
      assert.ok(
        leaving.shards.every((s) => s.transitions?.some((t) => t.site === s1 && t.transition === 'leaving')),
      );
      const again = await api(c0, `/api/v5/ds/storages/messages/replicas/${s1}`, { method: 'DELETE' });
      assert.deepEqual(
        [again.status, again.json],
        [404, { code: 'NOT_FOUND', message: 'Site is not part of replica set' }],
      );
      await waitFor('s1 holds nothing', async () => stable(await db(c0), [s0]));
      const ok = await api(c0, `/api/v5/cluster/${encodeURIComponent(name('emqx-core-1'))}/force_leave`, {
        method: 'DELETE',
      });
      assert.equal(ok.status, 204);
      await waitFor('c1 left', async () => (await runningNames(c0)).length === 1);
      // the site is remembered but lost; it cannot be a replica target
      assert.deepEqual((await put([s0, s1])).json, {
        code: 'BAD_REQUEST',
        message: `Replication still targets lost sites: ${s1}`,
      });
    },
  );

  test(
    'a restarted core keeps its site; its replicas are down while it is away and up after',
    T,
    async () => {
      const { c0, c1, s0, s1 } = await twoCores(tb, { sites: true });
      await api(c0, '/api/v5/ds/storages/messages/replicas', { method: 'PUT', body: [s0, s1] });
      await waitFor('replicated', async () => stable(await db(c0), [s0, s1]));
      await tb.stop(c1);
      await waitFor('s1 down', async () =>
        (await db(c0)).shards.every((s) => s.replicas.find((r) => r.site === s1)?.status === 'down'),
      );
      const away = (await api(c0, `/api/v5/ds/sites/${s1}`)).json as { up: boolean };
      assert.equal(away.up, false);
      const back = await tb.core('emqx-core-1', { env: DS_ENV, dataDir: c1.input.dataDir! });
      await waitFor('rejoined', async () => (await runningNames(c0)).length === 2);
      assert.equal(await siteOf(back, name('emqx-core-1')), s1);
      await waitFor('s1 up again', async () => stable(await db(c0), [s0, s1]));
    },
  );
});

// ----- durable sessions -----

const clients: MqttClient[] = [];
after(() => {
  for (const c of clients) c.end(true);
});

async function connect(
  n: StartedNode,
  opts: IClientOptions,
): Promise<{ c: MqttClient; present: boolean; got: string[] }> {
  const c = mqtt.connect(`mqtt://${n.ip}:1883`, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  clients.push(c);
  // collected from the first packet on: a resumed session's messages follow the CONNACK at once
  const got: string[] = [];
  c.on('message', (_t, p) => got.push(p.toString()));
  const present = await new Promise<boolean>((resolve, reject) => {
    c.once('connect', (ack) => resolve(ack.sessionPresent));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
  return { c, present, got };
}

describe('durable sessions', () => {
  let tb: Testbed;
  beforeEach(() => {
    tb = new Testbed();
  });
  afterEach(() => tb.close());

  test(
    'a persistent session outlives its node: messages published meanwhile reach it on another node',
    T,
    async () => {
      const { c0, c1 } = await twoCores(tb);
      const opts = {
        protocolVersion: 5 as const,
        clientId: 'dur-1',
        clean: false,
        properties: { sessionExpiryInterval: 3600 },
      };
      const sub = await connect(c1, opts);
      await sub.c.subscribeAsync('dur/#', { qos: 1 });
      await tb.stop(c1);
      await waitFor('sub dropped', () => !sub.c.connected);
      const pub = await connect(c0, { protocolVersion: 5, clientId: 'dur-pub' });
      await pub.c.publishAsync('dur/a', 'm1', { qos: 1 });
      await pub.c.publishAsync('dur/b', 'm2', { qos: 1 });
      const back = await connect(c0, opts);
      assert.equal(back.present, true);
      const got = back.got;
      await waitFor('both messages', () => got.length === 2);
      assert.deepEqual(got, ['m1', 'm2']);
    },
  );

  test(
    'a single core restarted from its data dir resumes its durable sessions and their messages',
    T,
    async () => {
      const c0 = await tb.core('emqx-core-0', { env: DS_ENV });
      await waitFor('c0 running', async () => (await runningNames(c0)).length === 1);
      const opts = { protocolVersion: 4 as const, clientId: 'dur-restart', clean: false };
      const sub = await connect(c0, opts);
      await sub.c.subscribeAsync('r/#', { qos: 1 });
      sub.c.end(true);
      const pub = await connect(c0, { protocolVersion: 5, clientId: 'dur-pub2' });
      await pub.c.publishAsync('r/1', 'kept', { qos: 1 });
      pub.c.end(true);
      await tb.stop(c0);
      const again = await tb.core('emqx-core-0', { env: DS_ENV, dataDir: c0.input.dataDir! });
      await waitFor('running again', async () => (await runningNames(again)).length === 1);
      const back = await waitFor('reconnected', async () => {
        try {
          return await connect(again, opts);
        } catch {
          return undefined;
        }
      });
      assert.equal(back.present, true);
      const got = back.got;
      await waitFor('the stored message', () => got.length === 1);
      assert.deepEqual(got, ['kept']);
    },
  );

  test('without durable sessions the same restart loses the session (control)', T, async () => {
    const c0 = await tb.core('emqx-core-0', { env: { EMQX_DURABLE_STORAGE__MESSAGES__N_SHARDS: '4' } });
    await waitFor('c0 running', async () => (await runningNames(c0)).length === 1);
    const opts = { protocolVersion: 4 as const, clientId: 'mem-restart', clean: false };
    const sub = await connect(c0, opts);
    await sub.c.subscribeAsync('r/#', { qos: 1 });
    sub.c.end(true);
    await tb.stop(c0);
    const again = await tb.core('emqx-core-0', { dataDir: c0.input.dataDir! });
    await waitFor('running again', async () => (await runningNames(again)).length === 1);
    const back = await waitFor('reconnected', async () => {
      try {
        return await connect(again, opts);
      } catch {
        return undefined;
      }
    });
    assert.equal(back.present, false);
  });
});
