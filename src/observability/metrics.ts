// Prometheus metrics through prom-client (https://github.com/siimon/prom-client), the Node standard.
//
// This module adds only what prom-client leaves to its users:
// - `Registry.counter/gauge/histogram` get-or-create a metric, so a module can define its metrics at load time and
//   several instances of a component (work queues, EMQX clients) share them. Registering a name again with another
//   type, other label names or (histograms) other buckets throws.
// - `enableProcessMetrics` adds prom-client's default collectors (process CPU, RSS, open fds, heap spaces, GC
//   durations, event-loop lag, active handles) once per registry; the observability server turns them on for the
//   default registry.
// - `metricValue` / `metricTotal` / `metricSamples` read values back (tests and the write counter's accessors).
//   They are async because prom-client's `get()` is (collectors may run).

import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry as PromRegistry,
  type LabelValues,
} from 'prom-client';

export type Labels = Record<string, string | number>;
export { Counter, Gauge, Histogram };

/** The Prometheus text exposition format 0.0.4. */
export const CONTENT_TYPE = PromRegistry.PROMETHEUS_CONTENT_TYPE;

export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** How often prom-client's event-loop-delay monitor samples (ms). Its default, 10 ms, wakes an idle process 100
 * times a second; 100 ms is plenty to see a blocked loop. */
const EVENT_LOOP_PRECISION_MS = 100;

interface MetricOptions<T extends string> {
  name: string;
  help: string;
  labelNames?: readonly T[];
}

export interface HistogramOptions<T extends string> extends MetricOptions<T> {
  buckets?: readonly number[];
}

type AnyMetric = Counter | Gauge | Histogram;

export class Registry extends PromRegistry {
  counter<const T extends string = string>(opts: MetricOptions<T>): Counter<T> {
    return this.getOrCreate(
      opts,
      Counter,
      () => new Counter({ ...opts, labelNames: opts.labelNames ?? [], registers: [this] }),
    ) as Counter<T>;
  }

  gauge<const T extends string = string>(opts: MetricOptions<T>): Gauge<T> {
    return this.getOrCreate(
      opts,
      Gauge,
      () => new Gauge({ ...opts, labelNames: opts.labelNames ?? [], registers: [this] }),
    ) as Gauge<T>;
  }

  histogram<const T extends string = string>(opts: HistogramOptions<T>): Histogram<T> {
    const buckets = [...(opts.buckets ?? DEFAULT_BUCKETS)];
    const h = this.getOrCreate(
      opts,
      Histogram,
      () => new Histogram({ ...opts, labelNames: opts.labelNames ?? [], buckets, registers: [this] }),
    );
    const existing = (h as unknown as { upperBounds: number[] }).upperBounds;
    if (JSON.stringify(existing) !== JSON.stringify(buckets.filter((b) => b !== Infinity)))
      throw new Error(`metric ${opts.name} is already registered with other buckets`);
    return h as Histogram<T>;
  }

  /** The whole registry in the text exposition format. */
  render(): Promise<string> {
    return this.metrics();
  }

  private getOrCreate<T extends string>(
    opts: MetricOptions<T>,
    type: typeof Counter | typeof Gauge | typeof Histogram,
    make: () => AnyMetric,
  ): AnyMetric {
    const existing = this.getSingleMetric(opts.name);
    if (!existing) return make();
    const labels = (existing as unknown as { labelNames: string[] }).labelNames;
    if (!(existing instanceof type) || JSON.stringify(labels) !== JSON.stringify(opts.labelNames ?? [])) {
      throw new Error(
        `metric ${opts.name} is already registered as a ${existing.constructor.name} with labels [${labels.join(',')}]`,
      );
    }
    return existing as AnyMetric;
  }
}

/** The process-wide registry that `/metrics` serves by default and the runtime modules register on. */
export const defaultRegistry = new Registry();

const withProcessMetrics = new WeakSet<PromRegistry>();

/** Adds prom-client's process and Node.js runtime metrics to `registry` (once). */
export function enableProcessMetrics(registry: PromRegistry = defaultRegistry): void {
  if (withProcessMetrics.has(registry)) return;
  withProcessMetrics.add(registry);
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
}

export interface Sample {
  /** The series name (`foo_bucket`, `foo_sum`, `foo_count` for histograms). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every series of `metric` with its labels (label values as strings) and value. */
export async function metricSamples(metric: AnyMetric): Promise<Sample[]> {
  const m = await metric.get();
  return m.values.map((v) => {
    // histogram series carry their own labels in `sharedLabels` and `le` in `labels`
    const { metricName, sharedLabels } = v as { metricName?: string; sharedLabels?: object };
    const all = { ...sharedLabels, ...v.labels } as Record<string, string | number>;
    const labels = Object.fromEntries(Object.entries(all).map(([k, x]) => [k, String(x)]));
    const name = metricName ?? m.name;
    return { name, labels, value: v.value };
  });
}

function matches(labels: Record<string, string>, filter: Labels): boolean {
  return Object.entries(filter).every(([k, v]) => labels[k] === String(v));
}

/**
 * The value of one series of a counter or gauge (0 when it has none). For a histogram, its observation count.
 */
export async function metricValue<T extends string>(
  metric: Counter<T> | Gauge<T> | Histogram<T>,
  labels: LabelValues<T> = {},
): Promise<number> {
  const want = Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)]));
  const histogram = metric instanceof Histogram;
  for (const s of await metricSamples(metric as AnyMetric)) {
    if (histogram && !s.name.endsWith('_count')) continue;
    const keys = Object.keys(s.labels);
    if (keys.length === Object.keys(want).length && matches(s.labels, want)) return s.value;
  }
  return 0;
}

/** Sum of a counter's or gauge's series, optionally only those whose labels include `filter`. */
export async function metricTotal(metric: Counter | Gauge, filter: Labels = {}): Promise<number> {
  let sum = 0;
  for (const s of await metricSamples(metric)) if (matches(s.labels, filter)) sum += s.value;
  return sum;
}
