// Writes to the Kubernetes API, all through KubeClient (so all counted in ./writes.ts), all with the one field
// manager `emqx-operator`:
//   apply(obj)                    server-side apply (force) of any kind, typed or custom, sent as raw JSON;
//                                 `createOnly`: refused (409) when the object exists
//   applyStatus(obj)              server-side apply of `status` on the /status subresource (CRs)
//   mergePatch(ref, body, opts)   JSON merge patch of an object or a subresource (`scale`, `status`)
//   mergePatchStatus(ref, status) JSON merge patch of /status (replaces lists such as conditions wholesale)
//   patchPodStatus(ref, status)   strategic merge patch of pods/status (conditions merge by type: readiness gates)
//   createIfAbsent(obj)           create; 409 AlreadyExists → the live object
//   deleteObject(ref, opts)       delete with uid/resourceVersion preconditions and a propagation policy
// and the pure decision helpers from ./needs-apply.ts (needsApply, applyDiff, describeDiff).

import { isNotFound, statusCodeOf, type KubeClient, type KubeObject, type ObjectRef } from './rest.ts';

export {
  FIELD_MANAGER,
  applyDiff,
  describeDiff,
  needsApply,
  parseQuantity,
  type DiffEntry,
  type NeedsApplyOptions,
} from './needs-apply.ts';
import { FIELD_MANAGER } from '../api/names.ts';

export const APPLY_PATCH = 'application/apply-patch+yaml';
export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

const STRIPPED_METADATA = [
  'managedFields',
  'resourceVersion',
  'uid',
  'creationTimestamp',
  'generation',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
] as const;

/**
 * A JSON copy of `obj` fit for an apply body: no managedFields, resourceVersion, uid, creationTimestamp, generation,
 * selfLink, deletion fields, and no `status` unless `keepStatus`. Dates become RFC 3339 strings, undefined fields go.
 */
export function prepareForApply<T extends object>(obj: T, opts: { keepStatus?: boolean } = {}): T {
  const copy = JSON.parse(JSON.stringify(obj)) as KubeObject;
  if (copy.metadata) for (const k of STRIPPED_METADATA) delete copy.metadata[k];
  if (!opts.keepStatus) delete copy.status;
  return copy as T;
}

function refOf(obj: KubeObject): ObjectRef & { name: string } {
  const { apiVersion, kind } = obj;
  const name = obj.metadata?.name;
  if (!apiVersion || !kind || !name) {
    throw new Error(
      `apply: object needs apiVersion, kind and metadata.name (got ${apiVersion}/${kind} ${name})`,
    );
  }
  return { apiVersion, kind, namespace: obj.metadata?.namespace, name };
}

export interface ApplyOptions {
  /** Server-side dry run: validates and returns the would-be object, writes nothing (still counted as a request). */
  dryRun?: boolean;
  /** Default true: take over fields other managers own. */
  force?: boolean;
  /**
   * Create the object, never change an existing one: the apply carries `metadata.resourceVersion`
   * NEVER_A_RESOURCE_VERSION, which the API server ignores when it creates the object and compares when one exists
   * (409 Conflict, the object untouched). The object created is the same as without it (managed by the same
   * Apply entry of the operator's field manager).
   */
  createOnly?: boolean;
}

/**
 * The largest uint64: the API server parses resource versions as uint64, and they are etcd revisions, int64 (at
 * most 2^63 − 1), so no stored object ever has this one. An apply carrying it conflicts with any existing object.
 */
export const NEVER_A_RESOURCE_VERSION = '18446744073709551615';

/** Server-side apply of `obj` (status stripped) with field manager `emqx-operator`; returns the live object. */
export async function apply<T extends KubeObject>(
  client: KubeClient,
  obj: T,
  opts: ApplyOptions = {},
): Promise<T> {
  const body = prepareForApply(obj);
  if (opts.createOnly) body.metadata = { ...body.metadata, resourceVersion: NEVER_A_RESOURCE_VERSION };
  return applyPatch<T>(client, refOf(obj), body, opts);
}

/** The server-side apply PATCH of `body` to `ref` (or to its `subresource`), with the operator's field manager. */
async function applyPatch<T extends KubeObject>(
  client: KubeClient,
  ref: ObjectRef & { name: string },
  body: unknown,
  opts: ApplyOptions,
  subresource?: 'status',
): Promise<T> {
  return client.request<T>('PATCH', await client.path(ref, subresource), {
    query: {
      fieldManager: FIELD_MANAGER,
      force: opts.force ?? true,
      dryRun: opts.dryRun ? 'All' : undefined,
    },
    body,
    contentType: APPLY_PATCH,
    write: {
      verb: 'apply',
      kind: ref.kind,
      namespace: ref.namespace,
      name: ref.name,
      ...(subresource !== undefined && { subresource }),
    },
  });
}

/**
 * Server-side apply of `obj.status` on the /status subresource (the CRD needs `subresources.status`). Only
 * apiVersion, kind, metadata.name/namespace and status are sent.
 */
export async function applyStatus<T extends KubeObject>(
  client: KubeClient,
  obj: T,
  opts: ApplyOptions = {},
): Promise<T> {
  const ref = refOf(obj);
  if (obj.status === undefined) throw new Error(`applyStatus: ${ref.kind} ${ref.name} has no status`);
  const body = {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
    status: JSON.parse(JSON.stringify(obj.status)) as unknown,
  };
  return applyPatch<T>(client, ref, body, opts, 'status');
}

