// Durable storage of an emulated EMQX node (EE ≥ 5.8 `emqx_ds_builtin_raft`, emqx-node-api.md §2.7): a *site* per
// core (a random 16-hex-digit id kept in the data dir, so it survives restarts and name changes), DS databases
// split into shards, each shard replicated on a set of sites, and replica-set changes (`PUT
// /ds/storages/{db}/replicas`) carried out as per-shard transitions (add first, then remove) that take emulated
// time. The metadata (sites, shards, target sets, the transition in progress) lives in the replicated cluster DB,
// so it follows joins, leaves and restarts like EMQX's mria tables. Durable sessions: with durable sessions on,
// a persistent session that loses its node (stop, crash, application restart) is written to the replicated
// `ds_sessions` table instead of being lost, keeps receiving the messages of its subscriptions there, and is
// resumed (session present) by a client reconnecting to any node while one replica of its shard is up.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { getPath } from '../../src/hocon/index.ts';
import type { HoconObject } from '../../src/hocon/index.ts';
import { asBool } from './config.ts';
import type { TimerHandle } from './clock.ts';
import type { Message } from './mqtt.ts';
import type { EmqxNode } from './node.ts';
import type { JsonValue } from './store.ts';

export const DS_SITES = 'ds_sites';
export const DS_DBS = 'ds_dbs';
export const DS_SHARDS = 'ds_shards';
export const DS_SESSIONS = 'ds_sessions';

/** The databases the emulator opens when durable sessions are on (emqx-node-api.md: `["messages"]`). */
export const DS_DB_NAMES = ['messages'] as const;

export interface DsDbConfig {
  nShards: number;
  replicationFactor: number;
  /** Sites needed online before the first allocation (`n_sites`). */
  nSites: number;
}

export interface ShardRecord {
  /** Sites holding the data now. */
  replicas: string[];
  /** Sites that should hold it once the transitions are done (absent: stable). */
  target?: string[];
  /** The transition being carried out: started at `at` (emulated ms). */
  transition?: { site: string; op: 'add' | 'del'; at: number };
}

export type ReplicaStatus = 'up' | 'down' | 'lost';

/** `durable_sessions.enable`, globally or in any zone (the DS applications start when any zone uses them). */
export function durableSessionsEnabled(raw: HoconObject): boolean {
  if (asBool(getPath(raw, 'durable_sessions.enable'), false)) return true;
  const zones = getPath(raw, 'zones');
  if (zones && typeof zones === 'object' && !Array.isArray(zones)) {
    for (const z of Object.values(zones)) {
      if (z && typeof z === 'object' && !Array.isArray(z)) {
        if (asBool(getPath(z as HoconObject, 'durable_sessions.enable'), false)) return true;
      }
    }
  }
  return false;
}

function positiveInt(v: unknown, dflt: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : dflt;
}

/** `durable_storage.<db>.{n_shards, replication_factor, n_sites}` (EMQX defaults 16, 3, 1). */
export function dsDbConfig(raw: HoconObject, db: string): DsDbConfig {
  return {
    nShards: positiveInt(getPath(raw, `durable_storage.${db}.n_shards`), 16),
    replicationFactor: positiveInt(getPath(raw, `durable_storage.${db}.replication_factor`), 3),
    nSites: positiveInt(getPath(raw, `durable_storage.${db}.n_sites`), 1),
  };
}

/**
 * The replica set of each shard over `sites` (pure): a shard keeps the replicas it has among `sites` (up to the
 * replication factor) and is filled with the sites holding the fewest replicas so far, in `sites` order.
 */
