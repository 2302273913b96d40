// Decides WITHOUT a write whether a server-side apply of `desired` would change the live object. This is how the
// operator stays at zero writes per idle reconcile: it applies only when `needsApply(desired, live)` is true.
//
// What is compared (desired → live):
//  - only fields the desired object sets (recursively); extra fields in live (server defaults such as
//    `spec.podManagementPolicy`, `clusterIP`, `terminationMessagePath`, other managers' labels) are ignored;
//  - ignored in desired: apiVersion, kind, metadata.{name,namespace,uid,resourceVersion,generation,
//    creationTimestamp,managedFields,selfLink,deletionTimestamp,deletionGracePeriodSeconds}, and `status`
//    (unless `subresource: 'status'`, which compares only `status`);
//  - lists of named items are matched by key, not position: containers/env/volumes/... by `name`, `conditions` by
//    `type`, `volumeMounts` by `mountPath`, ports by (`containerPort`|`port`, `protocol` defaulting to TCP),
//    `ownerReferences` by `uid`. Live items not in desired are ignored (see removal below); the desired items must
//    appear in live in the same relative order. `finalizers` are a set. Other lists are compared by position and
//    length (an atomic list is replaced whole by SSA);
//  - scalars must be equal, except: quantities under resources/requests/limits/capacity/storage/... compare by value
//    ("1Gi" = "1073741824", "0.5" = "500m"); `...Time`/`...Timestamp` strings and Dates compare as instants; a desired
//    empty value ("", 0, false, [], and {} for map fields like labels) equals an absent live field (Go omitempty);
//  - a desired `null` means "must be absent".
//
// Removal detection (`checkOwnership`, default on): a field removed from desired is invisible in a desired→live
// comparison. So the live object's `metadata.managedFields` entry of manager `emqx-operator` with operation Apply
// (subresource '' or 'status') is read: every field it lists that desired no longer sets (an env var, a label, a
// port, a container, an annotation) counts as a change ('removed'). And every desired field missing from that entry
// counts too ('unowned': another manager took it over, or the object was created by a non-apply request), because an
// apply would rewrite managedFields. If the live object has managedFields but no Apply entry of ours, that is
// 'unowned' for the whole object.
//
// What it cannot detect:
//  - removals when live carries no managedFields at all (e.g. an object built by hand in a test): then only
//    desired→live differences are seen;
//  - changes the server would make on its own (defaulting of a newly added field is fine; a mutating webhook that
//    rewrites a value we set makes every reconcile look dirty, and a validating one that rejects it is not foreseen);
//  - fields the API server drops (unknown fields, CRD pruning): desired must not set fields the schema lacks, or the
//    object looks changed forever;
//  - whether SSA would conflict with another manager (we always force);
//  - semantic equivalences beyond the ones listed (e.g. `cpu: 1` vs `cpu: "1"` is fine as a quantity, but
//    `targetPort: "8080"` vs `8080` is a change, as it is for the API server).

import { FIELD_MANAGER } from '../api/names.ts';

export { FIELD_MANAGER };

export type DiffReason = 'missing' | 'changed' | 'absent' | 'order' | 'length' | 'removed' | 'unowned';

export interface DiffEntry {
  /** Dotted path, list items as `[name=x]` / `[3]`, e.g. `spec.template.spec.containers[name=emqx].image`. */
  path: string;
  reason: DiffReason;
  desired?: unknown;
  live?: unknown;
}

export interface NeedsApplyOptions {
  /** Field manager whose managedFields entry is read; default `emqx-operator`. */
  manager?: string;
  /** `status`: compare only `status` (and the manager's status entry), for applyStatus. */
  subresource?: 'status';
  /** Use managedFields to find removed and not-owned fields (default true). */
  checkOwnership?: boolean;
  /** Stop after this many differences (default: all). `needsApply` stops at the first. */
  limit?: number;
}

type Seg = string | { key: string };

const IGNORED_METADATA = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
]);

/** Fields that are Go maps (empty → omitted by the server). */
const MAP_FIELDS = new Set([
  'labels',
  'annotations',
  'matchLabels',
  'nodeSelector',
  'selector',
  'data',
  'binaryData',
  'stringData',
  'parameters',
]);

const QUANTITY_PARENTS = new Set([
  'resources',
  'requests',
  'limits',
  'capacity',
  'allocatable',
  'hard',
  'used',
  'overhead',
]);
const QUANTITY_FIELDS = new Set(['storage', 'sizeLimit']);

