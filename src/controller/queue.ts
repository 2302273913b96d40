// A per-key work queue in front of an async handler (the reconcile of one EMQX resource, keyed `namespace/name`).
//
// Guarantees:
//  - dedupe: a key waiting to be processed is queued once, however often it is added;
//  - serialisation: one key is never processed by two workers at once; a key added while it is being processed is
//    processed again after the running call finishes (once, however often it was added meanwhile);
//  - `workers` handlers run in parallel across different keys;
//  - `addAfter(key, ms)`: delayed adds, deduplicated per key with the earliest due time winning; a delayed add is
//    independent of an immediate one (as in client-go: after an immediate run, a still-pending delayed add runs too);
//  - `requeueAfter(key, ms)`: the same, but it replaces the key's delayed add whatever its due time (a finished pass
//    re-arms its next look: the safety-net timer of an idle resource fires once per interval however many
//    event-driven passes ran in between);
//  - per-key exponential backoff: a handler that throws re-queues its key after base·2^n ms (n = failures so far,
//    capped at maxDelayMs); a handler that returns `forget`s the key (its failure count is reset).
//    `addRateLimited(key)` / `forget(key)` are public for handlers that want to decide themselves;
//  - priority: `add(key, { priority: true })` queues a key ahead of the ordinary ones, and priority keys may run on
//    `priorityWorkers` extra workers beyond `workers` (a burst of never-seen resources is acknowledged at once even
//    while every ordinary worker runs a long pass). The class is fixed when the key enters the queue: a key already
//    waiting keeps its place; a re-run after processing (an add while it ran) is ordinary unless that add asked for
//    priority;
//  - `shutdown()` stops starting work, drops pending and delayed keys and resolves once in-flight handlers finished.
//
// Metrics (label `name`): emqx_operator_workqueue_depth, _adds_total, _retries_total, _inflight,
// _queue_duration_seconds (added → started) and _work_duration_seconds (handler run time).

import { nullLogger, type Logger } from '../observability/logger.ts';
import { defaultRegistry, type Registry } from '../observability/metrics.ts';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export type QueueHandler = (key: string) => Promise<void> | void;

export interface WorkQueueOptions {
  /** Label of the queue's metrics; default `default`. */
  name?: string;
  /** Parallel handlers (across different keys); default 1. */
  workers?: number;
  /** Extra handlers only priority keys may use (on top of `workers`); default 0. */
  priorityWorkers?: number;
  /** First retry delay after a failure; default 500 ms. */
  baseDelayMs?: number;
  /** Cap of the retry delay; default 300 000 ms (5 min). */
  maxDelayMs?: number;
  clock?: Clock;
  registry?: Registry;
  logger?: Logger;
  /** Called when a handler throws (after the key was re-queued with backoff). Default: a warn log line. */
  onError?: (key: string, err: unknown, retryInMs: number) => void;
}