export function computeAllocation(
  shards: Array<{ id: string; replicas: string[] }>,
  sites: string[],
  replicationFactor: number,
): Map<string, string[]> {
  const want = Math.min(replicationFactor, sites.length);
  const load = new Map(sites.map((s) => [s, 0]));
  const out = new Map<string, string[]>();
  // a site keeps its replicas up to its fair share, so new sites get some and old ones move as little as needed
  const cap = sites.length === 0 ? 0 : Math.ceil((shards.length * want) / sites.length);
  const kept = shards.map((sh) => {
    const k: string[] = [];
    for (const r of sh.replicas) {
      if (k.length >= want || !load.has(r) || load.get(r)! >= cap) continue;
      k.push(r);
      load.set(r, load.get(r)! + 1);
    }
    return k;
  });
  shards.forEach((sh, i) => {
    const set = [...kept[i]!];
    while (set.length < want) {
      const next = sites
        .filter((s) => !set.includes(s))
        .sort((a, b) => load.get(a)! - load.get(b)! || sites.indexOf(a) - sites.indexOf(b))[0]!;
      set.push(next);
      load.set(next, load.get(next)! + 1);
    }
    out.set(sh.id, set.sort());
  });
  return out;
}

/** The transitions still to run for a shard, adds first (pure). */
export function pendingTransitions(rec: ShardRecord): Array<{ site: string; op: 'add' | 'del' }> {
  if (!rec.target) return [];
  const adds = rec.target
    .filter((s) => !rec.replicas.includes(s))
    .map((site) => ({ site, op: 'add' as const }));
  const dels = rec.replicas
    .filter((s) => !rec.target!.includes(s))
    .map((site) => ({ site, op: 'del' as const }));
  return [...adds, ...dels];
}

export interface DsTiming {
  /** How long one shard replica transition takes (emulated ms). */
  dsTransitionMs: number;
  /** After the applications start, how long the node's replicas stay `down` while they catch up. */
  dsCatchUpMs: number;
}

export const DEFAULT_DS_TIMING: DsTiming = { dsTransitionMs: 3000, dsCatchUpMs: 2000 };

interface StoredSession {
  clientId: string;
  expiry: number;
  proto: number;
  storedAt: number;
  subs: Array<[string, JsonValue]>;
  queue: Array<{ topic: string; payload_b64: string; qos: number; retain: boolean }>;
}

/** The durable storage side of one node. */
export class NodeDs {
  readonly node: EmqxNode;
  /** Set while the DS applications run on this node (durable sessions on, at the last application start). */
  enabled = false;
  /** This node's site id (cores with durable storage on). */
  site: string | undefined;
  /** Emulated time from which this node's replicas count as `up` (caught up after a start). */
  upFrom = 0;
  #timer: TimerHandle | undefined;

  constructor(node: EmqxNode) {
    this.node = node;
  }

  // ----- lifecycle -----

  /** The applications (re)started: read the config, claim the site, allocate shards on a fresh cluster. */
  onAppsUp(dataDir: string | undefined): void {
    const node = this.node;
    this.enabled = node.image.edition === 'Enterprise' && durableSessionsEnabled(node.raw);
    if (!this.enabled || node.role !== 'core') return;
    this.site ??= this.#loadOrCreateSite(dataDir);
    this.upFrom = node.clock.now() + node.timing.dsCatchUpMs;
    const ops: Array<{ table: string; key: string; value: JsonValue | undefined }> = [];
    const known = node.db.get(DS_SITES, this.site);
    if (!isRecord(known) || known['node'] !== node.name) {
      ops.push({ table: DS_SITES, key: this.site, value: { node: node.name } });
    }
    for (const db of DS_DB_NAMES) {
      if (node.db.get(DS_DBS, db) !== undefined) continue;
      const cfg = dsDbConfig(node.raw, db);
      const sites = this.clusterSites().filter((s) => s === this.site || this.replicaStatus(s) !== 'lost');
      if (!sites.includes(this.site)) sites.push(this.site);
      if (sites.length < cfg.nSites) continue;
      ops.push({
        table: DS_DBS,
        key: db,
        value: { n_shards: cfg.nShards, replication_factor: cfg.replicationFactor },
      });
      const shards = Array.from({ length: cfg.nShards }, (_, i) => ({ id: String(i), replicas: [] }));
      for (const [id, replicas] of computeAllocation(shards, sites.sort(), cfg.replicationFactor)) {
        ops.push({ table: DS_SHARDS, key: `${db}/${id}`, value: { replicas } });
      }
    }
    if (ops.length > 0) node.dbWrite(ops, true);
    node.log('info', `durable storage: site ${this.site}`);
    this.kick();
    // this node's replicas come up after the catch-up time: let observers see it happen on time
    node.clock.setTimer(node.timing.dsCatchUpMs, () => this.kick());
  }

