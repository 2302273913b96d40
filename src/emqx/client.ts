// The EMQX REST API client (dashboard listener, /api/v5), as the operator uses it.
//
//   const api = new EmqxClient({ targets: readyCorePodUrls, apiKey: 'emqx-operator-controller', apiSecret });
//   const nodes = await api.getNodes();
//
// - Auth: HTTP Basic with a bootstrap API key (`key:secret`). The secret is registered with the shared redaction,
//   so it cannot leak through logs or Events; it never appears in error messages.
// - Timeout per attempt: `timeoutMs` (default 5000).
// - Target failover: the client holds an ordered list of candidate base URLs (e.g. `http://10.0.0.7:18083` of the
//   ready core pods) and starts with the last one that answered. On a connection error, a timeout or a 5xx it tries
//   the next one — for idempotent calls (GET, PUT, DELETE). A non-idempotent POST (evacuation/rebalance start/stop)
//   only moves on when the connection could not even be opened (nothing reached the server); a timeout or 5xx on it
//   is thrown, because the node may have acted on it. 4xx answers are never retried elsewhere. When every target
//   failed, the last error is thrown (with `attempts` listing each target's failure).
// - Errors: `EmqxApiError` (an HTTP answer: status, code, message, body; `PUT /configs` bodies `{"errors":…}` are
//   parsed into it) and `EmqxConnectionError` (no HTTP answer: `timedOut` tells a timeout from a refused/reset
//   connection) and `EmqxResponseError` (an answer too large, or not of the shape the endpoint documents: a node
//   that misbehaves; retried on the next target like a 5xx, then thrown, never a TypeError later on).
// - Size: a response body is read up to `maxResponseBytes` (default 8 MiB), within the same timeout.
// - Metrics: emqx_operator_emqx_api_requests_total and emqx_operator_emqx_api_request_duration_seconds, labelled
//   by endpoint template (`GET /api/v5/nodes/{node}`) and outcome (success, http_4xx, http_5xx, timeout,
//   connection_error), one observation per attempt.

import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import {
  HttpBodyTooLargeError,
  keepAliveAgent,
  request,
  retireAgent,
  type HttpAgent,
  type HttpResponse,
} from '../net/http.ts';
import { nullLogger, type Logger } from '../observability/logger.ts';
import { defaultRegistry, type Registry } from '../observability/metrics.ts';
import { redactConfigErrors, registerSecret } from '../observability/redact.ts';
import type {
  EmqxCluster,
  EmqxListener,
  EmqxNode,
  EvacuationStartBody,
  GlobalStatus,
  MonitorCurrent,
  NodeStatusResult,
  PutConfigsOptions,
  RebalanceStartBody,
} from './types.ts';

export const DEFAULT_TIMEOUT_MS = 5000;
/** The largest response body read (the whole config of a node is ~100 KiB, 1000 nodes ~1 MiB). */
export const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export interface EmqxClientOptions {
  /** Ordered candidate base URLs, e.g. `http://10.0.0.7:18083` (no trailing /api/v5). */
  targets: readonly string[];
  apiKey: string;
  apiSecret: string;
  timeoutMs?: number;
  /** Default DEFAULT_MAX_RESPONSE_BYTES. */
  maxResponseBytes?: number;
  logger?: Logger;
  registry?: Registry;
  /** How https targets are verified. Without it they are verified against the system CAs and their IP. */
  tls?: EmqxTlsOptions;
}

/** Verification of an https dashboard: the CAs to trust, and the DNS name each target IP must present. */
export interface EmqxTlsOptions {
  /** PEM CAs (the dashboard Secret's ca.crt); default the system CAs. */
  ca?: string;
  /** Host (IP as in the URL) → the DNS name its certificate must carry (a core's stable name). */
  serverNames?: Readonly<Record<string, string>>;
}