class Stop extends Error {}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function isEmpty(v: unknown, field: string | undefined): boolean {
  if (v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isPlainObject(v)) return Object.keys(v).length === 0 && field !== undefined && MAP_FIELDS.has(field);
  return false;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function formatPath(path: readonly Seg[]): string {
  let out = '';
  for (const s of path) {
    if (typeof s === 'string') out += IDENT.test(s) ? (out ? `.${s}` : s) : `[${s}]`;
    else out += `[${s.key}]`;
  }
  return out;
}

// ---- quantities -------------------------------------------------------------------------------------------------

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The numeric value of a Kubernetes quantity ("1Gi", "500m", "1e3", 2), or undefined if it is not one. */
export function parseQuantity(q: unknown): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  if (typeof q !== 'string') return undefined;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$/.exec(
    q.trim(),
  );
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2]) return Number(`${m[1]}${m[2]}`);
  return base * SUFFIX[m[3] ?? '']!;
}

function isQuantityPath(path: readonly Seg[]): boolean {
  const last = path[path.length - 1];
  if (typeof last === 'string' && QUANTITY_FIELDS.has(last)) return true;
  return path.some((s) => typeof s === 'string' && QUANTITY_PARENTS.has(s)) && path.length >= 2;
}

function isTimePath(path: readonly Seg[]): boolean {
  const last = path[path.length - 1];
  return typeof last === 'string' && /(Time|Timestamp)$/.test(last);
}

function scalarEqual(path: readonly Seg[], d: unknown, l: unknown): boolean {
  if (d === l) return true;
  if (l instanceof Date || d instanceof Date || isTimePath(path)) {
    const dt = d instanceof Date ? d.getTime() : typeof d === 'string' ? Date.parse(d) : NaN;
    const lt = l instanceof Date ? l.getTime() : typeof l === 'string' ? Date.parse(l) : NaN;
    if (!Number.isNaN(dt) && !Number.isNaN(lt)) return Math.abs(dt - lt) < 1; // MicroTime vs ms precision
  }
  if (isQuantityPath(path)) {
    const dq = parseQuantity(d);
    const lq = parseQuantity(l);
    if (dq !== undefined && lq !== undefined) return dq === lq || Math.abs(dq - lq) <= Math.abs(dq) * 1e-12;
  }
  return false;
}

// ---- list keys --------------------------------------------------------------------------------------------------

type KeyFn = (item: Record<string, unknown>) => string | undefined;

const keyed =
  (...fields: string[]): KeyFn =>
  (item) => {
    const parts: string[] = [];
    for (const f of fields) {
      let v = item[f];
      if (v === undefined && f === 'protocol') v = 'TCP';
      if (v === undefined || v === null || typeof v === 'object') return undefined;
      parts.push(`${f}=${String(v)}`);
    }
    return parts.join(',');
  };

function listKeyFn(field: string | undefined, items: unknown[]): KeyFn | undefined {
  if (items.length === 0 || !items.every(isPlainObject)) return undefined;
  const objs = items as Array<Record<string, unknown>>;
  const all = (f: string) => objs.every((o) => o[f] !== undefined && o[f] !== null);
  let fn: KeyFn | undefined;
  if (field === 'ports' && all('containerPort')) fn = keyed('containerPort', 'protocol');
  else if (field === 'ports' && all('port')) fn = keyed('port', 'protocol');
  else if (field === 'volumeMounts' && all('mountPath')) fn = keyed('mountPath');
  else if (field === 'volumeDevices' && all('devicePath')) fn = keyed('devicePath');
  else if (field === 'ownerReferences' && all('uid')) fn = keyed('uid');
  else if (field === 'conditions' && all('type')) fn = keyed('type');
  else if (field === 'readinessGates' && all('conditionType')) fn = keyed('conditionType');
  else if (all('name') && objs.every((o) => typeof o.name === 'string')) fn = keyed('name');
  else if (all('type') && objs.every((o) => typeof o.type === 'string')) fn = keyed('type');
  if (!fn) return undefined;
  const keys = objs.map(fn);
  if (keys.some((k) => k === undefined) || new Set(keys).size !== keys.length) return undefined;
  return fn;
}

// ---- desired → live ---------------------------------------------------------------------------------------------

