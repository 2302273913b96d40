// Conversion of the released apps.emqx.io/v2alpha1 shape (the Go operator's CRD from 2.0.0 on: spec.image,
// spec.bootstrapConfig, pod fields under coreTemplate.spec / replicantTemplate.spec, Service-typed service
// templates) to and from v2beta1. That shape is v2beta1 under other names, so the mapping is nearly the identity:
// - spec.bootstrapConfig ↔ spec.config.data (spec.config.mode, a v2beta1 field the v2alpha1 schema also takes,
//   stays where it is);
// - coreTemplate.spec.replicas absent → 3 (the released default; v2beta1's is 2);
// - a replicantTemplate without `spec` → no replicant template (the Go operator drops it when replicas is unset;
//   its CRD defaulted replicas to 3 whenever `spec` was there, and so does this conversion);
// - a released service template is a whole Service: its `apiVersion` and `kind` have no place in v2beta1.
// Everything else (template metadata, every pod field, volumeClaimTemplates, v2beta1-only fields) is copied as is.
//
// Round trips are exact through one annotation, ANNOTATION_V2ALPHA1_RELEASED. On a v2beta1 object it marks the
// object as made from the released shape (so that its v2alpha1 view is that shape again) and records what the
// mapping does not give back by itself. An entry applies only while the v2beta1 object still matches it (a scale
// to 5 in v2beta1 makes "replicas was absent" stale); stale entries travel on the v2alpha1 view under the same
// annotation, so that converting the view back gives the v2beta1 object exactly. The view also shows v2beta1's
// defaults where v2alpha1's differ (an absent core replicas is 2 in v2beta1, 3 in v2alpha1).
import { deepEqual, isObj, type Obj } from './json.ts';

export const ANNOTATION_V2ALPHA1_RELEASED = 'apps.emqx.io/v2alpha1-released';
/** Replicas of the released v2alpha1 templates when unset. */
export const RELEASED_DEFAULT_REPLICAS = 3;
/** Replicas of v2beta1 templates when unset (./defaults.ts). */
const BETA_DEFAULT_REPLICAS = 2;
/** Keys of a released (Service-typed) service template that v2beta1 has no field for. */
const SERVICE_ONLY_KEYS = ['apiVersion', 'kind'] as const;
const SERVICE_TEMPLATES = ['dashboardServiceTemplate', 'listenersServiceTemplate'] as const;

/** The shallowest absent level on the way to `<role>.spec.replicas`. */
type Depth = 'template' | 'spec' | 'replicas';
type Role = 'coreTemplate' | 'replicantTemplate';

/**
 * What one version cannot say in the other:
 * - `core` / `replicantReplicas`: v2alpha1 left replicas out (at that depth) and v2beta1 holds the default 3;
 * - `replicantTemplate`: a v2alpha1 replicant template without `spec`, dropped;
 * - `configWas`: `{}` when v2alpha1 had an empty `config` next to bootstrapConfig;
 * - `dashboardServiceTemplate` / `listenersServiceTemplate`: their apiVersion / kind;
 * - `betaCore` / `betaReplicant` (views only): v2beta1 left replicas out, and the view shows its default 2.
 */
export interface ReleasedRecord {
  core?: Depth;
  replicantReplicas?: true;
  replicantTemplate?: unknown;
  configWas?: unknown;
  dashboardServiceTemplate?: Obj;
  listenersServiceTemplate?: Obj;
  betaCore?: Depth;
  betaReplicant?: Depth;
}

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

/** JSON with sorted keys, so that equal records give equal annotations. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObj(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function parseRecord(raw: string | undefined): ReleasedRecord | undefined {
  if (raw === undefined) return undefined;
  try {
    const r: unknown = JSON.parse(raw);
    return isObj(r) ? (r as ReleasedRecord) : {};
  } catch {
    return {};
  }
}

/** True for a v2alpha1 spec in the released shape (the early shape has spec.emqxTemplate). */
export function isReleasedShape(spec: unknown): boolean {
  return isObj(spec) && spec.emqxTemplate === undefined;
}

/** True for a v2beta1 object made from a released-shape v2alpha1 one. */
export function madeFromReleased(metadata: { annotations?: Record<string, string> } | undefined): boolean {
  return metadata?.annotations?.[ANNOTATION_V2ALPHA1_RELEASED] !== undefined;
}

function absentDepth(spec: Obj, role: Role): Depth | undefined {
  const t = spec[role];
  if (!isObj(t)) return 'template';
  if (!isObj(t.spec)) return 'spec';
  return t.spec.replicas === undefined ? 'replicas' : undefined;
}

function fill(spec: Obj, role: Role, depth: Depth, n: number): void {
  if (depth === 'template') spec[role] = { spec: { replicas: n } };
  else if (depth === 'spec') (spec[role] as Obj).spec = { replicas: n };
  else ((spec[role] as Obj).spec as Obj).replicas = n;
}

/** Whether `spec` holds exactly what fill(depth, n) would have created. */
function filled(spec: Obj, role: Role, depth: Depth, n: number): boolean {
  const t = spec[role];
  if (depth === 'template') return deepEqual(t, { spec: { replicas: n } });
  if (!isObj(t)) return false;
  if (depth === 'spec') return deepEqual(t.spec, { replicas: n });
  return isObj(t.spec) && t.spec.replicas === n;
}

