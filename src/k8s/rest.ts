// A thin JSON client for the Kubernetes REST API on top of a ./access.ts KubeAccess (server, TLS, credentials; a
// client-node KubeConfig is accepted too, for callers that hold one) and ../net/http.ts (node:http/https).
//
// Why not the generated typed APIs or KubernetesObjectApi for writes: their ObjectSerializer drops fields its models
// do not know (newer API fields) and turns timestamps into Date objects, which client-node then sends with 3
// fractional digits (MicroTime fields need 6). This client sends exactly the JSON it is given and returns plain JSON
// (timestamps stay strings), so what the operator applies, caches and compares has one shape.
//
// Every non-GET request is counted in ./writes.ts; every request (watches excepted: the informer streams them itself)
// in emqx_operator_kube_requests_total{method,code} and its time in emqx_operator_kube_request_duration_seconds
// (what a reconcile pass spends waiting for the API server, and how often it answers 429). Errors: HTTP errors are `KubeApiError` (code = HTTP status,
// reason/message from the Status body); network failures, timeouts and answers larger than `maxResponseBytes` are
// `KubeRequestError`.

import { request as httpRequest } from '../net/http.ts';
import { toAccess, type KubeAccess } from './access.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { defaultRegistry } from '../observability/metrics.ts';
import { recordKubeWrite, type WriteVerb } from './writes.ts';

const requestsTotal = defaultRegistry.counter({
  name: 'emqx_operator_kube_requests_total',
  help: 'Requests sent to the Kubernetes API (watches excepted), by method and HTTP status code (0: no answer).',
  labelNames: ['method', 'code'],
});
const requestSeconds = defaultRegistry.histogram({
  name: 'emqx_operator_kube_request_duration_seconds',
  help: 'Time from sending a Kubernetes API request to its whole answer, by method.',
  labelNames: ['method'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
});

/** Any Kubernetes object as plain JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<Record<string, unknown>>;
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
  [key: string]: unknown;
}

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update' | string;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

export interface KubeList<T = KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** Identifies one object (name) or a collection (no name). */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name?: string;
}

export interface ResourceInfo {
  /** The resource (plural) name in URLs, e.g. `statefulsets`. */
  plural: string;
  namespaced: boolean;
}

export class KubeApiError extends Error {
  /** The HTTP status (same field name as client-node's ApiException). */
  readonly code: number;
  /** Status.reason, e.g. NotFound, AlreadyExists, Conflict, Invalid. */
  readonly reason?: string;
  readonly body: unknown;
  readonly method: string;
  readonly path: string;

  constructor(method: string, path: string, code: number, body: unknown) {
    const status = (typeof body === 'object' && body !== null ? body : {}) as {
      message?: string;
      reason?: string;
    };
    const detail = status.message ?? (typeof body === 'string' && body ? body.slice(0, 500) : `HTTP ${code}`);
    super(`${method} ${path}: ${code}${status.reason ? ` ${status.reason}` : ''}: ${detail}`);
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = status.reason;
    this.body = body;
    this.method = method;
    this.path = path;
  }
}

/** The request never got an HTTP answer: connection refused/reset, TLS failure, or timeout (`timedOut`). */
export class KubeRequestError extends Error {
  readonly method: string;
  readonly path: string;
  readonly timedOut: boolean;
  constructor(method: string, path: string, cause: unknown, timedOut: boolean) {
    super(
      `${method} ${path}: ${timedOut ? 'timed out' : `request failed: ${(cause as Error)?.message ?? cause}`}`,
      {
        cause,
      },
    );
    this.name = 'KubeRequestError';
    this.method = method;
    this.path = path;
    this.timedOut = timedOut;
  }
}

/** The HTTP status of an error from this client, client-node's ApiException, or a client-node watch. */
export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

export const isNotFound = (err: unknown): boolean => statusCodeOf(err) === 404;
export const isConflict = (err: unknown): boolean => statusCodeOf(err) === 409;
export const isGone = (err: unknown): boolean => statusCodeOf(err) === 410;