  #loadOrCreateSite(dataDir: string | undefined): string {
    const file = dataDir === undefined ? undefined : path.join(dataDir, 'ds', 'emqx_ds_builtin_site.eterm');
    if (file) {
      try {
        const m = /"([0-9A-F]{16})"/.exec(fs.readFileSync(file, 'utf8'));
        if (m) return m[1]!;
      } catch {
        // none yet
      }
    }
    const site = crypto.randomBytes(8).toString('hex').toUpperCase();
    this.node.log('notice', `Creating a new site with ID=${site}`);
    if (file) {
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, `${JSON.stringify(site)}.`);
      } catch {
        // data dir gone
      }
    }
    return site;
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  // ----- views (this node's copy of the metadata) -----

  clusterSites(): string[] {
    return this.node.db
      .list(DS_SITES)
      .map(([s]) => s)
      .sort();
  }

  siteNode(site: string): string | undefined {
    const v = this.node.db.get(DS_SITES, site);
    return isRecord(v) && typeof v['node'] === 'string' ? v['node'] : undefined;
  }

  dbs(): string[] {
    return this.node.db
      .list(DS_DBS)
      .map(([d]) => d)
      .sort();
  }

  dbReplicationFactor(db: string): number {
    const v = this.node.db.get(DS_DBS, db);
    return isRecord(v) ? positiveInt(v['replication_factor'], 3) : 3;
  }

  shards(db: string): Array<{ id: string; rec: ShardRecord }> {
    const prefix = `${db}/`;
    return this.node.db
      .list(DS_SHARDS)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => ({ id: k.slice(prefix.length), rec: asShard(v) }))
      .sort((a, b) => Number(a.id) - Number(b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** up: the site's node runs in this cluster and has caught up; down: a stopped member (or catching up); lost. */
  replicaStatus(site: string): ReplicaStatus {
    const name = this.siteNode(site);
    if (name === undefined) return 'lost';
    const running = this.node.runningNodes().find((n) => n.name === name);
    if (running) return running.ds.upFrom <= this.node.clock.now() ? 'up' : 'down';
    const core = this.node.viewCore();
    return core && core.members.has(name) ? 'down' : 'lost';
  }

  /** True when the site of `nodeName` holds (or is about to receive) a replica of any shard. */
  nodeHoldsReplicas(nodeName: string): boolean {
    const site = this.clusterSites().find((s) => this.siteNode(s) === nodeName);
    if (site === undefined) return false;
    for (const db of this.dbs()) {
      for (const { rec } of this.shards(db)) {
        if (rec.replicas.includes(site) || (rec.target ?? []).includes(site)) return true;
      }
    }
    return false;
  }

  // ----- replica set changes -----

  /** `assign_db_sites`: sets every shard's target over `sites`. */
  assignSites(db: string, sites: unknown): { ok: string[] } | { error: string } {
    if (!Array.isArray(sites) || !sites.every((s) => typeof s === 'string')) return { error: 'Bad type' };
    const list = [...new Set(sites as string[])];
    if (list.length === 0) return { error: 'Replica sets would become too small' };
    const known = new Set(this.clusterSites());
    const unknown = list.filter((s) => !known.has(s));
    if (unknown.length > 0) return { error: `Unknown sites: ${unknown.join(', ')}` };
    const lost = list.filter((s) => this.replicaStatus(s) === 'lost');
    if (lost.length > 0) return { error: `Replication still targets lost sites: ${lost.join(', ')}` };
    const shards = this.shards(db);
    const current = shards.map(({ id, rec }) => ({ id, replicas: rec.target ?? rec.replicas }));
    const alloc = computeAllocation(current, [...list].sort(), this.dbReplicationFactor(db));
    const ops = shards.map(({ id, rec }) => {
      const target = alloc.get(id)!;
      const next: ShardRecord = { ...rec };
      if (sameSet(target, rec.replicas) && !rec.transition) delete next.target;
      else next.target = target;
      return { table: DS_SHARDS, key: `${db}/${id}`, value: next as unknown as JsonValue };
    });
    this.node.dbWrite(ops);
    this.kick();
    return { ok: list };
  }

  /** The sites targeted for `db` (what `PUT …/replicas/{site}` and `DELETE` start from). */
  targetSites(db: string): string[] {
    const out = new Set<string>();
    for (const { rec } of this.shards(db)) for (const s of rec.target ?? rec.replicas) out.add(s);
    return [...out].sort();
  }

  /** Sites that currently hold data of `db` (`GET …/replicas`). */
  replicaSites(db: string): string[] {
    const out = new Set<string>();
    for (const { rec } of this.shards(db)) for (const s of rec.replicas) out.add(s);
    return [...out].sort();
  }

  // ----- the transition driver (the lowest-named running core of the cluster runs it) -----

  /** Arms the driver on the coordinator when a shard has work left. */
  kick(): void {
    const coordinator = this.node.runningCores().find((c) => c.ds.enabled);
    if (!coordinator) return;
    coordinator.ds.#arm(0);
  }

  #arm(ms: number): void {
    if (this.#timer) return;
    this.#timer = this.node.clock.setTimer(ms, () => {
      this.#timer = undefined;
      this.#step();
    });
  }

  #step(): void {
    const node = this.node;
    if (node.status !== 'running' || !this.enabled) return;
    if (node.runningCores().find((c) => c.ds.enabled) !== node) return;
    const now = node.clock.now();
    const ops: Array<{ table: string; key: string; value: JsonValue }> = [];
    let next = Infinity;
    for (const db of this.dbs()) {
      for (const { id, rec } of this.shards(db)) {
        if (!rec.target && !rec.transition) continue;
        const r: ShardRecord = { replicas: [...rec.replicas], ...(rec.target ? { target: rec.target } : {}) };
        let changed = false;
        if (rec.transition) {
          const t = rec.transition;
          const due = t.at + node.timing.dsTransitionMs;
          const siteUp = this.replicaStatus(t.site) === 'up';
          if (due > now || (t.op === 'add' && !siteUp)) {
            r.transition = t;
            next = Math.min(next, due > now ? due - now : node.timing.dsTransitionMs);
          } else {
            r.replicas =
              t.op === 'add'
                ? [...new Set([...r.replicas, t.site])].sort()
                : r.replicas.filter((s) => s !== t.site);
            changed = true;
            node.log(
              'info',
              `durable storage: ${db}/${id} ${t.op === 'add' ? 'added' : 'removed'} ${t.site}`,
            );
          }
        }
        if (!r.transition && r.target) {
          if (sameSet(r.target, r.replicas)) {
            delete r.target;
            changed = true;
          } else {
            const plan = pendingTransitions(r);
            const add = plan.find((p) => p.op === 'add' && this.replicaStatus(p.site) === 'up');
            const pendingAdd = plan.some((p) => p.op === 'add');
            const del = plan.find((p) => p.op === 'del');
            const pick = add ?? (pendingAdd ? undefined : del);
            if (pick) {
              r.transition = { site: pick.site, op: pick.op, at: now };
              changed = true;
              next = Math.min(next, node.timing.dsTransitionMs);
            } else {
              next = Math.min(next, node.timing.dsTransitionMs);
            }
          }
        }
        if (changed) ops.push({ table: DS_SHARDS, key: `${db}/${id}`, value: r as unknown as JsonValue });
      }
    }
    if (ops.length > 0) node.dbWrite(ops);
    if (next < Infinity) this.#arm(next);
  }

  // ----- durable sessions -----

  /** Durable sessions are on here (`durable_sessions.enable`, EE). */
  get sessionsDurable(): boolean {
    return this.enabled;
  }

  /** Writes sessions that lose their node to the replicated `ds_sessions` table (best effort: a live core). */
  storeSessions(records: StoredSession[]): void {
    if (records.length === 0) return;
    const ops = records.map((r) => ({
      table: DS_SESSIONS,
      key: r.clientId,
      value: r as unknown as JsonValue,
    }));
    this.#writeAnyCore(ops);
    this.node.log('info', `durable sessions: ${records.length} session(s) kept in durable storage`);
  }

  /** Takes a stored session out of durable storage (undefined: none, or expired). Throws when unavailable. */
  takeSession(clientId: string): StoredSession | undefined {
    const v = this.node.db.get(DS_SESSIONS, clientId);
    if (!isRecord(v)) return undefined;
    const rec = v as unknown as StoredSession;
    this.#writeAnyCore([{ table: DS_SESSIONS, key: clientId, value: undefined }]);
    if (rec.expiry > 0 && this.node.clock.now() - rec.storedAt > rec.expiry * 1000) return undefined;
    return rec;
  }

  /** True when a replica of the shard that stores `clientId` is up (its session can be read). */
  sessionReadable(clientId: string): boolean {
    const db = DS_DB_NAMES[0];
    const shards = this.shards(db);
    if (shards.length === 0) return true;
    const shard = shards[shardOf(clientId, shards.length)]!;
    return shard.rec.replicas.some((s) => this.replicaStatus(s) === 'up');
  }

  /** Queues `msg` for every stored session subscribed to its topic. */
  deliverStored(msg: Message, matches: (filter: string, sub: JsonValue) => number | undefined): void {
    const ops: Array<{ table: string; key: string; value: JsonValue }> = [];
    for (const [key, v] of this.node.db.list(DS_SESSIONS)) {
      if (!isRecord(v)) continue;
      const rec = v as unknown as StoredSession;
      let best: number | undefined;
      for (const [filter, sub] of rec.subs) {
        const q = matches(filter, sub);
        if (q !== undefined && (best === undefined || q > best)) best = q;
      }
      if (best === undefined) continue;
      const queue = [
        ...rec.queue,
        { topic: msg.topic, payload_b64: msg.payload.toString('base64'), qos: best, retain: false },
      ];
      ops.push({ table: DS_SESSIONS, key, value: { ...rec, queue } as unknown as JsonValue });
    }
    if (ops.length > 0) this.#writeAnyCore(ops);
  }

  /** Writes to the replicated DB through this node or any live core of its cluster (also while stopping). */
  #writeAnyCore(ops: Array<{ table: string; key: string; value: JsonValue | undefined }>): void {
    const node = this.node;
    try {
      node.dbWrite(ops, true);
      return;
    } catch {
      // this node cannot write right now (stopping): go through a running core
    }
    for (const c of node.runningCores()) {
      if (c === node) continue;
      try {
        c.dbWrite(ops);
        return;
      } catch {
        // next
      }
    }
    node.log('warning', 'durable storage: no core can take the write; it is lost');
  }
}

export type { StoredSession };

/** The shard of a client's session (stable across nodes). */
export function shardOf(clientId: string, nShards: number): number {
  const h = crypto.createHash('sha1').update(clientId).digest();
  return h.readUInt32BE(0) % nShards;
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function isRecord(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asShard(v: JsonValue): ShardRecord {
  const o = isRecord(v) ? v : {};
  const strs = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s) => typeof s === 'string') : []);
  const rec: ShardRecord = { replicas: strs(o['replicas']) };
  if (Array.isArray(o['target'])) rec.target = strs(o['target']);
  const t = o['transition'];
  if (isRecord(t) && typeof t['site'] === 'string' && (t['op'] === 'add' || t['op'] === 'del')) {
    rec.transition = { site: t['site'], op: t['op'], at: Number(t['at'] ?? 0) };
  }
  return rec;
}
