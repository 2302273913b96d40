// What both benchmarks (run.ts, scale.ts) read off the operator and write to the sandbox: its Prometheus
// /metrics, its /proc figures, a server-side apply, and what "Ready" means.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { EMQX } from '../src/api/types.ts';
import { APPLY_PATCH } from '../src/k8s/apply.ts';
import type { KubeClient, KubeObject } from '../src/k8s/rest.ts';
import type { OperatorProcess } from '../sandbox/operator.ts';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The operator's health/metrics address, once it has logged it. */
export function healthUrl(op: OperatorProcess): string | undefined {
  try {
    return op.healthUrl();
  } catch {
    return undefined; // no log file yet
  }
}

export async function scrape(op: OperatorProcess): Promise<Sample[]> {
  const base = healthUrl(op);
  if (!base) throw new Error('the operator has not logged its health address');
  const res = await fetch(`${base.replace(/\/+$/, '')}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return parseMetrics(await res.text());
}

/** Sum of `name` by the given label(s), as a map "a<sep>b" → value. */
export function byLabels(
  samples: Sample[],
  name: string,
  labelNames: string[],
  separator = '|',
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = labelNames.map((l) => s.labels[l] ?? '').join(separator);
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** What changed from `before` to `after`, largest first. */
export function delta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out.set(k, d);
  }
  return new Map([...out].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

export interface ProcStat {
  rssKiB: number;
  hwmKiB: number;
  /** RSS split: anonymous memory (heaps, malloc) and file pages (the node binary and libraries). */
  anonKiB: number;
  fileKiB: number;
  cpuSeconds: number;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export function procStat(pid: number): ProcStat {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  // /proc/<pid>/stat: fields after the ")" of the command name; utime and stime are fields 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return {
    rssKiB: kib('VmRSS'),
    hwmKiB: kib('VmHWM'),
    anonKiB: kib('RssAnon'),
    fileKiB: kib('RssFile'),
    cpuSeconds: ticks / CLK_TCK,
  };
}

/** Server-side apply of `obj` as `fieldManager`, forced. */
export async function applyObject(client: KubeClient, obj: KubeObject, fieldManager: string): Promise<void> {
  const ref = {
    apiVersion: obj.apiVersion!,
    kind: obj.kind!,
    namespace: obj.metadata?.namespace,
    name: obj.metadata!.name!,
  };
  await client.request('PATCH', await client.path(ref), {
    query: { fieldManager, force: true },
    body: obj,
    contentType: APPLY_PATCH,
  });
}

/** Ready as `kubectl get emqx` shows it, for the spec the user wrote last. */
export function isReady(e: EMQX | undefined): boolean {
  return (
    e?.status?.phase === 'Ready' &&
    e.status.observedGeneration === e.metadata.generation &&
    (e.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** The `p`th percentile (nearest rank) of `values` (any order); NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