const agents = new Map<string, HttpAgent>();
/** One connection pool per verification setting (bounded: a few CAs and name sets per operator). */
function agentFor(opts: EmqxTlsOptions): HttpAgent {
  const key = JSON.stringify([opts.ca ?? '', Object.entries(opts.serverNames ?? {}).sort()]);
  let a = agents.get(key);
  if (!a) {
    if (agents.size >= 32) {
      const [oldKey, old] = agents.entries().next().value!;
      agents.delete(oldKey);
      retireAgent(old);
    }
    const names = { ...opts.serverNames };
    a = keepAliveAgent({
      ...(opts.ca !== undefined && { ca: opts.ca }),
      rejectUnauthorized: true,
      checkServerIdentity: (host: string, cert: PeerCertificate) =>
        checkServerIdentity(names[host.replace(/^\[|\]$/g, '')] ?? host, cert),
    });
    agents.set(key, a);
  }
  return a;
}

export interface Attempt {
  target: string;
  error: string;
}

export class EmqxError extends Error {
  /** `GET /api/v5/nodes/{node}` style template. */
  readonly endpoint: string;
  /** The base URL that produced this error. */
  readonly target: string;
  /** Earlier targets tried for the same call and why they failed. */
  attempts: Attempt[] = [];
  constructor(message: string, endpoint: string, target: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EmqxError';
    this.endpoint = endpoint;
    this.target = target;
  }
}

/** EMQX answered with a non-2xx status. */
export class EmqxApiError extends EmqxError {
  readonly status: number;
  /** `code` of the error body (NOT_FOUND, BAD_REQUEST, BAD_API_KEY_OR_SECRET, RPC_ERROR, ...), if any. */
  readonly code?: string;
  /** The body: parsed JSON when it was JSON, else the text. */
  readonly body: unknown;
  /** `errors` of a `PUT /configs` 400 body. */
  readonly errors?: unknown;
  constructor(endpoint: string, target: string, status: number, body: unknown) {
    const b = (typeof body === 'object' && body !== null ? body : {}) as {
      code?: unknown;
      message?: unknown;
      errors?: unknown;
    };
    const code = typeof b.code === 'string' ? b.code : undefined;
    let detail: string;
    // a refused value at a sensitive path (a password, the cookie) is masked before it can reach a message
    const errors = redactConfigErrors(b.errors);
    if (errors !== undefined) detail = typeof errors === 'string' ? errors : JSON.stringify(errors);
    else if (typeof b.message === 'string') detail = b.message;
    else if (b.message !== undefined) detail = JSON.stringify(b.message);
    else if (typeof body === 'string' && body !== '') detail = body.slice(0, 300);
    else detail = `HTTP ${status}`;
    super(`${endpoint} on ${target}: ${status}${code ? ` ${code}` : ''}: ${detail}`, endpoint, target);
    this.name = 'EmqxApiError';
    this.status = status;
    this.code = code;
    this.body = body;
    this.errors = errors;
  }
}

/** An answer the client cannot use: larger than the limit, or not the shape the endpoint documents. */
export class EmqxResponseError extends EmqxError {
  readonly status: number;
  constructor(endpoint: string, target: string, status: number, reason: string) {
    super(`${endpoint} on ${target}: ${status}: unusable answer: ${reason}`, endpoint, target);
    this.name = 'EmqxResponseError';
    this.status = status;
  }
}

type Check = (body: unknown) => string | undefined;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `what` must be an array of objects whose `fields` are strings. */
function arrayOf(what: string, fields: string[]): Check {
  return (body) => {
    if (!Array.isArray(body)) return `expected ${what} as a JSON array`;
    for (let i = 0; i < body.length; i++) {
      const item: unknown = body[i];
      if (!isRecord(item)) return `${what}[${i}] is not an object`;
      for (const f of fields) if (typeof item[f] !== 'string') return `${what}[${i}].${f} is not a string`;
    }
    return undefined;
  };
}

function objectWith(what: string, fields: Record<string, 'string' | 'string[]' | 'array'>): Check {
  return (body) => {
    if (!isRecord(body)) return `expected ${what} as a JSON object`;
    for (const [f, kind] of Object.entries(fields)) {
      const v = body[f];
      if (v === undefined && kind === 'array') continue;
      if (kind === 'string' && typeof v !== 'string') return `${what}.${f} is not a string`;
      if (kind === 'array' && !Array.isArray(v)) return `${what}.${f} is not an array`;
      if (kind === 'string[]' && !(Array.isArray(v) && v.every((x) => typeof x === 'string')))
        return `${what}.${f} is not a list of strings`;
    }
    return undefined;
  };
}

