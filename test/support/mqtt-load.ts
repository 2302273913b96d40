// Real MQTT load for end-to-end tests and benchmarks: persistent-session subscribers (a mix of MQTT 5 and 3.1.1,
// tcp and ws) and one QoS 1 publisher at a steady rate, all MQTT.js clients connected through the listeners
// Service. It measures what a user of the cluster would see: each client's time without a connection, messages
// lost (acknowledged to the publisher, never delivered to a subscriber), duplicates and delivery delays.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { TestSandbox } from './sandbox.ts';

export interface LoadOptions {
  /** `host` of the listeners (the Service's ClusterIP or load-balancer address). */
  host: string;
  tcpPort?: number;
  wsPort?: number;
  subscribers: number;
  /** Messages per second of the publisher. */
  rate: number;
  topic?: string;
  /** Client id prefix (unique per test). */
  prefix: string;
  /** Real ms between reconnect attempts (default 100). */
  reconnectPeriod?: number;
}

interface ClientStats {
  id: string;
  proto: 4 | 5;
  transport: 'tcp' | 'ws';
  connected: boolean;
  /** When the current gap began (real ms), while disconnected. */
  downSince: number | undefined;
  longestGapMs: number;
  gaps: number;
  /** Reasons of the server DISCONNECTs received (MQTT 5). */
  disconnectReasons: number[];
  sessionLost: number;
}

/** A client's stats before it connected. */
function freshStats(id: string, proto: 4 | 5, transport: 'tcp' | 'ws'): ClientStats {
  return {
    id,
    proto,
    transport,
    connected: false,
    downSince: undefined,
    longestGapMs: 0,
    gaps: 0,
    disconnectReasons: [],
    sessionLost: 0,
  };
}

interface Subscriber extends ClientStats {
  client: MqttClient;
  received: Map<number, number>;
  /** Seqs delivered again without the DUP flag. */
  dupWithoutFlag: number[];
  delays: number[];
}

export interface LoadReport {
  published: number;
  acked: number;
  lost: number;
  lostBySubscriber: Array<{ id: string; missing: number[] }>;
  duplicates: number;
  /**
   * Duplicates QoS 1 does not explain: delivered again without the DUP flag although the publisher never had to
   * resend them (they were acknowledged before any of its reconnects).
   */
  unexplainedDuplicates: number;
  allConnected: boolean;
  notConnected: string[];
  /** Per client: longest time without a connection (ms), worst first. */
  gaps: Array<{ id: string; proto: number; transport: string; longestGapMs: number; gaps: number }>;
  sessionsLost: number;
  delayMs: { p50: number; p99: number; max: number };
  /** Messages delivered more than 1 s after they were published. */
  delayedOver1s: number;
  publisherReconnects: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function track(stats: ClientStats, client: MqttClient): void {
  client.on('connect', (connack) => {
    if (stats.downSince !== undefined) {
      const gap = Date.now() - stats.downSince;
      stats.longestGapMs = Math.max(stats.longestGapMs, gap);
      stats.gaps++;
      stats.downSince = undefined;
      if (!connack.sessionPresent) stats.sessionLost++;
    }
    stats.connected = true;
  });
  client.on('close', () => {
    if (stats.connected) stats.downSince = Date.now();
    stats.connected = false;
  });
  client.on('disconnect', (p) => {
    if (p.reasonCode !== undefined) stats.disconnectReasons.push(p.reasonCode);
  });
  client.on('error', () => {});
}

export class MqttLoad {
  readonly opts: Required<LoadOptions>;
  readonly subscribers: Subscriber[] = [];
  publisher: MqttClient | undefined;
  readonly #pubStats: ClientStats;
  #timer: NodeJS.Timeout | undefined;
  #seq = 0;
  readonly #acked = new Set<number>();
  readonly #sentAt = new Map<number, number>();
  /** Seqs the publisher may resend: unacknowledged when its connection dropped. */
  readonly #resendable = new Set<number>();

  constructor(opts: LoadOptions) {
    this.opts = {
      tcpPort: 1883,
      wsPort: 8083,
      topic: `${opts.prefix}/data`,
      reconnectPeriod: 100,
      ...opts,
    };
    this.#pubStats = freshStats(`${opts.prefix}-pub`, 5, 'tcp');
  }

  #url(transport: 'tcp' | 'ws'): string {
    const o = this.opts;
    return transport === 'ws' ? `ws://${o.host}:${o.wsPort}/mqtt` : `mqtt://${o.host}:${o.tcpPort}`;
  }