class Differ {
  readonly out: DiffEntry[] = [];
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }

  add(path: readonly Seg[], reason: DiffReason, desired?: unknown, live?: unknown): void {
    this.out.push({ path: formatPath(path), reason, desired, live });
    if (this.out.length >= this.limit) throw new Stop();
  }

  value(path: Seg[], d: unknown, l: unknown): void {
    if (d === undefined) return;
    const field = lastField(path);
    if (d === null) {
      if (l !== undefined && l !== null) this.add(path, 'changed', null, l);
      return;
    }
    if (l === undefined || l === null) {
      if (!isEmpty(d, field)) this.add(path, 'absent', d, undefined);
      return;
    }
    if (Array.isArray(d)) return this.list(path, field, d, l);
    if (isPlainObject(d)) {
      if (!isPlainObject(l)) return this.add(path, 'changed', d, l);
      for (const [k, v] of Object.entries(d)) this.value([...path, k], v, l[k]);
      return;
    }
    if (!scalarEqual(path, d, l)) this.add(path, 'changed', d, l);
  }

  private list(path: Seg[], field: string | undefined, d: unknown[], l: unknown): void {
    if (!Array.isArray(l)) return this.add(path, 'changed', d, l);
    if (field === 'finalizers') {
      for (const f of d) if (!l.includes(f)) this.add([...path, { key: String(f) }], 'absent', f, undefined);
      return;
    }
    const keyFn = listKeyFn(field, d);
    if (keyFn) {
      const liveByKey = new Map<string, { item: unknown; index: number }>();
      l.forEach((item, index) => {
        if (isPlainObject(item)) {
          const k = keyFn(item);
          if (k !== undefined && !liveByKey.has(k)) liveByKey.set(k, { item, index });
        }
      });
      let lastIndex = -1;
      let ordered = true;
      for (const item of d as Array<Record<string, unknown>>) {
        const k = keyFn(item)!;
        const found = liveByKey.get(k);
        if (!found) {
          this.add([...path, { key: k }], 'absent', item, undefined);
          continue;
        }
        if (found.index < lastIndex) ordered = false;
        lastIndex = found.index;
        this.value([...path, { key: k }], item, found.item);
      }
      if (!ordered)
        this.add(
          path,
          'order',
          d.map((i) => keyFn(i as Record<string, unknown>)),
          undefined,
        );
      return;
    }
    if (d.length !== l.length) return this.add(path, 'length', d, l);
    d.forEach((item, i) => this.value([...path, { key: String(i) }], item, l[i]));
  }
}

function lastField(path: readonly Seg[]): string | undefined {
  const last = path[path.length - 1];
  return typeof last === 'string' ? last : undefined;
}

// ---- managedFields ----------------------------------------------------------------------------------------------

type FieldSet = Record<string, unknown>;

function children(fs: unknown): Array<[string, FieldSet]> {
  if (!isPlainObject(fs)) return [];
  return Object.entries(fs).filter(([k]) => k !== '.') as Array<[string, FieldSet]>;
}

