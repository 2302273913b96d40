// Contract tests of the emulated nodes' MQTT listeners with real MQTT.js clients (3.1.1 and 5.0, tcp and ws):
// cluster-wide routing (never across clusters), retained messages, shared subscriptions, persistent sessions,
// takeover (0x8E), and the eviction agent on real connections (0x9C, refused CONNECT, session migration).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient, Packet } from 'mqtt';
import { parseShare, topicMatches, validFilter } from './topic.ts';
import { HEADLESS, Testbed, api, runningNames, waitFor } from './testkit.ts';
import type { StartedNode } from './testkit.ts';

const T = { timeout: 60_000 };
const enc = encodeURIComponent;

test('topic filters: wildcards, $-topics, shared subscriptions', () => {
  assert.ok(topicMatches('a/+/c', 'a/b/c'));
  assert.ok(topicMatches('a/#', 'a'));
  assert.ok(topicMatches('a/#', 'a/b/c'));
  assert.ok(!topicMatches('a/+', 'a/b/c'));
  assert.ok(!topicMatches('#', '$SYS/x'));
  assert.ok(topicMatches('$SYS/#', '$SYS/x'));
  assert.deepEqual(parseShare('$share/g/t/#'), { group: 'g', filter: 't/#' });
  assert.equal(parseShare('$share/g'), undefined);
  assert.ok(validFilter('a/+/#'));
  assert.ok(!validFilter('a/#/b'));
  assert.ok(!validFilter('a+/b'));
});

type Received = Array<{ topic: string; payload: string; retain: boolean; packet: Packet }>;
const clients: MqttClient[] = [];
const inboxes = new WeakMap<MqttClient, Received>();