/** Kinds the operator touches, so common requests need no discovery round trip. CRs are discovered. */
export const BUILTIN: Readonly<Record<string, ResourceInfo>> = {
  'v1/Pod': { plural: 'pods', namespaced: true },
  'v1/Service': { plural: 'services', namespaced: true },
  'v1/ConfigMap': { plural: 'configmaps', namespaced: true },
  'v1/Secret': { plural: 'secrets', namespaced: true },
  'v1/Event': { plural: 'events', namespaced: true },
  'v1/Endpoints': { plural: 'endpoints', namespaced: true },
  'v1/PersistentVolumeClaim': { plural: 'persistentvolumeclaims', namespaced: true },
  'v1/ServiceAccount': { plural: 'serviceaccounts', namespaced: true },
  'v1/Namespace': { plural: 'namespaces', namespaced: false },
  'v1/Node': { plural: 'nodes', namespaced: false },
  'apps/v1/StatefulSet': { plural: 'statefulsets', namespaced: true },
  'apps/v1/ReplicaSet': { plural: 'replicasets', namespaced: true },
  'apps/v1/Deployment': { plural: 'deployments', namespaced: true },
  'apps/v1/ControllerRevision': { plural: 'controllerrevisions', namespaced: true },
  'policy/v1/PodDisruptionBudget': { plural: 'poddisruptionbudgets', namespaced: true },
  'coordination.k8s.io/v1/Lease': { plural: 'leases', namespaced: true },
  'events.k8s.io/v1/Event': { plural: 'events', namespaced: true },
  'rbac.authorization.k8s.io/v1/Role': { plural: 'roles', namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': { plural: 'rolebindings', namespaced: true },
  'rbac.authorization.k8s.io/v1/ClusterRole': { plural: 'clusterroles', namespaced: false },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { plural: 'clusterrolebindings', namespaced: false },
  'apiextensions.k8s.io/v1/CustomResourceDefinition': {
    plural: 'customresourcedefinitions',
    namespaced: false,
  },
  'discovery.k8s.io/v1/EndpointSlice': { plural: 'endpointslices', namespaced: true },
};

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  contentType?: string;
  accept?: string;
  /** Default: the client's timeout (30 s). */
  timeoutMs?: number;
  /** How to count a write (default: derived from the method, kind `unknown`). */
  write?: { verb: WriteVerb; kind: string; namespace?: string; name?: string; subresource?: string };
}

export interface KubeClientOptions {
  /** Per-request timeout; default 30 000 ms. */
  timeoutMs?: number;
  /** The largest answer read; default DEFAULT_MAX_KUBE_RESPONSE_BYTES. */
  maxResponseBytes?: number;
}

/** The largest Kubernetes answer read (an unpaginated list of thousands of objects stays well below it). */
export const DEFAULT_MAX_KUBE_RESPONSE_BYTES = 256 * 1024 * 1024;