function parseKey(k: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(k) as unknown;
    return isPlainObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Does a desired list item match a managedFields `k:{...}` key (fields desired leaves out count as defaulted)? */
function itemMatchesKey(item: unknown, key: Record<string, unknown>): boolean {
  if (!isPlainObject(item)) return false;
  let matched = 0;
  for (const [f, v] of Object.entries(key)) {
    const iv = item[f];
    if (iv === undefined) {
      if (f === 'protocol' && v !== 'TCP') return false;
      continue;
    }
    if (String(iv) !== String(v)) return false;
    matched++;
  }
  return matched > 0;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

class OwnershipChecker {
  private readonly differ: Differ;
  constructor(differ: Differ) {
    this.differ = differ;
  }

  /** Fields our entry lists that desired no longer sets. */
  removed(path: Seg[], fs: unknown, d: unknown): void {
    for (const [k, child] of children(fs)) {
      if (k.startsWith('f:')) {
        const name = k.slice(2);
        const dv = isPlainObject(d) ? d[name] : undefined;
        if (dv === undefined || dv === null) this.differ.add([...path, name], 'removed');
        else if (children(child).length > 0) this.removed([...path, name], child, dv);
      } else if (k.startsWith('k:')) {
        const key = parseKey(k.slice(2));
        const item = Array.isArray(d) && key ? d.find((i) => itemMatchesKey(i, key)) : undefined;
        const seg = { key: key ? Object.values(key).join(',') : k };
        if (item === undefined) this.differ.add([...path, seg], 'removed');
        else if (children(child).length > 0) this.removed([...path, seg], child, item);
      } else if (k.startsWith('v:')) {
        let v: unknown;
        try {
          v = JSON.parse(k.slice(2));
        } catch {
          continue;
        }
        if (!Array.isArray(d) || !d.some((x) => sameJson(x, v)))
          this.differ.add([...path, { key: String(v) }], 'removed');
      } else if (k.startsWith('i:')) {
        const i = Number(k.slice(2));
        if (!Array.isArray(d) || d.length <= i) this.differ.add([...path, { key: String(i) }], 'removed');
        else if (children(child).length > 0) this.removed([...path, { key: String(i) }], child, d[i]);
      }
    }
  }

  /** Desired fields our entry does not list (an apply would take them (back) over). */
  unowned(path: Seg[], d: unknown, fs: unknown): void {
    if (isPlainObject(d)) {
      for (const [k, v] of Object.entries(d)) {
        if (v === undefined || v === null || isEmpty(v, k)) continue;
        if (isPlainObject(v) && Object.keys(v).length === 0) continue; // e.g. metadata left empty after stripping
        const entry = isPlainObject(fs) ? fs[`f:${k}`] : undefined;
        if (entry === undefined) {
          this.differ.add([...path, k], 'unowned', v);
          continue;
        }
        if (children(entry).length === 0) continue; // atomic, or a leaf: owned as a whole
        this.unowned([...path, k], v, entry);
      }
      return;
    }
    if (Array.isArray(d)) {
      const entries = children(fs);
      const keyedEntries = entries.filter(([k]) => k.startsWith('k:'));
      const setEntries = entries.filter(([k]) => k.startsWith('v:'));
      if (keyedEntries.length > 0) {
        for (const item of d) {
          const hit = keyedEntries.find(([k]) => {
            const key = parseKey(k.slice(2));
            return key !== undefined && itemMatchesKey(item, key);
          });
          if (!hit) {
            this.differ.add(
              [...path, { key: isPlainObject(item) && item.name ? String(item.name) : '?' }],
              'unowned',
              item,
            );
          } else if (children(hit[1]).length > 0) {
            const key = parseKey(hit[0].slice(2))!;
            this.unowned([...path, { key: Object.values(key).join(',') }], item, hit[1]);
          }
        }
      } else if (setEntries.length > 0) {
        for (const item of d) {
          if (!setEntries.some(([k]) => k.slice(2) === JSON.stringify(item))) {
            this.differ.add([...path, { key: String(item) }], 'unowned', item);
          }
        }
      }
      // otherwise an atomic list (owned as a whole by the parent entry)
    }
  }
}

function ourEntry(
  live: Record<string, unknown>,
  manager: string,
  subresource: string,
): ManagedEntry | 'none' | 'unknown' {
  const meta = live.metadata;
  const mf = isPlainObject(meta) ? meta.managedFields : undefined;
  if (!Array.isArray(mf)) return 'unknown';
  const e = (mf as ManagedEntry[]).find(
    (x) => x.manager === manager && x.operation === 'Apply' && (x.subresource ?? '') === subresource,
  );
  return e ?? 'none';
}

interface ManagedEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

/** Strips what SSA ignores or must not be sent, leaving the fields to compare. */
function comparable(desired: Record<string, unknown>, status: boolean): Record<string, unknown> {
  if (status) return desired.status === undefined ? {} : { status: desired.status };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(desired)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'status') continue;
    if (k === 'metadata' && isPlainObject(v)) {
      const meta: Record<string, unknown> = {};
      for (const [mk, mv] of Object.entries(v)) if (!IGNORED_METADATA.has(mk)) meta[mk] = mv;
      out.metadata = meta;
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Every difference an apply of `desired` would make to `live` (empty = an apply would be a no-op). */
export function applyDiff(
  desired: object,
  live: object | undefined | null,
  opts: NeedsApplyOptions = {},
): DiffEntry[] {
  const differ = new Differ(opts.limit ?? Infinity);
  if (live === undefined || live === null) return [{ path: '', reason: 'missing' }];
  const status = opts.subresource === 'status';
  const d = comparable(desired as Record<string, unknown>, status);
  const l = live as Record<string, unknown>;
  try {
    for (const [k, v] of Object.entries(d)) differ.value([k], v, l[k]);
    if (opts.checkOwnership ?? true) {
      const entry = ourEntry(l, opts.manager ?? FIELD_MANAGER, status ? 'status' : '');
      if (entry === 'none') {
        if (Object.keys(d).length > 0) differ.add([], 'unowned');
      } else if (entry !== 'unknown') {
        const fs = entry.fieldsV1 ?? {};
        const checker = new OwnershipChecker(differ);
        const scoped: FieldSet = {};
        for (const [k, v] of Object.entries(fs)) {
          if (k === 'f:status' && !status) continue;
          if (k !== 'f:status' && status) continue;
          if (k === 'f:metadata' && isPlainObject(v)) {
            const meta: FieldSet = {};
            for (const [mk, mv] of Object.entries(v)) if (!IGNORED_METADATA.has(mk.slice(2))) meta[mk] = mv;
            scoped[k] = meta;
          } else {
            scoped[k] = v;
          }
        }
        checker.removed([], scoped, d);
        checker.unowned([], d, scoped);
      }
    }
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
  }
  return differ.out;
}

/** True when a server-side apply of `desired` would change `live` (or live does not exist). */
export function needsApply(
  desired: object,
  live: object | undefined | null,
  opts: NeedsApplyOptions = {},
): boolean {
  return applyDiff(desired, live, { ...opts, limit: 1 }).length > 0;
}

/** A short human-readable summary of a diff for logs (paths only, never values: they may hold secrets). */
export function describeDiff(diff: readonly DiffEntry[], max = 10): string {
  const parts = diff.slice(0, max).map((e) => `${e.path || '<object>'} (${e.reason})`);
  if (diff.length > max) parts.push(`… ${diff.length - max} more`);
  return parts.join(', ');
}