/** Connects a client; what it receives is collected from the first packet on (see inbox). */
async function connect(n: StartedNode, opts: IClientOptions & { ws?: boolean } = {}): Promise<MqttClient> {
  const url = opts.ws ? `ws://${n.ip}:8083/mqtt` : `mqtt://${n.ip}:1883`;
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  const got: Received = [];
  inboxes.set(c, got);
  c.on('message', (topic, payload, packet) =>
    got.push({ topic, payload: payload.toString(), retain: packet.retain, packet }),
  );
  clients.push(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
  return c;
}

/** The messages a client received. */
function inbox(c: MqttClient): Received {
  return inboxes.get(c)!;
}

function disconnectPacket(
  c: MqttClient,
): Promise<{ reasonCode?: number; properties?: Record<string, unknown> }> {
  return new Promise((resolve) => c.once('disconnect', (p) => resolve(p as never)));
}

describe('MQTT on emulated nodes', () => {
  let tb: Testbed;
  let c0: StartedNode;
  let c1: StartedNode;
  let r0: StartedNode;
  let other: StartedNode;

  before(async () => {
    tb = new Testbed({ timeScale: 20 });
    c0 = await tb.core('emqx-core-0');
    c1 = await tb.core('emqx-core-1');
    r0 = await tb.replicant('emqx-replicant-0');
    await waitFor('3 nodes running', async () => (await runningNames(c0)).length === 3, 20_000, 50);
    await waitFor('replicant up', async () => (await api(r0, '/status')).status === 200, 20_000, 50);
    // another cluster in the same fabric (another cookie, its own DNS name)
    other = await tb.start({
      name: 'other-0',
      image: 'emqx/emqx-enterprise:5.8.3',
      env: {
        EMQX_NODE__COOKIE: 'another',
        EMQX_HOST: 'other-0.other',
        EMQX_DASHBOARD__LISTENERS__HTTP__BIND: '18083',
      },
    });
    await waitFor(
      'other cluster up',
      async () => (await api(other, '/status', { auth: null })).status === 200,
      20_000,
      50,
    );
  }, T);

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await tb.close();
  });

  test(
    'a message published on one node reaches subscribers on every node of the cluster, not another cluster',
    T,
    async () => {
      const s0 = await connect(c0, { protocolVersion: 5, clientId: 'route-s0' });
      const sr = await connect(r0, { protocolVersion: 4, clientId: 'route-sr', ws: true });
      const so = await connect(other, { protocolVersion: 5, clientId: 'route-so' });
      const [g0, gr, go] = [inbox(s0), inbox(sr), inbox(so)];
      await s0.subscribeAsync('route/+', { qos: 1 });
      await sr.subscribeAsync('route/#', { qos: 1 });
      await so.subscribeAsync('route/#', { qos: 1 });
      const p = await connect(c1, { protocolVersion: 5, clientId: 'route-pub' });
      await p.publishAsync('route/a', 'hello', { qos: 1 });
      await waitFor('both subscribers got it', () => g0.length === 1 && gr.length === 1);
      assert.equal(g0[0]!.payload, 'hello');
      assert.equal(gr[0]!.payload, 'hello');
      await p.publishAsync('route/b', 'again', { qos: 1 });
      await waitFor('second message', () => g0.length === 2 && gr.length === 2);
      assert.equal(go.length, 0, 'a node of another cluster never sees it');
    },
  );

  test('retained messages are cluster-wide and replicated', T, async () => {
    const p = await connect(c0, { protocolVersion: 4, clientId: 'ret-pub' });
    await p.publishAsync('ret/1', 'kept', { qos: 1, retain: true });
    const s = await connect(r0, { protocolVersion: 5, clientId: 'ret-sub' });
    const got = inbox(s);
    await s.subscribeAsync('ret/#', { qos: 1 });
    await waitFor('retained delivered', () => got.length === 1);
    assert.equal(got[0]!.payload, 'kept');
    assert.equal(got[0]!.retain, true);
    // an empty retained payload deletes it
    await p.publishAsync('ret/1', '', { qos: 1, retain: true });
    const s2 = await connect(c1, { protocolVersion: 5, clientId: 'ret-sub2' });
    const got2 = inbox(s2);
    await s2.subscribeAsync('ret/#', { qos: 1 });
    await p.publishAsync('ret/2', 'live', { qos: 1 });
    await waitFor('live message', () => got2.length === 1);
    assert.deepEqual(
      got2.map((m) => m.payload),
      ['live'],
    );
  });

  test(
    'a shared subscription delivers each message to one member, members on different nodes',
    T,
    async () => {
      const a = await connect(c0, { protocolVersion: 5, clientId: 'share-a' });
      const b = await connect(c1, { protocolVersion: 4, clientId: 'share-b' });
      const [ga, gb] = [inbox(a), inbox(b)];
      await a.subscribeAsync('$share/g/jobs/#', { qos: 1 });
      await b.subscribeAsync('$share/g/jobs/#', { qos: 1 });
      const p = await connect(r0, { protocolVersion: 5, clientId: 'share-pub' });
      for (let i = 0; i < 10; i++) await p.publishAsync(`jobs/${i}`, String(i), { qos: 1 });
      await waitFor('10 messages delivered once', () => ga.length + gb.length === 10);
      assert.ok(ga.length > 0 && gb.length > 0, `both members got some (${ga.length}/${gb.length})`);
      const all = [...ga, ...gb].map((m) => Number(m.payload)).sort((x, y) => x - y);
      assert.deepEqual(all, [...Array(10).keys()]);
    },
  );

  test(
    'a persistent session keeps subscriptions and queued QoS 1 messages; a reconnect elsewhere resumes it',
    T,
    async () => {
      const opts5 = {
        protocolVersion: 5 as const,
        clientId: 'persist-5',
        clean: false,
        properties: { sessionExpiryInterval: 300 },
      };
      const opts4 = { protocolVersion: 4 as const, clientId: 'persist-4', clean: false };
      const s5 = await connect(c0, opts5);
      const s4 = await connect(c0, opts4);
      await s5.subscribeAsync('persist/t', { qos: 1 });
      await s4.subscribeAsync('persist/t', { qos: 1 });
      await s5.endAsync();
      await s4.endAsync();
      const p = await connect(c1, { protocolVersion: 5, clientId: 'persist-pub' });
      for (let i = 0; i < 5; i++) await p.publishAsync('persist/t', `m${i}`, { qos: 1 });
      const back5 = await connect(r0, { ...opts5 });
      const back4 = await connect(c1, { ...opts4, ws: true });
      const [g5, g4] = [inbox(back5), inbox(back4)];
      await waitFor('queued messages delivered', () => g5.length === 5 && g4.length === 5);
      assert.deepEqual(
        g5.map((m) => m.payload),
        ['m0', 'm1', 'm2', 'm3', 'm4'],
      );
      assert.deepEqual(
        g4.map((m) => m.payload),
        ['m0', 'm1', 'm2', 'm3', 'm4'],
      );
      // subscriptions survived: a new message arrives without subscribing again
      await p.publishAsync('persist/t', 'm5', { qos: 1 });
      await waitFor('live message after resume', () => g5.length === 6 && g4.length === 6);
    },
  );

  test(
    'a CONNECT with a client id connected elsewhere takes the session over (MQTT 5: 0x8E)',
    T,
    async () => {
      const first = await connect(c0, {
        protocolVersion: 5,
        clientId: 'takeover',
        clean: false,
        properties: { sessionExpiryInterval: 60 },
      });
      await first.subscribeAsync('take/t', { qos: 1 });
      const kicked = disconnectPacket(first);
      const second = await connect(c1, {
        protocolVersion: 5,
        clientId: 'takeover',
        clean: false,
        properties: { sessionExpiryInterval: 60 },
      });
      const p = await kicked;
      assert.equal(p.reasonCode, 0x8e);
      const got = inbox(second);
      const pub = await connect(r0, { protocolVersion: 4, clientId: 'take-pub' });
      await pub.publishAsync('take/t', 'x', { qos: 1 });
      await waitFor('the new connection has the subscription', () => got.length === 1);
    },
  );

  test('/api/v5/nodes and /api/v5/clients report real connections', T, async () => {
    const c = await connect(c1, { protocolVersion: 5, clientId: 'counted' });
    const r = await api(c0, '/api/v5/clients?clientid=counted');
    assert.equal(r.status, 200);
    const data = (r.json as { data: Array<Record<string, unknown>> }).data;
    assert.equal(data.length, 1);
    assert.equal(data[0]!['node'], `emqx@emqx-core-1.${HEADLESS}`);
    assert.equal(data[0]!['connected'], true);
    assert.equal(data[0]!['proto_ver'], 5);
    const nodes = (await api(c0, '/api/v5/nodes')).json as Array<{ node: string; live_connections: number }>;
    const n1 = nodes.find((n) => n.node === `emqx@emqx-core-1.${HEADLESS}`)!;
    assert.ok(n1.live_connections >= 1);
    await c.endAsync();
  });
});

