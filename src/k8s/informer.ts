// A cached list+watch of one kind in one namespace (or all), with what an operator needs:
//  - list, then watch from the list's resourceVersion; a watch that ends normally or goes quiet for 30 s (no event,
//    the connection may be dead) is reopened from the last resourceVersion seen; a 410 Gone (in the answer or as an
//    ERROR event) relists. A watch that keeps ending without events is reopened after a growing delay (1 s, doubling,
//    max 30 s; reset by any event), so a misbehaving server is not hammered;
//  - automatic restart after errors (connection reset, apiserver restart, a failed list, a 5xx/403 on watch): every
//    such error schedules one restart after an exponential backoff (initial 1 s, doubling, max 30 s; reset after a
//    successful list or watch event); errors arriving while a restart is pending are folded into it, so restarts
//    never overlap. Restarts are logged and counted (emqx_operator_informer_restarts_total{resource}); a watch that
//    ends with 410 Gone is counted too (emqx_operator_informer_watch_gone_total{resource}) before the relist;
//  - plain-JSON objects (timestamps stay strings), so cached objects look exactly like what `apply`/`needsApply`
//    handle, each passed through the `transform` option before it is cached;
//  - update handlers get the previous object too;
//  - a `synced` promise that resolves once the first list is in the cache;
//  - stop() really stops: it aborts the open watch, ends a reconnect delay at once, and nothing is opened after it
//    (a list in flight completes, is not cached, and opens no watch).
//
// After a restart that resumes the watch from the last resourceVersion, only changes fire handlers; after a relist
// (410), objects that vanished meanwhile fire `delete` and changed ones (other resourceVersion) `update`.
//
// This replaces client-node's ListWatch/Watch, whose modules load its generated model classes (tens of MiB of RSS)
// for a serializer the operator never needs.

import { stream } from '../net/http.ts';
import { nullLogger, type Logger } from '../observability/logger.ts';
import { defaultRegistry } from '../observability/metrics.ts';
import { type KubeClient, type KubeObject } from './rest.ts';

export interface InformerOptions {
  apiVersion: string;
  kind: string;
  /** Omit for all namespaces (or for cluster-scoped kinds). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  logger?: Logger;
  /** First restart delay after an error; default 1000 ms. */
  initialBackoffMs?: number;
  /** Longest restart delay; default 30 000 ms. */
  maxBackoffMs?: number;
  /** Applied to every listed or watched object before it is cached (e.g. to drop fields nobody reads). */
  transform?: (obj: KubeObject) => KubeObject;
  /** A watch with no event for this long is reopened (default 30 000 ms). */
  watchIdleTimeoutMs?: number;
}

export type AddHandler<T> = (obj: T) => void;
export type UpdateHandler<T> = (obj: T, old: T | undefined) => void;
export type DeleteHandler<T> = (obj: T) => void;

const restartsTotal = defaultRegistry.counter({
  name: 'emqx_operator_informer_restarts_total',
  help: 'Informer restarts after a list/watch error.',
  labelNames: ['resource'],
});

const goneTotal = defaultRegistry.counter({
  name: 'emqx_operator_informer_watch_gone_total',
  help: 'Watches ended with 410 Gone (resourceVersion too old): the informer lists again and diffs its cache.',
  labelNames: ['resource'],
});

