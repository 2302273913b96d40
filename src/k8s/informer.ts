// A cached list+watch of one kind in one namespace (or all), built on client-node's ListWatch, plus what it lacks:
//  - automatic restart after errors. client-node relists by itself after a 410 Gone and re-watches after a normal
//    watch end or a 30 s inactivity timeout, but any other error (connection reset, apiserver restart, a failed list,
//    a 5xx/403 on watch) emits `error` and STOPS the informer. Here every such error schedules one restart after an
//    exponential backoff (initial 1 s, doubling, max 30 s; reset after a successful list or watch event); errors
//    arriving while a restart is pending are folded into it, so restarts never overlap. Restarts are logged and
//    counted (emqx_operator_informer_restarts_total{resource}); a watch that ends with 410 Gone is counted too
//    (emqx_operator_informer_watch_gone_total{resource}) before client-node lists again;
//  - plain-JSON objects (the list goes through KubeClient, the watch through client-node's Watch, which does not
//    deserialize), so cached objects look exactly like what `apply`/`needsApply` handle;
//  - update handlers get the previous object too;
//  - a `synced` promise that resolves once the first list is in the cache.
//
//  - stop() really stops: client-node's ListWatch opens its next watch after awaiting the list, its reconnect
//    delay and the watch's response headers, without looking again whether it was stopped meanwhile, so a stop()
//    in any of those windows (a restart racing with stop, on every leadership loss) left a watch open for good.
//    The Watch handed to ListWatch refuses to open once stopped and aborts one that opened during stop(), and the
//    reconnect delay ends at stop() instead of holding the event loop for up to 30 s.
//
// After a restart that resumes the watch from the last resourceVersion, only changes fire handlers; after a relist
// (410), objects that vanished meanwhile fire `delete` and changed ones `update` (client-node's cache diff).

import { ListWatch, Watch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { nullLogger, type Logger } from '../observability/logger.ts';
import { defaultRegistry } from '../observability/metrics.ts';
import type { KubeClient, KubeObject } from './rest.ts';

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

export class Informer<T extends KubeObject = KubeObject> {
  readonly resource: string;
  /** Resolves when the first list is in the cache (never rejects; check `stopped` if you stop early). */
  readonly synced: Promise<void>;
  private readonly client: KubeClient;
  private readonly opts: InformerOptions;
  private readonly log: Logger;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  // client-node types metadata with Date timestamps; our objects are plain JSON, hence the casts at this boundary
  private lw: ListWatch<KubernetesObject> | undefined;
  private resolveSynced!: () => void;
  private isSynced = false;
  private stopped = false;
  private started = false;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** The watch request open now, if any (aborted by stop()). */
  private currentWatch: AbortController | undefined;
  /** Reconnect delays in progress; stop() ends them. */
  private readonly delays = new Set<() => void>();
  private backoffMs: number;
  private restartCount = 0;
  private readonly shadow = new Map<string, T>();
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
    this.backoffMs = this.initialBackoffMs;
    this.synced = new Promise((resolve) => (this.resolveSynced = resolve));
  }

  /** Starts listing and watching; resolves once started (await `synced` for the cache). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const path = await this.client.path({
      apiVersion: this.opts.apiVersion,
      kind: this.opts.kind,
      namespace: this.opts.namespace,
    });
    if (this.stopped) return;
    const lw = new ListWatch<KubernetesObject>(
      path,
      this.guardedWatch(),
      () => this.listFn(),
      false,
      this.opts.labelSelector,
      this.opts.fieldSelector,
      { delayFn: (ms: number) => this.delay(ms) },
    );
    lw.on('add', (obj) => this.handleAdd(obj as T));
    lw.on('update', (obj) => this.handleUpdate(obj as T));
    lw.on('delete', (obj) => this.handleDelete(obj as T));
    lw.on('error', (err) => this.handleError(err));
    this.lw = lw;
    await lw.start();
  }

  /** Stops watching; pending restarts are cancelled. The cache keeps its last content. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    for (const end of [...this.delays]) end();
    await this.lw?.stop();
    this.currentWatch?.abort();
    this.currentWatch = undefined;
  }

  /**
   * A Watch that opens nothing once stopped and aborts a watch whose headers arrive after stop(); the objects it
   * delivers go through the `transform` option first.
   */
  private guardedWatch(): Watch {
    const inner = new Watch(this.client.kc);
    const transform = this.opts.transform;
    const watch: Pick<Watch, 'watch'> = {
      watch: async (path, params, callback, done) => {
        if (this.stopped) return new AbortController();
        const cb: typeof callback = (phase, obj, w) => {
          if (phase === 'ERROR' && (obj as { code?: unknown } | undefined)?.code === 410) this.gone();
          callback(phase, transform && obj && typeof obj === 'object' ? transform(obj) : obj, w);
        };
        const ended: typeof done = (err) => {
          const e = err as { statusCode?: unknown; code?: unknown } | null | undefined;
          if (e && (e.statusCode === 410 || e.code === 410)) this.gone();
          done(err);
        };
        const controller = await inner.watch(path, params, cb, ended);
        if (this.stopped) controller.abort();
        else this.currentWatch = controller;
        return controller;
      },
    };
    return watch as Watch;
  }

  private gone(): void {
    goneTotal.inc({ resource: this.resource });
    this.log.debug('watch ended with 410 Gone: listing again');
  }

  /** ListWatch's reconnect delay, ended early by stop(); never holds the process open. */
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
    return this.lw ? ([...this.lw.list(namespace)] as T[]) : [];
  }

  /** A cached object (`namespace` '' or undefined for cluster-scoped kinds). */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.lw?.get(name, namespace || undefined) as T | undefined;
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

  private async listFn(): Promise<KubernetesListObject<KubernetesObject>> {
    const list = await this.client.list<T>(this.opts.apiVersion, this.opts.kind, {
      namespace: this.opts.namespace,
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
    });
    if (this.opts.transform) list.items = list.items.map((o) => this.opts.transform!(o) as T);
    this.backoffMs = this.initialBackoffMs;
    if (!this.isSynced) {
      // ListWatch fills its cache in the continuation of this promise; resolve after that has run
      setImmediate(() => {
        this.isSynced = true;
        this.log.debug('informer synced', { objects: list.items.length });
        this.resolveSynced();
      });
    }
    return list as unknown as KubernetesListObject<KubernetesObject>;
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

  private handleAdd(obj: T): void {
    this.backoffMs = this.initialBackoffMs;
    this.shadow.set(objectKey(obj), obj);
    this.call(this.addHandlers, obj);
  }

  private handleUpdate(obj: T): void {
    this.backoffMs = this.initialBackoffMs;
    const key = objectKey(obj);
    const old = this.shadow.get(key);
    this.shadow.set(key, obj);
    this.call(this.updateHandlers, obj, old);
  }

  private handleDelete(obj: T): void {
    this.shadow.delete(objectKey(obj));
    this.call(this.deleteHandlers, obj);
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
      if (this.stopped || !this.lw) return;
      this.restartCount++;
      restartsTotal.inc({ resource: this.resource });
      this.log.info('informer restarting', { restarts: this.restartCount });
      this.lw.start().catch((e: unknown) => this.handleError(e));
    }, delay);
    this.restartTimer.unref?.();
  }
}