describe('eviction agent on real MQTT connections', () => {
  let tb: Testbed;
  let c0: StartedNode;
  let c1: StartedNode;
  const n0 = `emqx@emqx-core-0.${HEADLESS}`;
  const n1 = `emqx@emqx-core-1.${HEADLESS}`;

  before(async () => {
    tb = new Testbed({ timeScale: 20 });
    c0 = await tb.core('emqx-core-0');
    c1 = await tb.core('emqx-core-1');
    await waitFor('2 nodes running', async () => (await runningNames(c0)).length === 2, 20_000, 50);
  }, T);

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await tb.close();
  });

  test(
    'evacuation: 0x9C with the server reference, refused CONNECTs, sessions moved with their queues',
    T,
    async () => {
      const v5 = await connect(c0, {
        protocolVersion: 5,
        clientId: 'ev-5',
        clean: false,
        properties: { sessionExpiryInterval: 600 },
      });
      const v4 = await connect(c0, { protocolVersion: 4, clientId: 'ev-4', clean: false });
      await v5.subscribeAsync('ev/t', { qos: 1 });
      await v4.subscribeAsync('ev/t', { qos: 1 });
      const kicked = disconnectPacket(v5);
      const closed4 = new Promise<void>((resolve) => v4.once('close', () => resolve()));
      const r = await api(c0, `/api/v5/load_rebalance/${enc(n0)}/evacuation/start`, {
        method: 'POST',
        body: {
          conn_evict_rate: 10,
          sess_evict_rate: 10,
          wait_health_check: 1,
          wait_takeover: 2,
          redirect_to: 'mqtt://elsewhere:1883',
          migrate_to: [n1],
        },
      });
      assert.equal(r.status, 200, r.text);
      const d = await kicked;
      assert.equal(d.reasonCode, 0x9c);
      assert.equal(d.properties?.['serverReference'], 'mqtt://elsewhere:1883');
      await closed4;
      // new connections to the evacuating node are refused
      await assert.rejects(
        connect(c0, { protocolVersion: 5, clientId: 'ev-new5' }),
        (e: Error & { code?: number }) => e.code === 0x9c,
      );
      await assert.rejects(
        connect(c0, { protocolVersion: 4, clientId: 'ev-new4' }),
        (e: Error & { code?: number }) => e.code === 3,
      );
      // messages published meanwhile are queued in the disconnected sessions
      const p = await connect(c1, { protocolVersion: 5, clientId: 'ev-pub' });
      for (let i = 0; i < 3; i++) await p.publishAsync('ev/t', `q${i}`, { qos: 1 });
      await waitFor(
        'sessions moved to core-1',
        async () => {
          const s = (await api(c0, `/api/v5/load_rebalance/global_status`)).json as {
            evacuations: Array<{ state: string }>;
          };
          return s.evacuations[0]?.state === 'prohibiting';
        },
        20_000,
        100,
      );
      const list = (await api(c1, '/api/v5/clients')).json as {
        data: Array<{ clientid: string; node: string }>;
      };
      for (const id of ['ev-5', 'ev-4']) assert.equal(list.data.find((c) => c.clientid === id)?.node, n1, id);
      const b5 = await connect(c1, {
        protocolVersion: 5,
        clientId: 'ev-5',
        clean: false,
        properties: { sessionExpiryInterval: 600 },
      });
      const b4 = await connect(c1, { protocolVersion: 4, clientId: 'ev-4', clean: false });
      const [g5, g4] = [inbox(b5), inbox(b4)];
      await waitFor('queued messages after the move', () => g5.length === 3 && g4.length === 3);
      assert.deepEqual(
        g4.map((m) => m.payload),
        ['q0', 'q1', 'q2'],
      );
    },
  );
});