  #connect(id: string, proto: 4 | 5, transport: 'tcp' | 'ws'): MqttClient {
    return mqtt.connect(this.#url(transport), {
      clientId: id,
      protocolVersion: proto,
      clean: false,
      ...(proto === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
      reconnectPeriod: this.opts.reconnectPeriod,
      reconnectOnConnackError: true,
      connectTimeout: 5000,
      keepalive: 10,
      resubscribe: true,
    });
  }

  /** Connects every subscriber (each subscribes once at QoS 1) and the publisher; resolves when all are up. */
  async start(timeoutMs = 60_000): Promise<void> {
    const o = this.opts;
    const ready: Array<Promise<void>> = [];
    for (let i = 0; i < o.subscribers; i++) {
      const proto: 4 | 5 = i % 2 === 0 ? 5 : 4;
      const transport: 'tcp' | 'ws' = i % 3 === 2 ? 'ws' : 'tcp';
      const id = `${o.prefix}-sub-${i}`;
      const client = this.#connect(id, proto, transport);
      const s: Subscriber = {
        ...freshStats(id, proto, transport),
        client,
        received: new Map(),
        dupWithoutFlag: [],
        delays: [],
      };
      track(s, client);
      client.on('message', (_topic, payload, packet) => {
        let m: { seq: number; t: number };
        try {
          m = JSON.parse(payload.toString()) as { seq: number; t: number };
        } catch {
          return;
        }
        const n = s.received.get(m.seq) ?? 0;
        s.received.set(m.seq, n + 1);
        if (n > 0 && !packet.dup) s.dupWithoutFlag.push(m.seq);
        if (n === 0) s.delays.push(Date.now() - m.t);
      });
      this.subscribers.push(s);
      ready.push(
        new Promise<void>((resolve) =>
          client.once('connect', () => {
            client.subscribe(o.topic, { qos: 1 }, () => resolve());
          }),
        ),
      );
    }
    await withTimeout(Promise.all(ready), timeoutMs, 'every subscriber connected and subscribed');
    const pub = this.#connect(this.#pubStats.id, 5, 'tcp');
    track(this.#pubStats, pub);
    pub.on('close', () => {
      for (const q of this.#sentAt.keys()) if (!this.#acked.has(q)) this.#resendable.add(q);
    });
    this.publisher = pub;
    await withTimeout(
      new Promise<void>((resolve) => pub.once('connect', () => resolve())),
      timeoutMs,
      'publisher connected',
    );
    this.#timer = setInterval(() => this.#publish(), Math.max(1, Math.round(1000 / o.rate)));
  }

  #publish(): void {
    const seq = ++this.#seq;
    const t = Date.now();
    this.#sentAt.set(seq, t);
    this.publisher!.publish(this.opts.topic, JSON.stringify({ seq, t }), { qos: 1 }, (err) => {
      if (!err) this.#acked.add(seq);
    });
  }

  /** Stops publishing, waits (bounded) until every acknowledged message reached every subscriber. */
  async drain(timeoutMs = 30_000): Promise<void> {
    clearInterval(this.#timer);
    const deadline = Date.now() + timeoutMs;
    // messages in flight at the stop still count once acknowledged
    while (Date.now() < deadline) {
      const outstanding = this.#seq - this.#acked.size;
      const missing = this.subscribers.some((s) => [...this.#acked].some((q) => !s.received.has(q)));
      if (outstanding === 0 && !missing) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  report(): LoadReport {
    const lostBySubscriber: LoadReport['lostBySubscriber'] = [];
    let lost = 0;
    let duplicates = 0;
    let unexplained = 0;
    const delays: number[] = [];
    for (const s of this.subscribers) {
      const missing = [...this.#acked].filter((q) => !s.received.has(q)).sort((a, b) => a - b);
      if (missing.length > 0) lostBySubscriber.push({ id: s.id, missing });
      lost += missing.length;
      for (const n of s.received.values()) if (n > 1) duplicates += n - 1;
      unexplained += s.dupWithoutFlag.filter((q) => !this.#resendable.has(q)).length;
      delays.push(...s.delays);
    }
    delays.sort((a, b) => a - b);
    const all: ClientStats[] = [...this.subscribers, this.#pubStats];
    return {
      published: this.#seq,
      acked: this.#acked.size,
      lost,
      lostBySubscriber,
      duplicates,
      unexplainedDuplicates: unexplained,
      allConnected: all.every((c) => c.connected),
      notConnected: all.filter((c) => !c.connected).map((c) => c.id),
      gaps: all
        .map((c) => ({
          id: c.id,
          proto: c.proto,
          transport: c.transport,
          longestGapMs: c.longestGapMs,
          gaps: c.gaps,
        }))
        .sort((a, b) => b.longestGapMs - a.longestGapMs),
      sessionsLost: all.reduce((a, c) => a + c.sessionLost, 0),
      delayMs: { p50: percentile(delays, 50), p99: percentile(delays, 99), max: delays.at(-1) ?? 0 },
      delayedOver1s: delays.filter((d) => d > 1000).length,
      publisherReconnects: this.#pubStats.gaps,
    };
  }

  /** A printable summary: totals and each client's longest time without a connection. */
  static format(r: LoadReport, maxRows = 50): string {
    const lines = [
      `published ${r.published}, acknowledged ${r.acked}, lost ${r.lost}, duplicates ${r.duplicates} ` +
        `(unexplained ${r.unexplainedDuplicates}), sessions lost ${r.sessionsLost}, publisher reconnects ${r.publisherReconnects}`,
      `delivery delay p50 ${r.delayMs.p50} ms, p99 ${r.delayMs.p99} ms, max ${r.delayMs.max} ms; over 1 s: ${r.delayedOver1s}`,
      `longest time without a connection per client (worst first):`,
      ...r.gaps
        .slice(0, maxRows)
        .map(
          (g) =>
            `  ${g.id.padEnd(40)} MQTT ${g.proto === 5 ? '5.0  ' : '3.1.1'} ${g.transport.padEnd(3)} ${String(g.longestGapMs).padStart(6)} ms over ${g.gaps} reconnect(s)`,
        ),
    ];
    if (r.gaps.length > maxRows) lines.push(`  … ${r.gaps.length - maxRows} more`);
    for (const l of r.lostBySubscriber.slice(0, 10)) {
      lines.push(
        `  LOST for ${l.id}: seq ${l.missing.slice(0, 20).join(', ')}${l.missing.length > 20 ? ' …' : ''}`,
      );
    }
    return lines.join('\n');
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(
      [...this.subscribers.map((s) => s.client), ...(this.publisher ? [this.publisher] : [])].map((c) =>
        c.endAsync(true).catch(() => {}),
      ),
    );
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The address of a Service for clients inside the sandbox: its ClusterIP (served by the sandbox's proxy). */
export async function serviceHost(
  api: { get(path: string): Promise<unknown> },
  ns: string,
  name: string,
): Promise<string> {
  const svc = (await api.get(`/api/v1/namespaces/${ns}/services/${name}`)) as {
    spec?: { clusterIP?: string };
  };
  const ip = svc.spec?.clusterIP;
  if (!ip || !ip.startsWith('127.'))
    throw new Error(`Service ${ns}/${name} has no loopback ClusterIP (${ip})`);
  return ip;
}

/**
 * `MqttLoad` through the `emqx-listeners` Service of the namespace's cluster, connected (every client up) and
 * stopped when the test ends. With `selects`, first waits (bounded) until the Service selects pods of that role
 * (it selects the cores while no replicant is ready).
 */
export async function startListenerLoad(
  t: TestContext,
  sb: Pick<TestSandbox, 'api' | 'waitFor'>,
  ns: string,
  opts: { subscribers: number; rate: number; selects?: 'core' | 'replicant' },
): Promise<MqttLoad> {
  const path = `/api/v1/namespaces/${ns}/services/emqx-listeners`;
  if (opts.selects) {
    await sb.waitFor(
      `the listeners Service selects the ${opts.selects}s`,
      async () =>
        ((await sb.api.get(path)) as { spec?: { selector?: Record<string, string> } }).spec?.selector?.[
          'apps.emqx.io/db-role'
        ] === opts.selects,
      30_000,
    );
  }
  const load = new MqttLoad({
    host: await serviceHost(sb.api, ns, 'emqx-listeners'),
    subscribers: opts.subscribers,
    rate: opts.rate,
    prefix: ns,
  });
  t.after(() => load.stop());
  await load.start();
  return load;
}

/**
 * The end of a disruption test: waits (bounded) until every client is connected again and every acknowledged
 * message was delivered, prints the report (test diagnostic), and asserts that no client stayed away, no QoS 1
 * message to a persistent session was lost, no session was lost and no duplicate goes beyond QoS 1.
 */
export async function assertNoClientLost(
  t: TestContext,
  load: MqttLoad,
  opts: { timeoutMs?: number; allowSessionLoss?: boolean } = {},
): Promise<LoadReport> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  while (!load.report().allConnected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await load.drain(Math.max(1000, deadline - Date.now()));
  const r = load.report();
  t.diagnostic(MqttLoad.format(r));
  assert.ok(r.acked > 0, 'the publisher published');
  assert.deepEqual(r.notConnected, [], 'every client is connected at the end');
  if (!opts.allowSessionLoss) {
    assert.equal(r.lost, 0, 'no QoS 1 message to a persistent session was lost');
    assert.equal(r.sessionsLost, 0, 'every reconnect found its session');
  }
  assert.equal(r.unexplainedDuplicates, 0, 'no duplicate beyond what QoS 1 allows');
  return r;
}