function metrics(registry: Registry) {
  return {
    depth: registry.gauge({
      name: 'emqx_operator_workqueue_depth',
      help: 'Keys waiting to be processed (not counting delayed ones).',
      labelNames: ['name'],
    }),
    adds: registry.counter({
      name: 'emqx_operator_workqueue_adds_total',
      help: 'Keys added to the work queue (after dedupe).',
      labelNames: ['name'],
    }),
    retries: registry.counter({
      name: 'emqx_operator_workqueue_retries_total',
      help: 'Keys re-queued with backoff after a failure.',
      labelNames: ['name'],
    }),
    inflight: registry.gauge({
      name: 'emqx_operator_workqueue_inflight',
      help: 'Handlers running now.',
      labelNames: ['name'],
    }),
    queueDuration: registry.histogram({
      name: 'emqx_operator_workqueue_queue_duration_seconds',
      help: 'Time a key waited in the queue before a worker picked it up.',
      labelNames: ['name'],
    }),
    workDuration: registry.histogram({
      name: 'emqx_operator_workqueue_work_duration_seconds',
      help: 'Time a handler took.',
      labelNames: ['name'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    }),
  };
}

export class WorkQueue {
  readonly name: string;
  private readonly handler: QueueHandler;
  private readonly workers: number;
  private readonly priorityWorkers: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly onError: (key: string, err: unknown, retryInMs: number) => void;
  private readonly m: ReturnType<typeof metrics>;

  /** Ready keys in FIFO order, with the time each was (first) added. Never holds a key being processed. */
  private readonly pending = new Map<string, number>();
  /** Ready priority keys (FIFO), served before `pending`. A key is in at most one of the two. */
  private readonly pendingFirst = new Map<string, number>();
  private readonly processing = new Set<string>();
  /** Keys being processed on an ordinary worker (the others run on a priority one). */
  private readonly ordinary = new Set<string>();
  /** Keys added while being processed, with the time of the first such add and whether one asked for priority. */
  private readonly dirty = new Map<string, { at: number; priority: boolean }>();
  private readonly delayed = new Map<string, { at: number; handle: unknown }>();
  private readonly failures = new Map<string, number>();
  private readonly inflight = new Set<Promise<void>>();
  private idleWaiters: Array<() => void> = [];
  private shuttingDown = false;

  constructor(handler: QueueHandler, opts: WorkQueueOptions = {}) {
    this.handler = handler;
    this.name = opts.name ?? 'default';
    this.workers = Math.max(1, opts.workers ?? 1);
    this.priorityWorkers = Math.max(0, opts.priorityWorkers ?? 0);
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 300_000;
    this.clock = opts.clock ?? realClock;
    this.log = opts.logger ?? nullLogger;
    this.onError =
      opts.onError ??
      ((key, err, retryInMs) =>
        this.log.warn('work item failed; will retry', { queue: this.name, key, retryInMs, err }));
    this.m = metrics(opts.registry ?? defaultRegistry);
  }

  /**
   * Queues `key` for processing now (deduplicated; if it is being processed, it runs again afterwards). With
   * `priority`, ahead of ordinary keys and on the extra priority workers too.
   */
  add(key: string, opts: { priority?: boolean } = {}): void {
    if (this.shuttingDown) return;
    const priority = opts.priority === true;
    if (this.processing.has(key)) {
      const d = this.dirty.get(key);
      if (!d) this.dirty.set(key, { at: this.clock.now(), priority });
      else if (priority) d.priority = true;
      return;
    }
    if (this.pending.has(key) || this.pendingFirst.has(key)) return;
    (priority ? this.pendingFirst : this.pending).set(key, this.clock.now());
    this.m.adds.inc({ name: this.name });
    this.updateDepth();
    this.pump();
  }

  /** Queues `key` after `ms`; if it already waits for a delayed add, the earlier due time wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.handle);
    const handle = this.clock.setTimeout(() => {
      const cur = this.delayed.get(key);
      if (cur?.handle !== handle) return;
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /**
   * Queues `key` after `ms` in place of any delayed add it waits for, earlier or later: what a finished pass says
   * about its next look (the pass saw the freshest state, so its answer replaces an older one). An event-driven pass
   * thus re-arms the safety-net timer instead of adding a second look before it (one pass per interval at idle).
   */
  requeueAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    const existing = this.delayed.get(key);
    if (existing) {
      this.clock.clearTimeout(existing.handle);
      this.delayed.delete(key);
    }
    this.addAfter(key, ms);
  }

  /** Re-queues `key` after its backoff delay and counts a failure; returns the delay in ms. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
    this.m.retries.inc({ name: this.name });
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the failure count of `key` (its next failure backs off from the base delay again). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Ready keys waiting for a worker. */
  len(): number {
    return this.pending.size + this.pendingFirst.size;
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  /** Keys waiting for a delayed add. */
  delayedKeys(): string[] {
    return [...this.delayed.keys()];
  }

  /** Resolves when no key is ready or being processed (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.len() === 0 && this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get isShutDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops starting work, drops pending and delayed keys, and waits for running handlers to finish. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    this.pending.clear();
    this.pendingFirst.clear();
    this.dirty.clear();
    this.updateDepth();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    this.notifyIdle();
  }

  private updateDepth(): void {
    this.m.depth.set({ name: this.name }, this.len());
  }

  /**
   * Starts what may start: priority keys first, on a free ordinary worker or one of the extra priority workers;
   * then ordinary keys on the ordinary workers.
   */
  private pump(): void {
    while (!this.shuttingDown) {
      const extraBusy = this.processing.size - this.ordinary.size;
      const ordinaryFree = this.ordinary.size < this.workers;
      if (this.pendingFirst.size > 0 && (ordinaryFree || extraBusy < this.priorityWorkers)) {
        const [key, addedAt] = this.pendingFirst.entries().next().value as [string, number];
        this.pendingFirst.delete(key);
        this.updateDepth();
        // an extra worker when there is one, so that ordinary work keeps its own workers
        this.start(key, addedAt, extraBusy >= this.priorityWorkers);
        continue;
      }
      if (this.pending.size > 0 && ordinaryFree) {
        const [key, addedAt] = this.pending.entries().next().value as [string, number];
        this.pending.delete(key);
        this.updateDepth();
        this.start(key, addedAt, true);
        continue;
      }
      return;
    }
  }

  private start(key: string, addedAt: number, onOrdinary: boolean): void {
    this.processing.add(key);
    if (onOrdinary) this.ordinary.add(key);
    this.m.inflight.set({ name: this.name }, this.processing.size);
    this.m.queueDuration.observe({ name: this.name }, Math.max(0, this.clock.now() - addedAt) / 1000);
    const startedAt = performance.now();
    const run = (async () => {
      try {
        await null; // never run the handler synchronously inside add()
        await this.handler(key);
        this.forget(key);
      } catch (err) {
        if (!this.shuttingDown) {
          const retryInMs = this.addRateLimited(key);
          try {
            this.onError(key, err, retryInMs);
          } catch {
            // an error reporter must not break the queue
          }
        }
      }
    })();
    const tracked = run.finally(() => {
      this.inflight.delete(tracked);
      this.m.workDuration.observe({ name: this.name }, (performance.now() - startedAt) / 1000);
      this.processing.delete(key);
      this.ordinary.delete(key);
      this.m.inflight.set({ name: this.name }, this.processing.size);
      const dirty = this.dirty.get(key);
      if (dirty !== undefined) {
        this.dirty.delete(key);
        if (!this.shuttingDown && !this.pending.has(key) && !this.pendingFirst.has(key)) {
          (dirty.priority ? this.pendingFirst : this.pending).set(key, dirty.at);
          this.m.adds.inc({ name: this.name });
          this.updateDepth();
        }
      }
      this.pump();
      this.notifyIdle();
    });
    this.inflight.add(tracked);
  }

  private notifyIdle(): void {
    if (this.len() > 0 || this.processing.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
