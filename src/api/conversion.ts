// Conversion between apps.emqx.io/v2alpha1 (deprecated) and v2beta1 EMQX objects, and the ConversionReview handler
// the operator's conversion webhook serves. Everything here is pure.
//
// v2alpha1 comes in two shapes. The released one (the Go operator's CRD from 2.0.0 on: spec.image, pod fields under
// the templates) is converted by ./conversion-released.ts; a v2beta1 object made from it is viewed in that shape
// again. The early one (spec.emqxTemplate, from one early getting-started page) is converted here, and is also the
// v2alpha1 view of objects created as v2beta1.
//
// The early mapping (v2alpha1 → v2beta1):
// - emqxTemplate.image / imagePullPolicy / imagePullSecrets / bootstrapAPIKeys → the same fields of spec;
// - emqxTemplate.bootstrapConfig → spec.config.data;
// - emqxTemplate.env / args / resources / extraVolumes / extraVolumeMounts / readinessProbe / livenessProbe /
//   startupProbe → the same fields of both templates, securityContext → both templates' podSecurityContext;
// - coreTemplate / replicantTemplate metadata, nodeSelector, affinity, tolerations → the same fields;
//   replicas → replicas, where v2alpha1 defaults both to 3, so a v2alpha1 resource without replicantTemplate
//   gets 3 replicants;
// - persistent → coreTemplate.spec.volumeClaimTemplates with dataVolume PersistentVolumeClaim; no persistent
//   → dataVolume EmptyDir (v2alpha1 kept core data in an emptyDir when persistent was not set);
// - dashboardServiceTemplate / listenersServiceTemplate metadata and spec → the same fields.
// Going back, the per-pod fields are read from the core template.
//
// Both round trips are exact, through two annotations that carry what the other version cannot express:
// - `apps.emqx.io/v2alpha1-fields` on a v2beta1 object made from a v2alpha1 one: the v2alpha1 value of every
//   field the mapping above would not give back as written (an absent replicas, which became 3; an absent
//   coreTemplate, ...). It is used only while the v2beta1 object still matches it.
// - `apps.emqx.io/v2beta1-spec` on a v2alpha1 view of a v2beta1 object: the v2beta1 spec, minus the fields
//   v2alpha1 holds exactly (image, pull settings, config data, bootstrap API keys). Converting the view back
//   restores that spec, then applies each v2alpha1 field that was changed in the view.
import { defaultVolumeClaimSpec } from './defaults.ts';
import type { EMQX, EMQXV2Alpha1, EMQXV2Alpha1Released, EMQXV2Alpha1Spec } from './types.ts';
import { EMQX_API_VERSION, EMQX_V2ALPHA1_API_VERSION } from './types.ts';
import { deepEqual, isObj, type Obj } from './json.ts';
import {
  ANNOTATION_V2ALPHA1_RELEASED,
  betaToReleased,
  canonicalJson,
  isReleasedShape,
  madeFromReleased,
  parseRecord,
  releasedToBeta,
} from './conversion-released.ts';
import { ANNOTATION_V2ALPHA1_FIELDS, ANNOTATION_V2BETA1_SPEC } from './names.ts';

export { ANNOTATION_V2ALPHA1_FIELDS, ANNOTATION_V2BETA1_SPEC };
/** v2alpha1 replicas default for both roles. */
export const V2ALPHA1_DEFAULT_REPLICAS = 3;
/** v2beta1 replicas default (./defaults.ts), used when a v2beta1 template leaves replicas out. */
const V2BETA1_DEFAULT_REPLICAS = 2;

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

function getPath(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) {
    if (!isObj(node)) return undefined;
    node = node[key];
  }
  return node;
}

/**
 * Removes the leaf at `path`. Parents stay, even when emptied: an empty replicantTemplate still means replicants
 * (with default settings), so removing one of its fields must not remove it.
 */
function unsetPath(root: Obj, path: string[]): void {
  const parent = getPath(root, path.slice(0, -1));
  if (isObj(parent)) delete parent[path[path.length - 1]];
}