/** `what` must be a JSON array of strings. */
function stringArray(what: string): Check {
  return (body) =>
    Array.isArray(body) && body.every((x) => typeof x === 'string')
      ? undefined
      : `expected ${what} as a JSON array of strings`;
}

/** Each item of `list` (at `what`) an object whose `fields` are strings; `list` absent is fine when `optional`. */
function itemsWith(what: string, list: unknown, fields: string[], optional = false): string | undefined {
  if (list === undefined && optional) return undefined;
  if (!Array.isArray(list)) return `${what} is not an array`;
  for (let i = 0; i < list.length; i++) {
    const item: unknown = list[i];
    if (!isRecord(item)) return `${what}[${i}] is not an object`;
    for (const f of fields) if (typeof item[f] !== 'string') return `${what}[${i}].${f} is not a string`;
  }
  return undefined;
}

/** `GET /ds/sites/{site}`: `{"node","up","shards":[{"storage","id",…}]}`. */
const dsSiteCheck: Check = (body) => {
  if (!isRecord(body)) return 'expected site as a JSON object';
  if (typeof body.node !== 'string') return 'site.node is not a string';
  if (typeof body.up !== 'boolean') return 'site.up is not a boolean';
  return itemsWith('site.shards', body.shards, ['storage', 'id'], true);
};

/** `GET /ds/storages/{db}`: `{"name","shards":[{"id","replicas":[{"site","status"}],"transitions"?:[…]}]}`. */
const dsStorageCheck: Check = (body) => {
  if (!isRecord(body)) return 'expected storage as a JSON object';
  if (typeof body.name !== 'string') return 'storage.name is not a string';
  const shards = itemsWith('storage.shards', body.shards, ['id']);
  if (shards) return shards;
  const list = body.shards as Array<Record<string, unknown>>;
  for (let i = 0; i < list.length; i++) {
    const at = `storage.shards[${i}]`;
    const problem =
      itemsWith(`${at}.replicas`, list[i]!.replicas, ['site', 'status']) ??
      itemsWith(`${at}.transitions`, list[i]!.transitions, ['site', 'transition'], true);
    if (problem) return problem;
  }
  return undefined;
};

/** No HTTP answer: connection refused/reset, DNS failure, or timeout. */
export class EmqxConnectionError extends EmqxError {
  readonly timedOut: boolean;
  /** True when the connection could not be opened, so the request surely did not reach EMQX. */
  readonly notSent: boolean;
  constructor(endpoint: string, target: string, cause: unknown, timedOut: boolean, notSent: boolean) {
    const why = timedOut ? 'timed out' : `connection failed: ${describeCause(cause)}`;
    super(`${endpoint} on ${target}: ${why}`, endpoint, target, { cause });
    this.name = 'EmqxConnectionError';
    this.timedOut = timedOut;
    this.notSent = notSent;
  }
}

function describeCause(cause: unknown): string {
  const code = (cause as { code?: unknown })?.code;
  if (typeof code === 'string') return code;
  return (cause as Error)?.message ?? String(cause);
}

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** Encodes a node name for a path segment, keeping `@` and `:` (legal in RFC 3986 segments, as EMQX expects). */
function nodeSegment(node: string): string {
  return encodeURIComponent(node).replace(/%40/g, '@').replace(/%3A/gi, ':');
}

/** The path of a call: its template with each `{name}` segment replaced (a node name keeps its `@` and `:`). */
function pathOf(spec: Pick<CallSpec, 'template' | 'params'>): string {
  return spec.template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = spec.params?.[name];
    if (value === undefined) throw new Error(`EMQX API ${spec.template}: no value for {${name}}`);
    return name === 'node' ? nodeSegment(value) : encodeURIComponent(value);
  });
}

function metrics(registry: Registry) {
  return {
    calls: registry.counter({
      name: 'emqx_operator_emqx_api_requests_total',
      help: 'Requests to the EMQX REST API, one per attempt, by endpoint and outcome.',
      labelNames: ['endpoint', 'outcome'],
    }),
    latency: registry.histogram({
      name: 'emqx_operator_emqx_api_request_duration_seconds',
      help: 'Latency of EMQX REST API requests, one per attempt, by endpoint and outcome.',
      labelNames: ['endpoint', 'outcome'],
    }),
  };
}