describe('a replicant detached from every core (rolling upgrade) keeps routing with its cluster', () => {
  let tb: Testbed;
  let c0: StartedNode;
  let c1: StartedNode;
  let r0: StartedNode;

  before(async () => {
    tb = new Testbed({ timeScale: 20 });
    c0 = await tb.core('emqx-core-0', { image: 'emqx/emqx-enterprise:5.8.3' });
    c1 = await tb.core('emqx-core-1', { image: 'emqx/emqx-enterprise:5.8.4' });
    r0 = await tb.replicant('emqx-replicant-0', { image: 'emqx/emqx-enterprise:5.8.3' });
    await waitFor('3 nodes running', async () => (await runningNames(c1)).length === 3, 20_000, 50);
  }, T);

  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await tb.close();
  });

  test('messages flow both ways between a detached old replicant and the new core', T, async () => {
    const rName = `emqx@${r0.ip}`;
    const subR = await connect(r0, { protocolVersion: 5, clientId: 'det-r' });
    const subC = await connect(c1, { protocolVersion: 4, clientId: 'det-c' });
    await subR.subscribeAsync('det/#', { qos: 1 });
    await subC.subscribeAsync('det/#', { qos: 1 });
    // the only 5.8.3 core stops: the replicant cannot attach to the 5.8.4 core
    tb.fabric.stopApp(`emqx@emqx-core-0.${HEADLESS}`);
    await waitFor('replicant detached', () => tb.fabric.node(rName)?.attachedTo === undefined);
    const pubC = await connect(c1, { protocolVersion: 5, clientId: 'det-pub-c' });
    const pubR = await connect(r0, { protocolVersion: 5, clientId: 'det-pub-r' });
    await pubC.publishAsync('det/from-core', 'a', { qos: 1 });
    await pubR.publishAsync('det/from-replicant', 'b', { qos: 1 });
    await waitFor('both subscribers got both', () => inbox(subR).length === 2 && inbox(subC).length === 2);
    assert.deepEqual(
      inbox(subR)
        .map((m) => m.topic)
        .sort(),
      ['det/from-core', 'det/from-replicant'],
    );
    // a takeover from the core finds the session on the detached replicant
    const kicked = disconnectPacket(subR);
    await connect(c1, { protocolVersion: 5, clientId: 'det-r' });
    assert.equal((await kicked).reasonCode, 0x8e);
    void c0;
  });
});