/** Sets the leaf at `path`, creating parents; `undefined` removes the leaf only (see unsetPath). */
function setPath(root: Obj, path: string[], value: unknown): void {
  if (value === undefined) return unsetPath(root, path);
  let node = root;
  for (const key of path.slice(0, -1)) {
    if (!isObj(node[key])) node[key] = {};
    node = node[key] as Obj;
  }
  node[path[path.length - 1]] = clone(value);
}

/** Drops undefined members, so that absent and undefined compare equal. */
function compact(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * One v2alpha1 field and where it lives in v2beta1. `toBeta` writes the v2alpha1 value into a v2beta1 spec (undefined
 * removes it); `fromBeta` reads it back. `exact` slots map one field to one field, both ways.
 */
interface Slot {
  name: string;
  exact?: boolean;
  get(a: EMQXV2Alpha1Spec): unknown;
  set(a: EMQXV2Alpha1Spec, v: unknown): void;
  toBeta(b: Obj, v: unknown): void;
  fromBeta(b: Obj): unknown;
}

function emqxTemplateSlot(alphaKey: string, betaPath: string[]): Slot {
  return {
    name: `emqxTemplate.${alphaKey}`,
    exact: true,
    get: (a) => (a.emqxTemplate as Obj)[alphaKey],
    set: (a, v) => setPath(a.emqxTemplate as Obj, [alphaKey], v),
    toBeta: (b, v) => setPath(b, betaPath, v),
    fromBeta: (b) => getPath(b, betaPath),
  };
}

/** A per-pod field of emqxTemplate: both templates in v2beta1 (the replicant one only if there are replicants). */
function podSlot(alphaKey: string, betaKey: string): Slot {
  return {
    name: `emqxTemplate.${alphaKey}`,
    get: (a) => (a.emqxTemplate as Obj)[alphaKey],
    set: (a, v) => setPath(a.emqxTemplate as Obj, [alphaKey], v),
    toBeta: (b, v) => {
      setPath(b, ['coreTemplate', 'spec', betaKey], v);
      if (isObj(b.replicantTemplate)) setPath(b, ['replicantTemplate', 'spec', betaKey], v);
    },
    fromBeta: (b) => getPath(b, ['coreTemplate', 'spec', betaKey]),
  };
}

const NODE_FIELDS = ['nodeSelector', 'affinity', 'tolerations'] as const;

function nodeTemplateSlot(role: 'coreTemplate' | 'replicantTemplate'): Slot {
  return {
    name: role,
    get: (a) => a[role],
    set: (a, v) => setPath(a as unknown as Obj, [role], v),
    toBeta: (b, v) => {
      const t = isObj(v) ? v : {};
      const spec = isObj(t.spec) ? t.spec : {};
      if (!isObj(b[role])) b[role] = {};
      setPath(b, [role, 'metadata'], t.metadata);
      setPath(b, [role, 'spec', 'replicas'], spec.replicas ?? V2ALPHA1_DEFAULT_REPLICAS);
      for (const f of NODE_FIELDS) setPath(b, [role, 'spec', f], spec[f]);
    },
    fromBeta: (b) => {
      const t = b[role];
      // No replicant template in v2beta1 means no replicants; v2alpha1 says that with replicas 0.
      if (!isObj(t))
        return role === 'replicantTemplate'
          ? { spec: { replicas: 0 } }
          : { spec: { replicas: V2BETA1_DEFAULT_REPLICAS } };
      const spec = isObj(t.spec) ? t.spec : {};
      return compact({
        metadata: clone(t.metadata),
        spec: compact({
          replicas: spec.replicas ?? V2BETA1_DEFAULT_REPLICAS,
          ...Object.fromEntries(NODE_FIELDS.map((f) => [f, clone(spec[f])])),
        }),
      });
    },
  };
}

const persistentSlot: Slot = {
  name: 'persistent',
  get: (a) => a.persistent,
  set: (a, v) => setPath(a as unknown as Obj, ['persistent'], v),
  toBeta: (b, v) => {
    setPath(
      b,
      ['coreTemplate', 'spec', 'dataVolume'],
      v === undefined ? 'EmptyDir' : 'PersistentVolumeClaim',
    );
    setPath(b, ['coreTemplate', 'spec', 'volumeClaimTemplates'], v);
  },
  fromBeta: (b) =>
    getPath(b, ['coreTemplate', 'spec', 'dataVolume']) === 'EmptyDir'
      ? undefined
      : (clone(getPath(b, ['coreTemplate', 'spec', 'volumeClaimTemplates'])) ?? defaultVolumeClaimSpec()),
};

function serviceSlot(key: 'dashboardServiceTemplate' | 'listenersServiceTemplate'): Slot {
  return {
    name: key,
    get: (a) => a[key],
    set: (a, v) => setPath(a as unknown as Obj, [key], v),
    toBeta: (b, v) => {
      const t = isObj(v) ? v : {};
      setPath(b, [key, 'metadata'], t.metadata);
      setPath(b, [key, 'spec'], t.spec);
    },
    fromBeta: (b) => {
      const t = b[key];
      if (!isObj(t)) return undefined;
      const out = compact({ metadata: clone(t.metadata), spec: clone(t.spec) });
      return Object.keys(out).length > 0 ? out : undefined;
    },
  };
}

/** In order: the node templates come before the per-pod fields, which need to know whether replicants exist. */
const SLOTS: Slot[] = [
  emqxTemplateSlot('image', ['image']),
  emqxTemplateSlot('imagePullPolicy', ['imagePullPolicy']),
  emqxTemplateSlot('imagePullSecrets', ['imagePullSecrets']),
  emqxTemplateSlot('bootstrapConfig', ['config', 'data']),
  emqxTemplateSlot('bootstrapAPIKeys', ['bootstrapAPIKeys']),
  nodeTemplateSlot('coreTemplate'),
  nodeTemplateSlot('replicantTemplate'),
  podSlot('env', 'env'),
  podSlot('args', 'args'),
  podSlot('resources', 'resources'),
  podSlot('securityContext', 'podSecurityContext'),
  podSlot('extraVolumes', 'extraVolumes'),
  podSlot('extraVolumeMounts', 'extraVolumeMounts'),
  podSlot('readinessProbe', 'readinessProbe'),
  podSlot('livenessProbe', 'livenessProbe'),
  podSlot('startupProbe', 'startupProbe'),
  persistentSlot,
  serviceSlot('dashboardServiceTemplate'),
  serviceSlot('listenersServiceTemplate'),
];

/** Recorded v2alpha1 values: `{}` records an absent field. */
type FieldRecord = Record<string, { value?: unknown }>;

interface Residual {
  spec: Obj;
  stale?: FieldRecord;
}

function parseJson<T>(raw: string | undefined): T | undefined {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}

/** Whether writing `v` into `b` through `slot` changes nothing, i.e. `v` is a faithful reading of `b`. */
function matches(slot: Slot, b: Obj, v: unknown): boolean {
  const probe = clone(b);
  slot.toBeta(probe, clone(v));
  return deepEqual(probe, b);
}

function withAnnotations<M extends { annotations?: Record<string, string> }>(
  metadata: M,
  annotations: Record<string, string>,
): M {
  const out = { ...metadata };
  if (Object.keys(annotations).length > 0) out.annotations = annotations;
  else delete out.annotations;
  return out;
}

/** `from` as an EMQX of `apiVersion`: its metadata with `annotations`, `spec`, and a copy of its status. */
function converted<T>(
  apiVersion: string,
  from: { metadata?: { annotations?: Record<string, string> }; status?: unknown },
  annotations: Record<string, string>,
  spec: unknown,
): T {
  const out: Record<string, unknown> = {
    apiVersion,
    kind: 'EMQX',
    metadata: withAnnotations(from.metadata ?? {}, annotations),
    spec,
  };
  if (from.status !== undefined) out.status = clone(from.status);
  return out as T;
}

/** Converts a v2alpha1 EMQX, in either shape, to v2beta1. */
export function toV2beta1(alpha: EMQXV2Alpha1 | EMQXV2Alpha1Released): EMQX {
  if (isReleasedShape(alpha.spec)) return releasedToV2beta1(alpha as EMQXV2Alpha1Released);
  return earlyToV2beta1(alpha as EMQXV2Alpha1);
}

/** Converts a v2beta1 EMQX to v2alpha1: the released shape if it was made from that shape, else the early one. */
export function toV2alpha1(beta: EMQX): EMQXV2Alpha1 | EMQXV2Alpha1Released {
  if (madeFromReleased(beta.metadata)) return v2beta1ToReleased(beta);
  return v2beta1ToEarly(beta);
}

function releasedToV2beta1(alpha: EMQXV2Alpha1Released): EMQX {
  const annotations = { ...alpha.metadata?.annotations };
  const carried = parseRecord(annotations[ANNOTATION_V2ALPHA1_RELEASED]) ?? {};
  const { spec, record } = releasedToBeta(alpha.spec as unknown as Obj, carried);
  annotations[ANNOTATION_V2ALPHA1_RELEASED] = canonicalJson(record);
  return converted<EMQX>(EMQX_API_VERSION, alpha, annotations, spec);
}

function v2beta1ToReleased(beta: EMQX): EMQXV2Alpha1Released {
  const annotations = { ...beta.metadata?.annotations };
  const record = parseRecord(annotations[ANNOTATION_V2ALPHA1_RELEASED]) ?? {};
  delete annotations[ANNOTATION_V2ALPHA1_RELEASED];
  const { spec, carried } = betaToReleased(beta.spec as unknown as Obj, record);
  if (Object.keys(carried).length > 0) annotations[ANNOTATION_V2ALPHA1_RELEASED] = canonicalJson(carried);
  return converted<EMQXV2Alpha1Released>(EMQX_V2ALPHA1_API_VERSION, beta, annotations, spec);
}

/** Converts an early-shape (spec.emqxTemplate) v2alpha1 EMQX to v2beta1. */
function earlyToV2beta1(alpha: EMQXV2Alpha1): EMQX {
  const a = alpha.spec;
  const annotations = { ...alpha.metadata?.annotations };
  const residual = parseJson<Residual>(annotations[ANNOTATION_V2BETA1_SPEC]);
  delete annotations[ANNOTATION_V2BETA1_SPEC];
  delete annotations[ANNOTATION_V2ALPHA1_FIELDS];

  let spec: Obj;
  if (residual && isObj(residual.spec)) {
    // A view of a v2beta1 object: start from its spec and apply only what was changed in the view.
    const base = residual.spec;
    spec = clone(base);
    for (const slot of SLOTS) {
      const v = slot.get(a);
      if (!slot.exact && (deepEqual(v, slot.fromBeta(base)) || matches(slot, base, v))) continue;
      slot.toBeta(spec, clone(v));
    }
  } else {
    spec = {};
    for (const slot of SLOTS) slot.toBeta(spec, clone(slot.get(a)));
  }

  const fields: FieldRecord = {};
  for (const slot of SLOTS) {
    const v = slot.get(a);
    if (!deepEqual(slot.fromBeta(spec), v)) fields[slot.name] = v === undefined ? {} : { value: clone(v) };
  }
  for (const [name, entry] of Object.entries(residual?.stale ?? {})) fields[name] ??= entry;
  if (Object.keys(fields).length > 0) annotations[ANNOTATION_V2ALPHA1_FIELDS] = JSON.stringify(fields);

  return converted<EMQX>(EMQX_API_VERSION, alpha, annotations, spec);
}

/** Converts a v2beta1 EMQX to early-shape v2alpha1 (a view that converts back to the same v2beta1 object). */
function v2beta1ToEarly(beta: EMQX): EMQXV2Alpha1 {
  const b = beta.spec as unknown as Obj;
  const annotations = { ...beta.metadata?.annotations };
  const recorded = parseJson<FieldRecord>(annotations[ANNOTATION_V2ALPHA1_FIELDS]) ?? {};
  delete annotations[ANNOTATION_V2ALPHA1_FIELDS];
  delete annotations[ANNOTATION_V2BETA1_SPEC];

  const a = { emqxTemplate: {} } as EMQXV2Alpha1Spec;
  const stale: FieldRecord = {};
  for (const slot of SLOTS) {
    let v = slot.fromBeta(b);
    const entry = isObj(recorded) ? recorded[slot.name] : undefined;
    if (isObj(entry)) {
      if (matches(slot, b, entry.value)) v = entry.value;
      else stale[slot.name] = entry;
    }
    slot.set(a, clone(v));
  }

  const view = converted<EMQXV2Alpha1>(EMQX_V2ALPHA1_API_VERSION, beta, annotations, a);

  const back = earlyToV2beta1(view);
  if (!deepEqual(back.spec, beta.spec) || !deepEqual(back.metadata, beta.metadata ?? {})) {
    const rest = clone(b);
    for (const slot of SLOTS) if (slot.exact) slot.toBeta(rest, undefined);
    const residual: Residual = { spec: rest };
    if (Object.keys(stale).length > 0) residual.stale = stale;
    view.metadata = withAnnotations(view.metadata, {
      ...annotations,
      [ANNOTATION_V2BETA1_SPEC]: JSON.stringify(residual),
    });
  }
  return view;
}

// ---------------------------------------------------------------------------------------------------------------
// ConversionReview (apiextensions.k8s.io/v1)
// ---------------------------------------------------------------------------------------------------------------

export interface ConversionReview {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'ConversionReview';
  request?: { uid: string; desiredAPIVersion: string; objects: unknown[] };
  response?: {
    uid: string;
    convertedObjects?: unknown[];
    result: { status: 'Success' | 'Failure'; message?: string };
  };
}

/** Converts one object to `desiredAPIVersion`; throws with a message for the API server on anything unsupported. */
export function convertObject(obj: unknown, desiredAPIVersion: string): unknown {
  if (!isObj(obj)) throw new Error('object is not a JSON object');
  if (obj.apiVersion === desiredAPIVersion) return obj;
  const where = `${String(obj.kind)} ${String((obj.metadata as Obj | undefined)?.name ?? '')}`.trim();
  if (obj.kind !== 'EMQX')
    throw new Error(`${where}: no conversion from ${String(obj.apiVersion)} to ${desiredAPIVersion}`);
  if (obj.apiVersion === EMQX_V2ALPHA1_API_VERSION && desiredAPIVersion === EMQX_API_VERSION) {
    if (!isObj(obj.spec)) throw new Error(`${where}: spec: required`);
    if (obj.spec.emqxTemplate !== undefined && !isObj(obj.spec.emqxTemplate))
      throw new Error(`${where}: spec.emqxTemplate: must be an object`);
    return toV2beta1(obj as unknown as EMQXV2Alpha1);
  }
  if (obj.apiVersion === EMQX_API_VERSION && desiredAPIVersion === EMQX_V2ALPHA1_API_VERSION) {
    if (!isObj(obj.spec)) throw new Error(`${where}: spec: required`);
    return toV2alpha1(obj as unknown as EMQX);
  }
  throw new Error(`${where}: no conversion from ${String(obj.apiVersion)} to ${desiredAPIVersion}`);
}

/**
 * Answers a ConversionReview: converts every object to the desired version, or fails the whole review (the API
 * server wants all objects or none). Never throws.
 */
export function convertReview(review: unknown): ConversionReview {
  const request = isObj(review) && isObj(review.request) ? review.request : undefined;
  const uid = typeof request?.uid === 'string' ? request.uid : '';
  const fail = (message: string): ConversionReview => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'ConversionReview',
    response: { uid, result: { status: 'Failure', message } },
  });
  if (
    !isObj(review) ||
    review.apiVersion !== 'apiextensions.k8s.io/v1' ||
    review.kind !== 'ConversionReview'
  ) {
    return fail('expected an apiextensions.k8s.io/v1 ConversionReview');
  }
  if (!request || typeof request.desiredAPIVersion !== 'string' || !Array.isArray(request.objects)) {
    return fail('request.desiredAPIVersion and request.objects are required');
  }
  try {
    const desired = request.desiredAPIVersion;
    const convertedObjects = request.objects.map((o) => convertObject(o, desired));
    return {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'ConversionReview',
      response: { uid, convertedObjects, result: { status: 'Success' } },
    };
  } catch (err) {
    return fail((err as Error).message);
  }
}
