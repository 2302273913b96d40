// EMQX durable storage (EE ≥ 5.8, `durable_sessions.enable = true` globally or in a zone): what the config says,
// what the `/api/v5/ds/*` API shows, and the pure facts the planner reads from it. Durable sessions and their
// messages live in DS databases split into shards, each replicated on a set of *sites* (one per core node, kept
// in the node's data dir). Replica sets do not follow the cluster by themselves: the operator assigns them.
import { getPath, type HoconObject } from '../hocon/index.ts';
import type { EmqxApi } from './emqx-access.ts';
import { isDsDisabled } from './emqx-access.ts';

export interface DsSite {
  site: string;
  node: string;
  up: boolean;
}

export interface DsShard {
  id: string;
  replicas: ReadonlyArray<{ site: string; status: string }>;
  transitions: ReadonlyArray<{ site: string; transition: string }>;
}

export interface DsDb {
  name: string;
  shards: readonly DsShard[];
}

/** What `/ds/*` showed in one pass. */
export interface DsObservation {
  sites: readonly DsSite[];
  dbs: readonly DsDb[];
}

/**
 * Durable storage as the snapshot holds it (only when the config turns durable sessions on): `active` false when
 * EMQX says it is disabled (404: not Enterprise, or the nodes have not restarted with it yet); `observed` missing
 * (with `error`) when the API could not be read this pass.
 */
export interface DsState {
  active: boolean;
  observed?: DsObservation;
  error?: string;
  /** Replication factor per DB name, from `durable_storage.<db>.replication_factor` (EMQX default 3). */
  replicationFactor: number;
  /** The factor is set in the config (admission can check it), not EMQX's default. */
  factorExplicit: boolean;
}

function truthy(v: unknown): boolean {
  return v === true || v === 'true';
}

/** `durable_sessions.enable = true`, globally or in any zone. */
export function durableSessionsEnabled(conf: HoconObject): boolean {
  if (truthy(getPath(conf, 'durable_sessions.enable'))) return true;
  const zones = getPath(conf, 'zones');
  if (zones && typeof zones === 'object' && !Array.isArray(zones)) {
    for (const z of Object.values(zones)) {
      if (
        z &&
        typeof z === 'object' &&
        !Array.isArray(z) &&
        truthy(getPath(z as HoconObject, 'durable_sessions.enable'))
      )
        return true;
    }
  }
  return false;
}

export const DEFAULT_REPLICATION_FACTOR = 3;

/** `durable_storage.messages.replication_factor`, and whether the config sets it. */
export function replicationFactorOf(conf: HoconObject): { factor: number; explicit: boolean } {
  const v = getPath(conf, 'durable_storage.messages.replication_factor');
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n > 0) return { factor: n, explicit: true };
  return { factor: DEFAULT_REPLICATION_FACTOR, explicit: false };
}

/** At most this many DBs and shards are read per pass (a budget against a runaway answer). */
const MAX_DBS = 16;
const MAX_SITES = 256;

/** Reads `/ds/*` (sites with their nodes, every DB's shards). 'disabled' on EMQX's 404. */
export async function readDurableStorage(api: EmqxApi): Promise<DsObservation | 'disabled'> {
  let siteIds: string[];
  try {
    siteIds = await api.dsSites();
  } catch (err) {
    if (isDsDisabled(err)) return 'disabled';
    throw err;
  }
  const sites: DsSite[] = [];
  for (const site of siteIds.slice(0, MAX_SITES)) {
    const info = await api.dsSite(site);
    sites.push({ site, node: String(info.node ?? ''), up: info.up === true });
  }
  const dbs: DsDb[] = [];
  for (const name of (await api.dsStorages()).slice(0, MAX_DBS)) {
    const info = await api.dsStorage(name);
    dbs.push({
      name,
      shards: (info.shards ?? []).map((sh) => ({
        id: String(sh.id),
        replicas: (sh.replicas ?? []).map((r) => ({ site: String(r.site), status: String(r.status) })),
        transitions: (sh.transitions ?? []).map((t) => ({
          site: String(t.site),
          transition: String(t.transition),
        })),
      })),
    });
  }
  return { sites, dbs };
}

/** The sites a shard is headed for: its replicas plus those joining, minus those leaving. */
export function shardTarget(sh: DsShard): string[] {
  const out = new Set(sh.replicas.map((r) => r.site));
  for (const t of sh.transitions) {
    if (t.transition === 'joining') out.add(t.site);
    else if (t.transition === 'leaving') out.delete(t.site);
  }
  return [...out].sort();
}

/** The sites a DB is assigned to (union of its shards' targets). */
export function dbTargetSites(db: DsDb): string[] {
  const out = new Set<string>();
  for (const sh of db.shards) for (const s of shardTarget(sh)) out.add(s);
  return [...out].sort();
}

/** The site of an EMQX node, if it has one. */
export function siteOfNode(obs: DsObservation, node: string): string | undefined {
  return obs.sites.find((s) => s.node === node)?.site;
}

/** True when `site` holds a replica of any shard or is in a transition (joining or leaving). */
export function siteHoldsData(obs: DsObservation, site: string): boolean {
  return obs.dbs.some((db) =>
    db.shards.some(
      (sh) => sh.replicas.some((r) => r.site === site) || sh.transitions.some((t) => t.site === site),
    ),
  );
}

export interface DsSummary {
  shards: number;
  /** Shards with fewer `up` replicas than min(factor, sites assigned). */
  underReplicated: number;
  /** Shards with a transition pending. */
  transitions: number;
  /** Replicas per site (`up` or not). */
  shardsPerSite: Record<string, number>;
}

/** Counts for status: shards, under-replicated ones (fewer up replicas than `factor`), transitions. */
export function summarize(obs: DsObservation, factor: number): DsSummary {
  let shards = 0;
  let underReplicated = 0;
  let transitions = 0;
  const shardsPerSite: Record<string, number> = {};
  for (const s of obs.sites) shardsPerSite[s.site] = 0;
  for (const db of obs.dbs) {
    const want = Math.min(factor, Math.max(1, dbTargetSites(db).length));
    for (const sh of db.shards) {
      shards++;
      if (sh.transitions.length > 0) transitions++;
      if (sh.replicas.filter((r) => r.status === 'up').length < want) underReplicated++;
      for (const r of sh.replicas) shardsPerSite[r.site] = (shardsPerSite[r.site] ?? 0) + 1;
    }
  }
  return { shards, underReplicated, transitions, shardsPerSite };
}

/** Every shard's replicas are `up` and no transition is pending. */
export function dsSettled(obs: DsObservation): boolean {
  return obs.dbs.every((db) =>
    db.shards.every((sh) => sh.transitions.length === 0 && sh.replicas.every((r) => r.status === 'up')),
  );
}