interface CallSpec {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** The path, e.g. `/api/v5/nodes/{node}`; as it is, the endpoint's name in metrics and errors. */
  template: string;
  /** The values of the template's `{name}` segments (encoded when the path is built; see pathOf). */
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  contentType?: string;
  accept?: string;
  auth?: boolean;
  /** Answers accepted as success besides 2xx (e.g. 503 for availability checks). */
  accept503?: boolean;
  /** Checks a 2xx body's shape; a reason means EmqxResponseError. */
  check?: Check;
}

interface RawResponse {
  status: number;
  body: unknown;
  text: string;
}

/** `GET /api/v5/ds/sites/{site}`. */
export interface DsSiteInfo {
  node: string;
  up: boolean;
  shards?: Array<{ storage: string; id: string; status?: string; transition?: string }>;
}

/** `GET /api/v5/ds/storages/{db}`. */
export interface DsStorageInfo {
  name: string;
  shards: Array<{
    id: string;
    replicas: Array<{ site: string; status: string }>;
    transitions?: Array<{ site: string; transition: string }>;
  }>;
}

export class EmqxClient {
  private readonly targets: readonly string[];
  private lastGood: string | undefined;
  private readonly authHeader: string;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly log: Logger;
  private readonly m: ReturnType<typeof metrics>;
  private readonly tls: EmqxTlsOptions | undefined;

  constructor(opts: EmqxClientOptions) {
    if (opts.apiKey.includes(':')) throw new Error('EMQX API key must not contain ":"');
    registerSecret(opts.apiSecret);
    this.targets = opts.targets.map(normalizeBase);
    this.authHeader = `Basic ${Buffer.from(`${opts.apiKey}:${opts.apiSecret}`).toString('base64')}`;
    registerSecret(this.authHeader.slice('Basic '.length));
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.log = opts.logger ?? nullLogger;
    this.m = metrics(opts.registry ?? defaultRegistry);
    this.tls = opts.tls;
  }

  /** The target that answered last, if it is still a candidate. */
  get currentTarget(): string | undefined {
    return this.lastGood;
  }

  // ---- endpoints ----------------------------------------------------------------------------------------------

  /** Running nodes (cores and replicants), then stopped cores as stubs. */
  async getNodes(): Promise<EmqxNode[]> {
    return this.get('/api/v5/nodes', arrayOf('nodes', ['node', 'node_status']));
  }

