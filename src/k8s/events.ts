// Kubernetes Events for the operator's actions (`kubectl describe emqx` shows them).
//
//   const events = new EventRecorder(client, { reportingInstance: podName });
//   void events.normal(emqx, 'ScaledCoreNodes', 'scaled core nodes from 2 to 3', 'Scale');
//   void events.warning(emqx, 'ReconcileFailed', `step syncConfig: ${err.message}`);
//
// - API: events.k8s.io/v1 (default) or core v1; reportingController `emqx-operator`.
// - type Normal|Warning; reason must be CamelCase (other input is turned into CamelCase); the message is passed
//   through the shared redaction (cookie/secret/password/token values and registered secrets are masked) and
//   truncated to 1 kB.
// - Aggregation: the same (object, type, reason, action, message) within `seriesTtlMs` (default 10 min) does not
//   create a new Event: the first occurrence creates one, repeats bump the series count (events.k8s.io:
//   `series.count/lastObservedTime`; core: `count/lastTimestamp`) with at most one write per `minWriteIntervalMs`
//   (default 60 s) per series; a pending bump is written when the interval has passed (timer) or on `flush()`.
//   If the Event was garbage-collected meanwhile (404), a new one is created.
// - Recording never throws: failures are logged. Every write is counted (./writes.ts).

import { randomBytes } from 'node:crypto';
import { nullLogger, type Logger } from '../observability/logger.ts';
import { redactText } from '../observability/redact.ts';
import { kubeTime, microTime } from './time.ts';
import { mergePatch } from './apply.ts';
import { isNotFound, type KubeClient, type KubeObject } from './rest.ts';

export type EventType = 'Normal' | 'Warning';

export const REPORTING_CONTROLLER = 'emqx-operator';
const MAX_NOTE_BYTES = 1024;

export interface EventRecorderOptions {
  /** `events.k8s.io/v1` (default) or `v1`. */
  api?: 'events.k8s.io/v1' | 'v1';
  reportingController?: string;
  /** This process (e.g. the pod name); default `emqx-operator`. */
  reportingInstance?: string;
  /** Minimum time between two writes of one series; default 60 000 ms. */
  minWriteIntervalMs?: number;
  /** A repeat after this long starts a new Event; default 600 000 ms. */
  seriesTtlMs?: number;
  /** Series remembered at most (oldest dropped first); default 4096. */
  maxSeries?: number;
  logger?: Logger;
  now?: () => number;
}

interface Series {
  key: string;
  name: string;
  namespace: string;
  count: number;
  lastObserved: number;
  lastWrite: number;
  writtenCount: number;
  timer?: ReturnType<typeof setTimeout>;
  inflight?: Promise<void>;
  event: { regarding: ObjectReference; type: EventType; reason: string; action: string; note: string };
}

export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

/** `scaled up` → `ScaledUp`; an already CamelCase reason is kept. */
export function camelCaseReason(reason: string): string {
  if (/^[A-Z][A-Za-z0-9]*$/.test(reason)) return reason;
  const out = reason
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
  return /^[A-Z]/.test(out) ? out : `Event${out}`;
}

function truncateBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = s;
  while (Buffer.byteLength(out) > max - 3) out = out.slice(0, Math.floor(out.length * 0.9));
  return `${out}...`;
}

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly api: 'events.k8s.io/v1' | 'v1';
  private readonly controller: string;
  private readonly instance: string;
  private readonly minWriteIntervalMs: number;
  private readonly seriesTtlMs: number;
  private readonly maxSeries: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly series = new Map<string, Series>();
  private closed = false;

  constructor(client: KubeClient, opts: EventRecorderOptions = {}) {
    this.client = client;
    this.api = opts.api ?? 'events.k8s.io/v1';
    this.controller = opts.reportingController ?? REPORTING_CONTROLLER;
    this.instance = (opts.reportingInstance ?? REPORTING_CONTROLLER).slice(0, 128);
    this.minWriteIntervalMs = opts.minWriteIntervalMs ?? 60_000;
    this.seriesTtlMs = opts.seriesTtlMs ?? 600_000;
    this.maxSeries = opts.maxSeries ?? 4096;
    this.log = opts.logger ?? nullLogger;
    this.now = opts.now ?? (() => Date.now());
  }

  normal(
    regarding: KubeObject | ObjectReference,
    reason: string,
    message: string,
    action?: string,
  ): Promise<void> {
    return this.record(regarding, 'Normal', reason, message, action);
  }

  warning(
    regarding: KubeObject | ObjectReference,
    reason: string,
    message: string,
    action?: string,
  ): Promise<void> {
    return this.record(regarding, 'Warning', reason, message, action);
  }

  /** Records an Event (or bumps its series). Never rejects. */
  async record(
    regarding: KubeObject | ObjectReference,
    type: EventType,
    reason: string,
    message: string,
    action?: string,
  ): Promise<void> {
    if (this.closed) return;
    const ref = toReference(regarding);
    if (!ref.name) {
      this.log.warn('event without an object name dropped', { reason });
      return;
    }
    const cleanReason = camelCaseReason(reason).slice(0, 128);
    const note = truncateBytes(redactText(message), MAX_NOTE_BYTES);
    const act = camelCaseReason(action ?? cleanReason).slice(0, 128);
    const key = JSON.stringify([
      ref.uid ?? '',
      ref.kind,
      ref.namespace ?? '',
      ref.name,
      type,
      cleanReason,
      act,
      note,
    ]);
    const now = this.now();
    const existing = this.series.get(key);
    if (existing && now - existing.lastObserved <= this.seriesTtlMs) {
      existing.count++;
      existing.lastObserved = now;
      this.series.delete(key); // re-insert: most recently used last
      this.series.set(key, existing);
      return this.scheduleSeriesWrite(existing);
    }
    if (existing?.timer) clearTimeout(existing.timer);
    const s: Series = {
      key,
      name: `${ref.name}.${now.toString(16)}${randomBytes(4).toString('hex')}`.slice(0, 253),
      namespace: ref.namespace || 'default',
      count: 1,
      lastObserved: now,
      lastWrite: now,
      writtenCount: 1,
      event: { regarding: ref, type, reason: cleanReason, action: act, note },
    };
    this.series.set(key, s);
    this.evict();
    s.inflight = this.create(s);
    return s.inflight;
  }

  /** Writes every pending series bump now. */
  async flush(): Promise<void> {
    const pending: Array<Promise<void>> = [];
    for (const s of this.series.values()) {
      if (s.timer) {
        clearTimeout(s.timer);
        s.timer = undefined;
      }
      if (s.count > s.writtenCount) pending.push(this.writeSeries(s));
      else if (s.inflight) pending.push(s.inflight);
    }
    await Promise.all(pending);
  }

  /** Flushes and stops recording. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private evict(): void {
    while (this.series.size > this.maxSeries) {
      const oldest = this.series.values().next().value as Series;
      if (oldest.timer) clearTimeout(oldest.timer);
      this.series.delete(oldest.key);
    }
  }

  private scheduleSeriesWrite(s: Series): Promise<void> {
    const due = s.lastWrite + this.minWriteIntervalMs;
    const now = this.now();
    if (now >= due) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
      return this.writeSeries(s);
    }
    if (!s.timer) {
      s.timer = setTimeout(
        () => {
          s.timer = undefined;
          void this.writeSeries(s);
        },
        Math.max(0, due - now),
      );
      s.timer.unref?.();
    }
    return Promise.resolve();
  }

  private async writeSeries(s: Series): Promise<void> {
    await s.inflight;
    if (s.count <= s.writtenCount) return;
    const count = s.count;
    s.lastWrite = this.now();
    s.inflight = this.patchSeries(s, count);
    await s.inflight;
  }

  private path(namespace: string, name?: string): Promise<string> {
    return this.client.path({ apiVersion: this.api, kind: 'Event', namespace, name });
  }

  private body(s: Series): KubeObject {
    const { regarding, type, reason, action, note } = s.event;
    const first = microTime(new Date(s.lastWrite));
    if (this.api === 'v1') {
      const ts = kubeTime(new Date(s.lastObserved));
      return {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: s.name, namespace: s.namespace },
        involvedObject: regarding,
        type,
        reason,
        message: note,
        action,
        source: { component: this.controller },
        reportingComponent: this.controller,
        reportingInstance: this.instance,
        firstTimestamp: ts,
        lastTimestamp: ts,
        count: 1,
      };
    }
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: s.name, namespace: s.namespace },
      eventTime: first,
      regarding,
      type,
      reason,
      action,
      note,
      reportingController: this.controller,
      reportingInstance: this.instance,
    };
  }

  private async create(s: Series): Promise<void> {
    try {
      await this.client.request('POST', await this.path(s.namespace), {
        body: this.body(s),
        write: { verb: 'create', kind: 'Event', namespace: s.namespace, name: s.name },
      });
      s.writtenCount = 1;
    } catch (err) {
      this.log.warn('could not record event', { reason: s.event.reason, err });
    }
  }

  private async patchSeries(s: Series, count: number): Promise<void> {
    const last = new Date(s.lastObserved);
    const patch =
      this.api === 'v1'
        ? { count, lastTimestamp: kubeTime(last) }
        : { series: { count, lastObservedTime: microTime(last) } };
    try {
      await mergePatch(
        this.client,
        { apiVersion: this.api, kind: 'Event', namespace: s.namespace, name: s.name },
        patch,
        {
          fieldManager: false,
        },
      );
      s.writtenCount = count;
    } catch (err) {
      if (isNotFound(err)) {
        // the Event expired (default TTL 1 h): start a new one for the remaining repeats
        s.name =
          `${s.event.regarding.name}.${this.now().toString(16)}${randomBytes(4).toString('hex')}`.slice(
            0,
            253,
          );
        s.count = 1;
        s.lastWrite = this.now();
        await this.create(s);
      } else {
        this.log.warn('could not update event series', { reason: s.event.reason, err });
      }
    }
  }
}

function toReference(o: KubeObject | ObjectReference): ObjectReference {
  if ('metadata' in o && o.metadata && typeof o.metadata === 'object') {
    const m = (o as KubeObject).metadata!;
    return {
      apiVersion: o.apiVersion,
      kind: o.kind,
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
    };
  }
  const r = o as ObjectReference;
  return {
    apiVersion: r.apiVersion,
    kind: r.kind,
    name: r.name,
    namespace: r.namespace,
    uid: r.uid,
    resourceVersion: r.resourceVersion,
  };
}