export const VERB_OF: Readonly<Record<string, WriteVerb | undefined>> = {
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

export function apiPrefix(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export class KubeClient {
  readonly access: KubeAccess;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  private readonly discovery = new Map<string, Promise<Record<string, ResourceInfo>>>();

  constructor(access: KubeAccess | KubeConfig, opts: KubeClientOptions = {}) {
    this.access = toAccess(access);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_KUBE_RESPONSE_BYTES;
  }

  get server(): string {
    return this.access.server;
  }

  /** Sends one request; resolves to the parsed JSON body (or text, or undefined when empty). */
  async request<T = unknown>(method: HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const verb = VERB_OF[method];
    let status: number;
    let text: string;
    let contentType: string;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const started = performance.now();
    status = 0;
    try {
      const { headers, agent } = await this.access.prepare();
      headers.Accept = opts.accept ?? 'application/json';
      if (opts.body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
      if (verb) recordKubeWrite(opts.write ?? { verb, kind: 'unknown' });
      const res = await httpRequest(url, {
        method,
        headers,
        body:
          opts.body === undefined
            ? undefined
            : typeof opts.body === 'string'
              ? opts.body
              : JSON.stringify(opts.body),
        agent,
        timeoutMs,
        maxBodyBytes: this.maxResponseBytes,
      });
      status = res.status;
      contentType = res.headers['content-type'] ?? '';
      text = res.body;
    } catch (err) {
      const name = (err as Error)?.name;
      throw new KubeRequestError(method, path, err, name === 'TimeoutError' || name === 'AbortError');
    } finally {
      requestsTotal.inc({ method, code: String(status) });
      requestSeconds.observe({ method }, (performance.now() - started) / 1000);
    }
    let parsed: unknown = text === '' ? undefined : text;
    if (text !== '' && contentType.includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (status < 200 || status > 299) throw new KubeApiError(method, path, status, parsed);
    return parsed as T;
  }

  /** The plural name and scope of a kind: built-in table, else discovery (cached; re-queried once on a miss). */
  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const builtin = BUILTIN[`${apiVersion}/${kind}`];
    if (builtin) return builtin;
    let table = await this.discover(apiVersion, false);
    if (!table[kind]) table = await this.discover(apiVersion, true);
    const info = table[kind];
    if (!info) throw new Error(`the API server does not serve kind ${kind} in ${apiVersion}`);
    return info;
  }

  private discover(apiVersion: string, refresh: boolean): Promise<Record<string, ResourceInfo>> {
    let p = refresh ? undefined : this.discovery.get(apiVersion);
    if (!p) {
      p = this.request<{ resources?: Array<{ name: string; kind: string; namespaced: boolean }> }>(
        'GET',
        apiPrefix(apiVersion),
      ).then(
        (list) => {
          const table: Record<string, ResourceInfo> = {};
          for (const r of list.resources ?? []) {
            if (!r.name.includes('/')) table[r.kind] = { plural: r.name, namespaced: r.namespaced };
          }
          return table;
        },
        (err: unknown) => {
          this.discovery.delete(apiVersion);
          if (isNotFound(err)) return {};
          throw err;
        },
      );
      this.discovery.set(apiVersion, p);
    }
    return p;
  }

  /** URL path of an object or collection (optionally a subresource such as `status`). */
  async path(ref: ObjectRef, subresource?: string): Promise<string> {
    const info = await this.resource(ref.apiVersion, ref.kind);
    let p = apiPrefix(ref.apiVersion);
    if (info.namespaced) {
      if (ref.namespace) p += `/namespaces/${encodeURIComponent(ref.namespace)}`;
      else if (ref.name) throw new Error(`${ref.kind} ${ref.name}: namespace required`);
    }
    p += `/${info.plural}`;
    if (ref.name) p += `/${encodeURIComponent(ref.name)}`;
    else if (subresource) throw new Error(`${ref.kind}: a subresource needs a name`);
    if (subresource) p += `/${subresource}`;
    return p;
  }

  /** GET one object; 404 → undefined. */
  async get<T extends KubeObject = KubeObject>(ref: ObjectRef & { name: string }): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', await this.path(ref));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** LIST a collection (one namespace, or all when `namespace` is omitted for a namespaced kind). */
  async list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts: {
      namespace?: string;
      labelSelector?: string;
      fieldSelector?: string;
      limit?: number;
      continue?: string;
    } = {},
  ): Promise<KubeList<T>> {
    const path = await this.path({ apiVersion, kind, namespace: opts.namespace });
    const list = await this.request<KubeList<T>>('GET', path, {
      query: {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit,
        continue: opts.continue,
      },
    });
    // list items carry no apiVersion/kind; add them so cached objects look like watched ones
    for (const item of list.items ?? []) {
      item.apiVersion ??= apiVersion;
      item.kind ??= kind;
    }
    list.items ??= [];
    return list;
  }
}
