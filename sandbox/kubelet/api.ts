// A thin raw-JSON Kubernetes client for the kubelet emulator, plus informers built on client-node's ListWatch.
//
// Why raw JSON: client-node's typed APIs (de)serialise through its 1.34 models, which turn timestamps into Date
// objects in lists but not in watch events, and drop fields the models do not know. The kubelet compares and
// patches status, so it wants exactly what the API server sent. Authentication still comes from the KubeConfig
// (`applyToHTTPSOptions`), and watches use client-node's `Watch`.
import https from 'node:https';
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

export class KubeError extends Error {
  readonly code: number;
  readonly body: string;
  constructor(method: string, path: string, code: number, body: string) {
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not JSON
    }
    super(`${method} ${path}: HTTP ${code}: ${message}`);
    this.code = code;
    this.body = body;
  }
}

export const CONTENT_TYPE = {
  json: 'application/json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
}

export class KubeApi {
  readonly kubeConfig: KubeConfig;
  readonly server: string;
  /** Every request made, by method (for tests and for keeping an eye on write volume). */
  readonly counts: Record<string, number> = {};

  constructor(kc: KubeConfig) {
    this.kubeConfig = kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/$/, '');
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const reqOpts: https.RequestOptions = { method, headers: { Accept: 'application/json' } };
    await this.kubeConfig.applyToHTTPSOptions(reqOpts);
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      reqOpts.headers = {
        ...reqOpts.headers,
        'Content-Type': opts.contentType ?? CONTENT_TYPE.json,
        'Content-Length': Buffer.byteLength(payload),
      };
    }
    this.counts[method] = (this.counts[method] ?? 0) + 1;
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(url, reqOpts, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
    if (status < 200 || status >= 300) throw new KubeError(method, path, status, body);
    return (body ? JSON.parse(body) : undefined) as T;
  }

  get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, { query });
  }
  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }
  patch<T>(path: string, body: unknown, contentType: string = CONTENT_TYPE.merge): Promise<T> {
    return this.request<T>('PATCH', path, { body, contentType });
  }
  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, { body });
  }
}

/** 404 and 409 are normal outcomes for an agent that races with the rest of the cluster. */
export function isNotFound(e: unknown): boolean {
  return e instanceof KubeError && e.code === 404;
}
export function isConflict(e: unknown): boolean {
  return e instanceof KubeError && e.code === 409;
}

export type Handler<T> = (obj: T) => void;

/**
 * A cluster-wide informer for one resource path (e.g. `/api/v1/pods`), on raw JSON. It restarts itself after
 * errors (client-node's ListWatch stops on anything but 410 and timeouts) and re-watches quickly after the API
 * server ends a quiet watch (ListWatch would otherwise back off up to 30 s).
 */
export class Informer<T extends KubernetesObject> {
  readonly path: string;
  private readonly lw: ListWatch<T>;
  private stopped = false;
  /** How many times the informer (re)connected: one list, then one per watch (re-)established. */
  connects = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly onError: (e: unknown) => void;

  constructor(api: KubeApi, path: string, onError: (e: unknown) => void = () => {}) {
    this.path = path;
    this.onError = onError;
    this.lw = new ListWatch<T>(
      path,
      new Watch(api.kubeConfig),
      () => api.get(path),
      false,
      undefined,
      undefined,
      { delayFn: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 500))) },
    );
    this.lw.on('connect', () => this.connects++);
    this.lw.on('error', (e: unknown) => {
      if (this.stopped) return;
      this.onError(e);
      if (this.restartTimer) return;
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.stopped) void this.lw.start();
      }, 1000);
    });
  }

  on(event: 'add' | 'update' | 'delete', handler: Handler<T>): void {
    this.lw.on(event, handler);
  }

  /** Lists (firing `add` for every object), then watches. Resolves once the list is in the cache. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.lw.start();
    // A failed first list is reported through 'error' (and retried), not thrown: wait until a list got through.
    const deadline = Date.now() + 30_000;
    while (this.lw.latestResourceVersion() === '' && !this.stopped) {
      if (Date.now() > deadline) throw new Error(`informer ${this.path}: no successful list within 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.lw.stop();
  }

  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace);
  }
}
