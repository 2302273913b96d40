// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text exposition format
// 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Registering a metric name twice returns the existing metric when type, help-independent label names and (for
// histograms) buckets agree, and throws otherwise; so a module can define its metrics at load time and several
// instances of a component can share them.

export type Labels = Record<string, string | number | boolean>;

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface HistogramOptions extends MetricOptions {
  buckets?: readonly number[];
}

type MetricType = 'counter' | 'gauge' | 'histogram';

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: MetricType;

  constructor(opts: MetricOptions) {
    if (!NAME_RE.test(opts.name))
      throw new Error(`metric name "${opts.name}" is not a valid Prometheus name`);
    for (const l of opts.labelNames ?? []) {
      if (!LABEL_RE.test(l) || l.startsWith('__'))
        throw new Error(`metric ${opts.name}: invalid label name "${l}"`);
    }
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = [...(opts.labelNames ?? [])];
  }

  /** Canonical key of a label set; throws on labels the metric does not declare or a missing one. */
  protected key(labels: Labels | undefined): string {
    const given = labels ?? {};
    for (const k of Object.keys(given)) {
      if (!this.labelNames.includes(k)) throw new Error(`metric ${this.name}: unknown label "${k}"`);
    }
    return JSON.stringify(
      this.labelNames.map((n) => {
        const v = given[n];
        if (v === undefined) throw new Error(`metric ${this.name}: missing label "${n}"`);
        return String(v);
      }),
    );
  }

  protected renderLabels(key: string, extra?: [string, string]): string {
    const values = JSON.parse(key) as string[];
    const parts = this.labelNames.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? '')}"`);
    if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
    return parts.length ? `{${parts.join(',')}}` : '';
  }

  protected header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }

  abstract render(): string;
  abstract reset(): void;
}

export class Counter extends Metric {
  readonly type = 'counter';
  private readonly values = new Map<string, number>();

  inc(labels?: Labels, value = 1): void {
    if (!(value >= 0)) throw new Error(`counter ${this.name}: cannot increase by ${value}`);
    const k = this.key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + value);
  }

  get(labels?: Labels): number {
    return this.values.get(this.key(labels)) ?? 0;
  }

  /** Sum over every label set, optionally only those matching `filter` (a subset of labels). */
  total(filter: Labels = {}): number {
    let sum = 0;
    for (const [k, v] of this.values) {
      if (this.matches(k, filter)) sum += v;
    }
    return sum;
  }

  /** Every label set with its value. */
  entries(): Array<{ labels: Record<string, string>; value: number }> {
    return [...this.values].map(([k, value]) => ({ labels: this.labelsOf(k), value }));
  }

  protected matches(key: string, filter: Labels): boolean {
    const labels = this.labelsOf(key);
    return Object.entries(filter).every(([n, v]) => labels[n] === String(v));
  }

  protected labelsOf(key: string): Record<string, string> {
    const values = JSON.parse(key) as string[];
    return Object.fromEntries(this.labelNames.map((n, i) => [n, values[i] ?? '']));
  }

  render(): string {
    let out = this.header();
    for (const [k, v] of this.values) out += `${this.name}${this.renderLabels(k)} ${formatValue(v)}\n`;
    return out;
  }

  reset(): void {
    this.values.clear();
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge';
  private readonly values = new Map<string, number>();

  set(labels: Labels | undefined, value: number): void {
    this.values.set(this.key(labels), value);
  }

  inc(labels?: Labels, value = 1): void {
    const k = this.key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + value);
  }

  dec(labels?: Labels, value = 1): void {
    this.inc(labels, -value);
  }

  get(labels?: Labels): number {
    return this.values.get(this.key(labels)) ?? 0;
  }

  /** Drops one label set (e.g. when the object it describes is deleted). */
  remove(labels?: Labels): void {
    this.values.delete(this.key(labels));
  }

  render(): string {
    let out = this.header();
    for (const [k, v] of this.values) out += `${this.name}${this.renderLabels(k)} ${formatValue(v)}\n`;
    return out;
  }

  reset(): void {
    this.values.clear();
  }
}

interface HistogramSeries {
  counts: number[]; // per bucket, not cumulative
  sum: number;
  count: number;
}