/**
 * JSON merge patch of an object (or of its `subresource`): the one way the operator sends a merge patch. Lists in
 * `body` replace the live ones whole. `fieldManager: false` sends none (Event series bumps: Events are not owned).
 */
export async function mergePatch<T extends KubeObject = KubeObject>(
  client: KubeClient,
  ref: ObjectRef & { name: string },
  body: unknown,
  opts: { subresource?: string; fieldManager?: boolean } = {},
): Promise<T> {
  return client.request<T>('PATCH', await client.path(ref, opts.subresource), {
    ...(opts.fieldManager !== false && { query: { fieldManager: FIELD_MANAGER } }),
    body,
    contentType: MERGE_PATCH,
    write: {
      verb: 'patch',
      kind: ref.kind,
      namespace: ref.namespace,
      name: ref.name,
      ...(opts.subresource !== undefined && { subresource: opts.subresource }),
    },
  });
}

/**
 * Whether a JSON merge patch (RFC 7386) would change `target`: a `null` removes a key that is there, an object
 * merges into an object key by key, anything else (lists included) replaces a value that differs. Lets a caller
 * skip a patch that would write the object as it is (e.g. the CRD's conversion webhook on every operator start).
 */
export function mergePatchChanges(target: unknown, patch: unknown): boolean {
  const isMap = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isMap(patch)) return JSON.stringify(target) !== JSON.stringify(patch);
  if (!isMap(target)) return true;
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      if (k in target) return true;
    } else if (!(k in target) || mergePatchChanges(target[k], v)) return true;
  }
  return false;
}

/**
 * JSON merge patch `{status}` on /status. Note: a merge patch replaces lists whole (all `conditions` must be sent).
 * Pass `resourceVersion` to make it optimistic (409 if the object changed meanwhile).
 */
export async function mergePatchStatus<T extends KubeObject>(
  client: KubeClient,
  ref: ObjectRef & { name: string },
  status: unknown,
  opts: { resourceVersion?: string } = {},
): Promise<T> {
  const body: Record<string, unknown> = { status };
  if (opts.resourceVersion) body.metadata = { resourceVersion: opts.resourceVersion };
  return mergePatch<T>(client, ref, body, { subresource: 'status' });
}

/**
 * Strategic merge patch of a Pod's status: `conditions` merge by `type`, so setting one readiness-gate condition
 * leaves the kubelet's Ready/ContainersReady/... conditions alone.
 */
export async function patchPodStatus<T extends KubeObject = KubeObject>(
  client: KubeClient,
  ref: { namespace: string; name: string },
  status: { conditions?: Array<Record<string, unknown>>; [k: string]: unknown },
): Promise<T> {
  const full = { apiVersion: 'v1', kind: 'Pod', ...ref };
  return client.request<T>('PATCH', await client.path(full, 'status'), {
    query: { fieldManager: FIELD_MANAGER },
    body: { status },
    contentType: STRATEGIC_MERGE_PATCH,
    write: { verb: 'patch', kind: 'Pod', namespace: ref.namespace, name: ref.name, subresource: 'status' },
  });
}

/**
 * Creates `obj` unless it exists; returns the live object and whether this call created it. For create-only objects
 * (e.g. a generated cookie Secret). Note: the POST records an `Update` managedFields entry for `emqx-operator`, which
 * co-owns every field it set; if such an object is later managed with `apply`, fields dropped from desired are NOT
 * removed by the server (the Update entry still owns them), and `needsApply` reports it `unowned` once.
 */
export async function createIfAbsent<T extends KubeObject>(
  client: KubeClient,
  obj: T,
): Promise<{ object: T; created: boolean }> {
  const ref = refOf(obj);
  const body = prepareForApply(obj, { keepStatus: false });
  try {
    const created = await client.request<T>('POST', await client.path({ ...ref, name: undefined }), {
      query: { fieldManager: FIELD_MANAGER },
      body,
      write: { verb: 'create', kind: ref.kind, namespace: ref.namespace, name: ref.name },
    });
    return { object: created, created: true };
  } catch (err) {
    if (statusCodeOf(err) !== 409) throw err;
    const live = await client.get<T>(ref);
    if (!live) throw err; // deleted between the two calls; let the caller retry
    return { object: live, created: false };
  }
}

export interface DeleteOptions {
  /** Delete only if the live object still has this uid (else 409). */
  uid?: string;
  /** Delete only if the live object still has this resourceVersion (else 409). */
  resourceVersion?: string;
  /** Default Background. */
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
}

/** Deletes an object; resolves true if a delete was issued, false if it was already gone (404). */
export async function deleteObject(
  client: KubeClient,
  ref: ObjectRef & { name: string },
  opts: DeleteOptions = {},
): Promise<boolean> {
  const preconditions: Record<string, string> = {};
  if (opts.uid) preconditions.uid = opts.uid;
  if (opts.resourceVersion) preconditions.resourceVersion = opts.resourceVersion;
  const body: Record<string, unknown> = {
    apiVersion: 'v1',
    kind: 'DeleteOptions',
    propagationPolicy: opts.propagationPolicy ?? 'Background',
  };
  if (Object.keys(preconditions).length > 0) body.preconditions = preconditions;
  if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
  try {
    await client.request('DELETE', await client.path(ref), {
      body,
      write: { verb: 'delete', kind: ref.kind, namespace: ref.namespace, name: ref.name },
    });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