  /** One running node; undefined when EMQX answers 404 (stopped or unknown node). */
  async getNode(name: string): Promise<EmqxNode | undefined> {
    try {
      return await this.get('/api/v5/nodes/{node}', objectWith('node', { node: 'string' }), { node: name });
    } catch (err) {
      if (err instanceof EmqxApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async getCluster(): Promise<EmqxCluster> {
    return this.get('/api/v5/cluster', objectWith('cluster', { nodes: 'string[]' }));
  }

  async getListeners(): Promise<EmqxListener[]> {
    return this.get('/api/v5/listeners', arrayOf('listeners', ['id', 'type', 'name']));
  }

  /** The whole raw config as HOCON text (defaults filled in; secrets shown as "******"). */
  async getConfigsHocon(): Promise<string> {
    const r = await this.call({ method: 'GET', template: '/api/v5/configs', accept: 'text/plain' });
    return r.text;
  }

  /** Applies HOCON config at runtime, cluster-wide. 400 bodies `{"errors":…}` become EmqxApiError.errors. */
  async putConfigs(hocon: string, opts: PutConfigsOptions = {}): Promise<void> {
    const query: Record<string, string> = { mode: opts.mode ?? 'merge' };
    if (opts.ignoreReadonly !== undefined) query.ignore_readonly = String(opts.ignoreReadonly);
    await this.call({
      method: 'PUT',
      template: '/api/v5/configs',
      query,
      body: hocon,
      contentType: 'text/plain',
    });
  }

  /** Removes a node from the cluster (a running one is told to leave; a stopped core is dropped). 204. */
  async forceLeave(node: string): Promise<void> {
    await this.call({ method: 'DELETE', template: '/api/v5/cluster/{node}/force_leave', params: { node } });
  }

  async evacuationStart(node: string, body: EvacuationStartBody = {}): Promise<void> {
    await this.post('/api/v5/load_rebalance/{node}/evacuation/start', { node }, body);
  }

  async evacuationStop(node: string): Promise<void> {
    await this.post('/api/v5/load_rebalance/{node}/evacuation/stop', { node });
  }

  /** Starts a rebalance coordinated by `node`. */
  async rebalanceStart(node: string, body: RebalanceStartBody): Promise<void> {
    await this.post('/api/v5/load_rebalance/{node}/start', { node }, body);
  }

  async rebalanceStop(node: string): Promise<void> {
    await this.post('/api/v5/load_rebalance/{node}/stop', { node });
  }

  async globalStatus(): Promise<GlobalStatus> {
    const g =
      (await this.get<Partial<GlobalStatus> | undefined>(
        '/api/v5/load_rebalance/global_status',
        objectWith('global_status', { evacuations: 'array', rebalances: 'array' }),
      )) ?? {};
    return { ...g, evacuations: g.evacuations ?? [], rebalances: g.rebalances ?? [] };
  }

  /** Durable storage sites (`GET /api/v5/ds/sites`); 404 "Durable storage is disabled" throws EmqxApiError. */
  async dsSites(): Promise<string[]> {
    return this.get('/api/v5/ds/sites', stringArray('sites'));
  }

  /** One site: its node, whether it is up, and the shards it holds. */
  async dsSite(site: string): Promise<DsSiteInfo> {
    return this.get('/api/v5/ds/sites/{site}', dsSiteCheck, { site });
  }

  /** DS databases (`["messages"]`). */
  async dsStorages(): Promise<string[]> {
    return this.get('/api/v5/ds/storages', stringArray('storages'));
  }

  /** One DS database: its shards, their replicas and pending transitions. */
  async dsStorage(db: string): Promise<DsStorageInfo> {
    return this.get('/api/v5/ds/storages/{db}', dsStorageCheck, { db });
  }

  /** Sets the sites a DS database is replicated on (202: EMQX carries it out as shard transitions). */
  async dsSetReplicas(db: string, sites: string[]): Promise<void> {
    await this.call({
      method: 'PUT',
      template: '/api/v5/ds/storages/{db}/replicas',
      params: { db },
      body: sites,
    });
  }

  async monitorCurrent(): Promise<MonitorCurrent> {
    return this.get('/api/v5/monitor_current', objectWith('monitor_current', {}));
  }

  /**
   * Whether one node accepts new connections (no auth): 200 → true, 503 NODE_EVACUATING → false. Other answers
   * (404 on CE) throw EmqxApiError. Asks exactly `baseUrl` (no failover: the question is about that node).
   */
  async availabilityCheck(baseUrl: string): Promise<boolean> {
    const r = await this.once(normalizeBase(baseUrl), {
      method: 'GET',
      template: '/api/v5/load_rebalance/availability_check',
      auth: false,
      accept503: true,
    });
    return r.status === 200;
  }

  /** `GET /status` of one node (no auth, no failover): running on 200, not running on 503. */
  async status(baseUrl: string): Promise<NodeStatusResult> {
    const r = await this.once(normalizeBase(baseUrl), {
      method: 'GET',
      template: '/status',
      auth: false,
      accept: 'text/plain',
      accept503: true,
    });
    return { running: r.status === 200, httpStatus: r.status, text: r.text };
  }

  /** A GET whose 2xx JSON body `check` accepts, as `T`. */
  private async get<T>(template: string, check: Check, params?: Record<string, string>): Promise<T> {
    return (await this.call({ method: 'GET', template, check, ...(params && { params }) })).body as T;
  }

  /** A POST (never retried on another target once sent) whose answer body is not read. */
  private async post(template: string, params: Record<string, string>, body?: unknown): Promise<void> {
    await this.call({ method: 'POST', template, params, ...(body !== undefined && { body }) });
  }

  // ---- transport ----------------------------------------------------------------------------------------------

  private order(): string[] {
    if (this.lastGood && this.targets.includes(this.lastGood)) {
      return [this.lastGood, ...this.targets.filter((t) => t !== this.lastGood)];
    }
    return [...this.targets];
  }

  private async call(spec: CallSpec): Promise<RawResponse> {
    const order = this.order();
    const endpoint = `${spec.method} ${spec.template}`;
    if (order.length === 0) {
      throw new EmqxConnectionError(
        endpoint,
        '(none)',
        new Error('no EMQX targets (no ready core pod)'),
        false,
        true,
      );
    }
    const idempotent = spec.method !== 'POST';
    const attempts: Attempt[] = [];
    for (let i = 0; i < order.length; i++) {
      const target = order[i]!;
      try {
        const r = await this.once(target, spec);
        this.lastGood = target;
        return r;
      } catch (err) {
        const e = err as EmqxError;
        const retriable =
          e instanceof EmqxConnectionError
            ? idempotent || e.notSent
            : ((e instanceof EmqxApiError && e.status >= 500) || e instanceof EmqxResponseError) &&
              idempotent;
        if (!retriable || i === order.length - 1) {
          e.attempts = attempts;
          throw e;
        }
        attempts.push({ target, error: e.message });
        if (this.lastGood === target) this.lastGood = undefined;
        this.log.debug('EMQX API target failed; trying the next one', { endpoint, target, err: e.message });
      }
    }
    throw new Error('unreachable');
  }

  private async once(target: string, spec: CallSpec): Promise<RawResponse> {
    const endpoint = `${spec.method} ${spec.template}`;
    const url = new URL(target + pathOf(spec));
    for (const [k, v] of Object.entries(spec.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { Accept: spec.accept ?? 'application/json' };
    if (spec.auth !== false) headers.Authorization = this.authHeader;
    let body: string | undefined;
    if (spec.body !== undefined) {
      body = typeof spec.body === 'string' ? spec.body : JSON.stringify(spec.body);
      headers['Content-Type'] = spec.contentType ?? 'application/json';
    }
    const start = performance.now();
    const observe = (outcome: string) => {
      this.m.calls.inc({ endpoint, outcome });
      this.m.latency.observe({ endpoint, outcome }, (performance.now() - start) / 1000);
    };
    let res: HttpResponse;
    try {
      const init = {
        method: spec.method,
        headers,
        body,
        timeoutMs: this.timeoutMs,
        maxBodyBytes: this.maxResponseBytes,
      };
      // https targets go through a pool that verifies against the configured CA and the node's DNS name; http ones
      // through the shared keep-alive pool; the credentials are never sent to an http target when TLS options are
      // given.
      if (url.protocol === 'https:') {
        res = await request(url, { ...init, agent: agentFor(this.tls ?? {}) });
      } else if (this.tls && spec.auth !== false) {
        throw new Error(`refusing to send credentials over plain http to ${target}: the dashboard is https`);
      } else {
        res = await request(url, init);
      }
    } catch (err) {
      if (err instanceof HttpBodyTooLargeError) {
        observe('too_large');
        throw new EmqxResponseError(
          endpoint,
          target,
          err.status,
          `body larger than ${this.maxResponseBytes} bytes`,
        );
      }
      const name = (err as Error)?.name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      const code = (err as { code?: unknown })?.code;
      const notSent = !timedOut && typeof code === 'string' && NOT_SENT_CODES.has(code);
      observe(timedOut ? 'timeout' : 'connection_error');
      throw new EmqxConnectionError(endpoint, target, err, timedOut, notSent);
    }
    const text = res.body;
    let parsed: unknown = text === '' ? undefined : text;
    if (text !== '' && (res.headers['content-type'] ?? '').includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    } else if (text !== '' && /^\s*[[{]/.test(text) && spec.accept !== 'text/plain') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if ((res.status >= 200 && res.status < 300) || (spec.accept503 && res.status === 503)) {
      const wrong = res.status < 300 && spec.check ? spec.check(parsed) : undefined;
      if (wrong !== undefined) {
        observe('bad_response');
        throw new EmqxResponseError(endpoint, target, res.status, wrong);
      }
      observe('success');
      return { status: res.status, body: parsed, text };
    }
    observe(res.status >= 500 ? 'http_5xx' : 'http_4xx');
    throw new EmqxApiError(endpoint, target, res.status, parsed);
  }
}

function normalizeBase(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/api\/v5$/, '');
}