export class Histogram extends Metric {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  private readonly series = new Map<string, HistogramSeries>();

  constructor(opts: HistogramOptions) {
    super(opts);
    if (this.labelNames.includes('le')) throw new Error(`histogram ${opts.name}: "le" is a reserved label`);
    const b = [...(opts.buckets ?? DEFAULT_BUCKETS)].filter((x) => x !== Infinity);
    for (let i = 1; i < b.length; i++) {
      if (!(b[i]! > b[i - 1]!)) throw new Error(`histogram ${opts.name}: buckets must increase`);
    }
    this.buckets = b;
  }

  observe(labels: Labels | undefined, value: number): void {
    const k = this.key(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** Starts a timer; calling the result observes the elapsed seconds (and returns them). */
  startTimer(labels?: Labels): (moreLabels?: Labels) => number {
    const start = performance.now();
    return (moreLabels?: Labels) => {
      const seconds = (performance.now() - start) / 1000;
      this.observe({ ...labels, ...moreLabels }, seconds);
      return seconds;
    };
  }

  get(labels?: Labels): { count: number; sum: number; buckets: Array<[number, number]> } {
    const s = this.series.get(this.key(labels));
    let acc = 0;
    const buckets = this.buckets.map((b, i): [number, number] => [b, (acc += s?.counts[i] ?? 0)]);
    buckets.push([Infinity, s?.count ?? 0]);
    return { count: s?.count ?? 0, sum: s?.sum ?? 0, buckets };
  }

  render(): string {
    let out = this.header();
    for (const [k, s] of this.series) {
      let acc = 0;
      this.buckets.forEach((b, i) => {
        acc += s.counts[i]!;
        out += `${this.name}_bucket${this.renderLabels(k, ['le', formatValue(b)])} ${acc}\n`;
      });
      out += `${this.name}_bucket${this.renderLabels(k, ['le', '+Inf'])} ${s.count}\n`;
      out += `${this.name}_sum${this.renderLabels(k)} ${formatValue(s.sum)}\n`;
      out += `${this.name}_count${this.renderLabels(k)} ${s.count}\n`;
    }
    return out;
  }

  reset(): void {
    this.series.clear();
  }
}

type AnyMetric = Counter | Gauge | Histogram;

export class Registry {
  private readonly metrics = new Map<string, AnyMetric>();

  counter(opts: MetricOptions): Counter {
    return this.register(opts, 'counter', () => new Counter(opts)) as Counter;
  }

  gauge(opts: MetricOptions): Gauge {
    return this.register(opts, 'gauge', () => new Gauge(opts)) as Gauge;
  }

  histogram(opts: HistogramOptions): Histogram {
    const h = this.register(opts, 'histogram', () => new Histogram(opts)) as Histogram;
    if (
      opts.buckets &&
      JSON.stringify(h.buckets) !== JSON.stringify(opts.buckets.filter((b) => b !== Infinity))
    ) {
      throw new Error(`metric ${opts.name} is already registered with other buckets`);
    }
    return h;
  }

  get(name: string): AnyMetric | undefined {
    return this.metrics.get(name);
  }

  /** The whole registry in the text exposition format, metrics sorted by name. */
  render(): string {
    return [...this.metrics.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((m) => m.render())
      .join('');
  }

  /** Zeroes every metric (tests). */
  resetAll(): void {
    for (const m of this.metrics.values()) m.reset();
  }

  private register(opts: MetricOptions, type: MetricType, make: () => AnyMetric): AnyMetric {
    const existing = this.metrics.get(opts.name);
    if (existing) {
      const sameLabels = JSON.stringify(existing.labelNames) === JSON.stringify(opts.labelNames ?? []);
      if (existing.type !== type || !sameLabels) {
        throw new Error(
          `metric ${opts.name} is already registered as a ${existing.type} with labels [${existing.labelNames.join(',')}]`,
        );
      }
      return existing;
    }
    const m = make();
    this.metrics.set(opts.name, m);
    return m;
  }
}

/** The process-wide registry that `/metrics` serves by default and the runtime modules register on. */
export const defaultRegistry = new Registry();