/** `namespace/name` (or `name` for cluster-scoped objects): the work-queue key of an object. */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name ?? ''}` : (obj.metadata?.name ?? '');
}

/** A watch HTTP answer other than 200 (statusCode as client-node's watch errors had it). */
export class WatchError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, body: string) {
    super(`watch: HTTP ${statusCode}${body ? `: ${body.slice(0, 300)}` : ''}`);
    this.name = 'WatchError';
    this.statusCode = statusCode;
  }
}

/** The start of a failed watch answer's body (at most 4 KiB read), for its error message; '' if it cannot be read. */
async function errorText(body: AsyncIterable<unknown> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).byteLength;
      if (size >= 4096) break;
    }
  } catch {
    return '';
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

const BASE_RECONNECT_DELAY_MS = 1000;
const MAX_RECONNECT_DELAY_MS = 30_000;

type WatchEnd = 'closed' | 'idle' | 'gone' | 'stopped';

export class Informer<T extends KubeObject = KubeObject> {
  readonly resource: string;
  /** Resolves when the first list is in the cache (never rejects; check `stopped` if you stop early). */
  readonly synced: Promise<void>;
  private readonly client: KubeClient;
  private readonly opts: InformerOptions;
  private readonly log: Logger;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly idleTimeoutMs: number;
  private path: string | undefined;
  /** namespace ('' for cluster-scoped) → name → object */
  private objects = new Map<string, Map<string, T>>();
  private resourceVersion = '';
  private resolveSynced!: () => void;
  private isSynced = false;
  private stopped = false;
  private started = false;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** The watch request open now, if any (aborted by stop()). */
  private current: AbortController | undefined;
  /** Reconnect delays in progress; stop() ends them. */
  private readonly delays = new Set<() => void>();
  private reconnectDelayMs = 0;
  private backoffMs: number;
  private restartCount = 0;
  private readonly addHandlers = new Set<AddHandler<T>>();
  private readonly updateHandlers = new Set<UpdateHandler<T>>();
  private readonly deleteHandlers = new Set<DeleteHandler<T>>();
  private readonly errorHandlers = new Set<(err: unknown) => void>();

  constructor(client: KubeClient, opts: InformerOptions) {
    this.client = client;
    this.opts = opts;
    this.resource = `${opts.kind.toLowerCase()}${opts.namespace ? `/${opts.namespace}` : ''}${
      opts.labelSelector ? `?${opts.labelSelector}` : ''
    }`;
    this.log = (opts.logger ?? nullLogger).child({ informer: this.resource });
    this.initialBackoffMs = opts.initialBackoffMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.idleTimeoutMs = opts.watchIdleTimeoutMs ?? 30_000;
    this.backoffMs = this.initialBackoffMs;
    this.synced = new Promise((resolve) => (this.resolveSynced = resolve));
  }

  /** Starts listing and watching; resolves once the first list is in (or failed; errors restart by themselves). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      this.path = await this.client.path({
        apiVersion: this.opts.apiVersion,
        kind: this.opts.kind,
        namespace: this.opts.namespace,
      });
    } catch (err) {
      this.handleError(err);
      return;
    }
    await this.run(true);
  }

  /** Stops watching; pending restarts are cancelled. The cache keeps its last content. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    for (const end of [...this.delays]) end();
    this.current?.abort();
    this.current = undefined;
  }

  /**
   * List (when there is no resourceVersion to resume from) and watch until stopped or an error. With `returnAfterList`
   * the returned promise resolves once the list is in and the watch runs on in the background.
   */
  private async run(returnAfterList = false): Promise<void> {
    let listed: () => void = () => {};
    const loop = async () => {
      try {
        while (!this.stopped) {
          if (!this.resourceVersion) await this.relist();
          listed();
          if (this.stopped) return;
          const end = await this.watchOnce();
          if (end === 'gone') {
            goneTotal.inc({ resource: this.resource });
            this.log.debug('watch ended with 410 Gone: listing again');
            this.resourceVersion = '';
          } else if (end === 'closed') {
            // a watch that ends without events again and again is reopened ever more slowly
            if (this.reconnectDelayMs > 0) await this.delay(this.reconnectDelayMs);
            this.reconnectDelayMs = Math.min(
              this.reconnectDelayMs > 0 ? this.reconnectDelayMs * 2 : BASE_RECONNECT_DELAY_MS,
              MAX_RECONNECT_DELAY_MS,
            );
          }
        }
      } catch (err) {
        listed();
        if (!this.stopped) this.handleError(err);
      }
    };
    if (!returnAfterList) return loop();
    await new Promise<void>((resolve) => {
      listed = resolve;
      void loop();
    });
  }

  private async relist(): Promise<void> {
    const list = await this.client.list<T>(this.opts.apiVersion, this.opts.kind, {
      namespace: this.opts.namespace,
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
    });
    if (this.stopped) return;
    const transform = this.opts.transform;
    const items = transform ? list.items.map((o) => transform(o) as T) : list.items;
    this.backoffMs = this.initialBackoffMs;
    // objects gone since the last list fire `delete`; the rest add or update
    const fresh = new Set(items.map((o) => objectKey(o)));
    for (const byName of [...this.objects.values()]) {
      for (const obj of [...byName.values()]) if (!fresh.has(objectKey(obj))) this.remove(obj);
    }
    for (const obj of items) this.upsert(obj);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    if (!this.isSynced) {
      this.isSynced = true;
      this.log.debug('informer synced', { objects: items.length });
      this.resolveSynced();
    }
  }

  /** One watch request, read to its end. */
  private async watchOnce(): Promise<WatchEnd> {
    const url = new URL(this.client.server + this.path!);
    url.searchParams.set('watch', 'true');
    url.searchParams.set('resourceVersion', this.resourceVersion);
    if (this.opts.labelSelector !== undefined) url.searchParams.set('labelSelector', this.opts.labelSelector);
    if (this.opts.fieldSelector !== undefined) url.searchParams.set('fieldSelector', this.opts.fieldSelector);
    const controller = new AbortController();
    this.current = controller;
    let idle = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        controller.abort();
      }, this.idleTimeoutMs);
      timer.unref?.();
    };
    try {
      arm();
      const { headers, agent } = await this.client.access.prepare();
      if (this.stopped) return 'stopped';
      headers.Accept = 'application/json';
      const res = await stream(url, { headers, agent, signal: controller.signal });
      if (res.status === 410) {
        res.body.destroy();
        return 'gone';
      }
      if (res.status !== 200) throw new WatchError(res.status, await errorText(res.body));
      arm();
      let gone = false;
      let rest = '';
      const decoder = new TextDecoder();
      for await (const chunk of res.body) {
        arm();
        rest += decoder.decode(chunk as Uint8Array, { stream: true });
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (line.trim() !== '' && this.event(line)) gone = true;
        }
        if (gone) break;
      }
      return gone ? 'gone' : 'closed';
    } catch (err) {
      if (this.stopped) return 'stopped';
      if (idle) return 'idle';
      throw err;
    } finally {
      clearTimeout(timer);
      controller.abort();
      if (this.current === controller) this.current = undefined;
    }
  }

  /** Handles one watch line; true when it says the resourceVersion is gone (410). */
  private event(line: string): boolean {
    let ev: { type?: string; object?: KubeObject & { code?: number } };
    try {
      ev = JSON.parse(line) as typeof ev;
    } catch {
      this.log.warn('informer: unparsable watch line ignored', { bytes: line.length });
      return false;
    }
    const obj = ev.object;
    if (!obj || typeof obj !== 'object') return false;
    if (ev.type === 'ERROR') {
      if (obj.code === 410) return true;
      throw new WatchError(typeof obj.code === 'number' ? obj.code : 500, JSON.stringify(obj).slice(0, 300));
    }
    const transformed = ev.type === 'BOOKMARK' || !this.opts.transform ? obj : this.opts.transform(obj);
    if (ev.type === 'ADDED' || ev.type === 'MODIFIED') this.upsert(transformed as T);
    else if (ev.type === 'DELETED') this.remove(transformed as T);
    this.reconnectDelayMs = 0;
    this.backoffMs = this.initialBackoffMs;
    this.resourceVersion = obj.metadata?.resourceVersion ?? this.resourceVersion;
    return false;
  }

  private upsert(obj: T): void {
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    let byName = this.objects.get(ns);
    if (!byName) this.objects.set(ns, (byName = new Map()));
    const old = byName.get(name);
    if (
      old &&
      old.metadata?.resourceVersion !== undefined &&
      old.metadata.resourceVersion === obj.metadata?.resourceVersion
    )
      return;
    byName.set(name, obj);
    if (old) this.call(this.updateHandlers, obj, old);
    else this.call(this.addHandlers, obj);
  }

  private remove(obj: T): void {
    const ns = obj.metadata?.namespace ?? '';
    const byName = this.objects.get(ns);
    if (!byName?.delete(obj.metadata?.name ?? '')) return;
    if (byName.size === 0) this.objects.delete(ns);
    this.call(this.deleteHandlers, obj);
  }

  /** A reconnect delay, ended early by stop(); never holds the process open. */
  private delay(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.delays.delete(end);
        resolve();
      };
      const timer = setTimeout(end, ms);
      timer.unref?.();
      this.delays.add(end);
    });
  }

  hasSynced(): boolean {
    return this.isSynced;
  }

  /** Restarts after errors so far. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Cached objects, of one namespace or all. */
  list(namespace?: string): T[] {
    if (namespace) return [...(this.objects.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const byName of this.objects.values()) all.push(...byName.values());
    return all;
  }

  /** A cached object (`namespace` '' or undefined for cluster-scoped kinds). */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(namespace || '')?.get(name);
  }

  onAdd(h: AddHandler<T>): () => void {
    this.addHandlers.add(h);
    return () => this.addHandlers.delete(h);
  }
  onUpdate(h: UpdateHandler<T>): () => void {
    this.updateHandlers.add(h);
    return () => this.updateHandlers.delete(h);
  }
  onDelete(h: DeleteHandler<T>): () => void {
    this.deleteHandlers.add(h);
    return () => this.deleteHandlers.delete(h);
  }
  /** Called for every list/watch error (before the restart is scheduled). */
  onError(h: (err: unknown) => void): () => void {
    this.errorHandlers.add(h);
    return () => this.errorHandlers.delete(h);
  }
  /** add, update and delete with one callback. */
  onChange(h: (obj: T) => void): () => void {
    const offs = [this.onAdd(h), this.onUpdate(h), this.onDelete(h)];
    return () => offs.forEach((off) => off());
  }

  private call<A extends unknown[]>(handlers: Iterable<(...a: A) => void>, ...args: A): void {
    for (const h of handlers) {
      try {
        h(...args);
      } catch (err) {
        this.log.error('informer handler failed', { err });
      }
    }
  }

  private handleError(err: unknown): void {
    this.call(this.errorHandlers, err);
    if (this.stopped) return;
    if (this.restartTimer) return; // a restart is already scheduled: never overlap
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
    this.log.warn('informer list/watch failed; restarting', {
      err: err instanceof Error ? err.message : String(err),
      retryInMs: delay,
    });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.restartCount++;
      restartsTotal.inc({ resource: this.resource });
      this.log.info('informer restarting', { restarts: this.restartCount });
      if (this.path === undefined) {
        this.started = false;
        void this.start();
      } else void this.run();
    }, delay);
    this.restartTimer.unref?.();
  }
}