function unfill(spec: Obj, role: Role, depth: Depth): void {
  if (depth === 'template') delete spec[role];
  else if (depth === 'spec') delete (spec[role] as Obj).spec;
  else delete ((spec[role] as Obj).spec as Obj).replicas;
}

/**
 * Converts a released-shape v2alpha1 spec to a v2beta1 spec and the record for its annotation. `carried` is the
 * record a v2alpha1 view brought along (see the file comment).
 */
export function releasedToBeta(
  alphaSpec: Obj,
  carried: ReleasedRecord = {},
): { spec: Obj; record: ReleasedRecord } {
  const spec = clone(alphaSpec);
  const record: ReleasedRecord = {};

  if ('bootstrapConfig' in spec) {
    const data = spec.bootstrapConfig;
    delete spec.bootstrapConfig;
    // An empty config next to bootstrapConfig is the one case the way back cannot tell from an absent one.
    if (isObj(spec.config) && Object.keys(spec.config).length === 0) record.configWas = {};
    spec.config = { ...(isObj(spec.config) ? spec.config : {}), data };
  }

  if (
    carried.betaCore !== undefined &&
    filled(spec, 'coreTemplate', carried.betaCore, BETA_DEFAULT_REPLICAS)
  ) {
    unfill(spec, 'coreTemplate', carried.betaCore);
  } else {
    const d = absentDepth(spec, 'coreTemplate');
    if (d !== undefined) {
      fill(spec, 'coreTemplate', d, RELEASED_DEFAULT_REPLICAS);
      record.core = d;
    }
  }

  const betaReplicant = carried.betaReplicant;
  if (
    betaReplicant !== undefined &&
    filled(spec, 'replicantTemplate', betaReplicant, BETA_DEFAULT_REPLICAS)
  ) {
    unfill(spec, 'replicantTemplate', betaReplicant);
  } else if (spec.replicantTemplate !== undefined) {
    const d = absentDepth(spec, 'replicantTemplate');
    if (d === 'template' || d === 'spec') {
      record.replicantTemplate = clone(spec.replicantTemplate);
      delete spec.replicantTemplate;
    } else if (d === 'replicas') {
      fill(spec, 'replicantTemplate', d, RELEASED_DEFAULT_REPLICAS);
      record.replicantReplicas = true;
    }
  }

  for (const key of SERVICE_TEMPLATES) {
    const t = spec[key];
    if (!isObj(t)) continue;
    const lost: Obj = {};
    for (const k of SERVICE_ONLY_KEYS) {
      if (t[k] !== undefined) {
        lost[k] = t[k];
        delete t[k];
      }
    }
    if (Object.keys(lost).length > 0) record[key] = lost;
  }

  // Stale entries of the v2beta1 object this view was made from win, so that an unedited view converts back exactly.
  for (const [k, v] of Object.entries(carried)) {
    if (k === 'betaCore' || k === 'betaReplicant' || v === undefined) continue;
    (record as Obj)[k] = clone(v);
  }
  return { spec, record };
}

/**
 * Converts a v2beta1 spec made from the released shape back to that shape, with the record its view carries
 * (stale entries and where the view shows v2beta1 defaults).
 */
export function betaToReleased(
  betaSpec: Obj,
  record: ReleasedRecord,
): { spec: Obj; carried: ReleasedRecord } {
  const spec = clone(betaSpec);
  const carried: ReleasedRecord = {};

  if (isObj(spec.config) && spec.config.data !== undefined) {
    const config = spec.config;
    spec.bootstrapConfig = config.data;
    delete config.data;
    const empty = Object.keys(config).length === 0;
    if (empty && record.configWas === undefined) delete spec.config;
    else if (!empty && record.configWas !== undefined) carried.configWas = clone(record.configWas);
  } else if (record.configWas !== undefined) carried.configWas = clone(record.configWas);

  const betaCore = absentDepth(betaSpec, 'coreTemplate');
  if (record.core !== undefined && filled(spec, 'coreTemplate', record.core, RELEASED_DEFAULT_REPLICAS)) {
    unfill(spec, 'coreTemplate', record.core);
  } else {
    if (record.core !== undefined) carried.core = record.core;
    if (betaCore !== undefined) {
      fill(spec, 'coreTemplate', betaCore, BETA_DEFAULT_REPLICAS);
      carried.betaCore = betaCore;
    }
  }

  const betaReplicant =
    spec.replicantTemplate === undefined ? undefined : absentDepth(betaSpec, 'replicantTemplate');
  if (record.replicantTemplate !== undefined) {
    if (spec.replicantTemplate === undefined) spec.replicantTemplate = clone(record.replicantTemplate);
    else carried.replicantTemplate = clone(record.replicantTemplate);
  }
  if (record.replicantReplicas) {
    if (filled(spec, 'replicantTemplate', 'replicas', RELEASED_DEFAULT_REPLICAS))
      unfill(spec, 'replicantTemplate', 'replicas');
    else carried.replicantReplicas = true;
  }
  if (betaReplicant !== undefined) {
    fill(spec, 'replicantTemplate', betaReplicant, BETA_DEFAULT_REPLICAS);
    carried.betaReplicant = betaReplicant;
  }

  for (const key of SERVICE_TEMPLATES) {
    const lost = record[key];
    if (lost === undefined) continue;
    const t = spec[key];
    if (isObj(t) && isObj(lost)) spec[key] = { ...clone(lost), ...t };
    else carried[key] = clone(lost);
  }
  return { spec, carried };
}
