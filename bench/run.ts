// `npm run bench`: a benchmark script (not a test). Starts the sandbox (real kube-apiserver, etcd,
// kube-controller-manager, kubelet emulator, emulated EMQX nodes) and the operator as a child process, started as the
// image starts it (bin/entrypoint.sh: its Node flags, and the heap cap from the chart's default memory limit), then
// measures and prints:
//   1. apply → Ready for examples/core-replicant.yaml (2 cores + 3 replicants), EMQX emulator at real time, with a
//      timeline that shows where the time goes;
//   2. Kubernetes writes (by verb and kind, Lease listed apart) and EMQX API calls (by endpoint) during an idle
//      window of that Ready cluster, from the operator's own /metrics;
//   3. operator RSS (VmRSS of the child process) idle with that one cluster, then apply → Ready for N more small
//      EMQX resources (1 core + 1 replicant each, one namespace each) applied at once, and RSS and the idle
//      traffic with all of them.
// Every figure is measured by this script and printed by it. See BENCHMARKS.md for a run and its reading.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import type { EMQX } from '../src/api/types.ts';
import { KubeClient, type KubeObject } from '../src/k8s/rest.ts';
import { createEmqxHandler } from '../sandbox/emqx/index.ts';
import type { ImageHandler } from '../sandbox/kubelet/handler.ts';
import { startSandbox, type Sandbox } from '../sandbox/index.ts';
import {
  chartMemoryLimitMiB,
  prepareForOperator,
  startOperatorProcess,
  type OperatorProcess,
} from '../sandbox/operator.ts';
import {
  applyObject as applyAs,
  byLabels,
  delta,
  isReady,
  percentile,
  procStat,
  scrape,
  type Sample,
} from './support.ts';

const applyObject = (client: KubeClient, obj: KubeObject) => applyAs(client, obj, FIELD_MANAGER);

const ROOT = path.resolve(import.meta.dirname, '..');
const FIELD_MANAGER = 'emqx-bench';
const SEED_NS = 'bench-seed';
const MANY_NS_PREFIX = 'bench-many-';
const UPGRADE_NS = 'bench-upgrade';
const UPGRADE_TIME_SCALE = 10;

const HELP = `Usage: npm run bench -- [options]

Measures the operator against the sandbox and prints the figures (see BENCHMARKS.md).

Options:
  --no-upgrade            skip part 4 (the upgrade of a 3 + 3 Enterprise cluster with clients)
  --quick                 skip part 3 (the N-resource run): about 2 minutes instead of 3 to 4
  --count N               EMQX resources applied at once in part 3 (default 50)
  --idle SECONDS          length of each idle window (default 60)
  --ramp-idle SECONDS     length of the idle window after part 3's ramp (default: --idle), e.g. 600 to see
                          whether the RSS settles
  --many-time-scale S     EMQX emulator time scale for the part-3 resources (default 1 = real time; 10 makes
                          emulated boot/retry delays 10x shorter; Kubernetes probe timing is never scaled)
  --timeout SECONDS       give up on a Ready wait after this long (default 300)
  --operator-node-options STR
                          NODE_OPTIONS for the operator process only, e.g. --max-old-space-size=512 to see how
                          much of its RSS is garbage the GC has had no reason to collect (a heap cap there
                          replaces the entry point's)
  --memory-limit MIB      the container memory limit the entry point derives its heap cap from (default: the
                          chart's resources.limits.memory; 0: no cap)
  --dir DIR               sandbox directory; its logs/ (operator.log, kube-apiserver.log, ...) are kept after
                          the run (default .sandbox/bench)
  -h, --help              this help`;

// ---------------------------------------------------------------------------------------------------------- output

const T0 = Date.now();
function stamp(): string {
  return `[${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s]`;
}
function say(line = ''): void {
  process.stdout.write(line === '' ? '\n' : `${stamp()} ${line}\n`);
}
function print(line = ''): void {
  process.stdout.write(line + '\n');
}
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------------- abort/sleep

let aborted = false;
const abortWaiters = new Set<() => void>();
class Aborted extends Error {
  constructor() {
    super('interrupted');
  }
}
function checkAbort(): void {
  if (aborted) throw new Aborted();
}
function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      abortWaiters.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    abortWaiters.add(done);
  }).then(checkAbort);
}

// ---------------------------------------------------------------------------------------------- operator figures

/** Where the operator's memory is, from its own /metrics (prom-client's process collectors). */
function heapLine(samples: Sample[]): string {
  const m = (name: string, space?: string) =>
    (samples.find((x) => x.name === name && (space === undefined || x.labels.space === space))?.value ??
      NaN) /
    2 ** 20;
  const f = (v: number) => v.toFixed(1);
  return `V8 heap used ${f(m('nodejs_heap_size_used_bytes'))} of ${f(m('nodejs_heap_size_total_bytes'))} MiB (old space ${f(m('nodejs_heap_space_size_used_bytes', 'old'))} of ${f(m('nodejs_heap_space_size_total_bytes', 'old'))}, code ${f(m('nodejs_heap_space_size_total_bytes', 'code'))}, new ${f(m('nodejs_heap_space_size_total_bytes', 'new'))}), external ${f(m('nodejs_external_memory_bytes'))} MiB`;
}

function total(samples: Sample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
}

// -------------------------------------------------------------------------------------------------- resources

function seedResource(): EMQX {
  const obj = YAML.parse(readFileSync(path.join(ROOT, 'examples/core-replicant.yaml'), 'utf8')) as EMQX;
  obj.metadata.namespace = SEED_NS;
  return obj;
}

/** The example with 1 core and 1 replicant (everything else as in the example). */
function smallResource(namespace: string): EMQX {
  const obj = seedResource();
  obj.metadata.namespace = namespace;
  obj.spec.coreTemplate!.spec!.replicas = 1;
  obj.spec.replicantTemplate!.spec!.replicas = 1;
  return obj;
}

interface PodLike {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: {
    containers: Array<{
      name: string;
      readinessProbe?: { initialDelaySeconds?: number; periodSeconds?: number };
      startupProbe?: { initialDelaySeconds?: number; periodSeconds?: number };
    }>;
  };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

const podCond = (p: PodLike, type: string) =>
  (p.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');

interface EventLike {
  metadata: { uid: string; namespace?: string };
  reason?: string;
  note?: string;
  reportingController?: string;
  regarding?: { kind?: string; name?: string };
  eventTime?: string;
  series?: { count: number; lastObservedTime: string };
}

async function operatorEvents(client: KubeClient): Promise<Map<string, EventLike>> {
  const list = await client.request<{ items: EventLike[] }>('GET', '/apis/events.k8s.io/v1/events');
  return new Map(
    list.items.filter((e) => e.reportingController === 'emqx-operator').map((e) => [e.metadata.uid, e]),
  );
}

/**
 * Events the operator created or bumped between two listings, grouped by reason, with when the repeat that a
 * bump records was observed (the recorder writes a repeat up to 60 s after it happened).
 */
function eventChanges(
  before: Map<string, EventLike>,
  after: Map<string, EventLike>,
  windowStart: number,
): string[] {
  const groups = new Map<
    string,
    { created: number; bumps: number; observedBefore: number; counts: Set<number> }
  >();
  for (const [uid, e] of after) {
    const old = before.get(uid);
    const count = e.series?.count ?? 1;
    const oldCount = old ? (old.series?.count ?? 1) : 0;
    if (old && count === oldCount) continue;
    const key = `${e.reason ?? '?'} on ${e.regarding?.kind ?? '?'}: "${(e.note ?? '').slice(0, 90)}"`;
    const g = groups.get(key) ?? { created: 0, bumps: 0, observedBefore: 0, counts: new Set<number>() };
    g.counts.add(count);
    if (!old) g.created++;
    else {
      g.bumps++;
      const observed = Date.parse(e.series?.lastObservedTime ?? '');
      if (observed < windowStart) g.observedBefore++;
    }
    groups.set(key, g);
  }
  return [...groups].map(
    ([k, g]) =>
      `${k}: ${g.created ? `${g.created} created` : ''}${g.created && g.bumps ? ', ' : ''}${
        g.bumps
          ? `${g.bumps} series bumped (${g.observedBefore} of them record a repeat observed before the window)`
          : ''
      }; series count now ${[...g.counts].sort((a, b) => a - b).join('/')}`,
  );
}

// ------------------------------------------------------------------------------------------------------- parts

interface Ctx {
  sb: Sandbox;
  op: OperatorProcess;
  client: KubeClient;
  timeoutMs: number;
  idleMs: number;
  summary: string[];
}

/** Part 1: apply the example, follow it to Ready, print the timeline. */
async function partSeed(ctx: Ctx): Promise<void> {
  const { client } = ctx;
  say('part 1: apply examples/core-replicant.yaml (2 cores + 3 replicants, EMQX emulator at real time)');
  await applyObject(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SEED_NS } });
  const events: Array<{ at: number; what: string }> = [];
  const seen = new Map<
    string,
    { created?: number; containersReady?: number; ready?: number; role: string }
  >();
  type ProbeLike = { initialDelaySeconds?: number; periodSeconds?: number };
  let probes: { readiness?: ProbeLike; startup?: ProbeLike } | undefined;
  const t0 = Date.now();
  await applyObject(client, seedResource() as never);
  const rel = () => Date.now() - t0;
  let lastPhase = '';
  let ready: EMQX | undefined;
  while (!ready) {
    checkAbort();
    if (rel() > ctx.timeoutMs) throw new Error(`${SEED_NS}/emqx not Ready after ${sec(ctx.timeoutMs)}`);
    const [e, pods] = await Promise.all([
      client
        .request<EMQX>('GET', `/apis/apps.emqx.io/v2beta1/namespaces/${SEED_NS}/emqxes/emqx`)
        .catch(() => undefined),
      client.request<{ items: PodLike[] }>('GET', `/api/v1/namespaces/${SEED_NS}/pods`),
    ]);
    const now = rel();
    const phase = e?.status?.phase ?? '(no status yet)';
    if (phase !== lastPhase) {
      events.push({ at: now, what: `EMQX phase ${phase}` });
      say(`  +${sec(now)} phase ${phase}`);
      lastPhase = phase;
    }
    for (const p of pods.items) {
      if (p.metadata.deletionTimestamp) continue;
      const role = p.metadata.labels?.['apps.emqx.io/db-role'] ?? '?';
      let s = seen.get(p.metadata.name);
      if (!s) {
        s = { created: now, role };
        seen.set(p.metadata.name, s);
        events.push({ at: now, what: `pod ${p.metadata.name} (${role}) created` });
        const c = p.spec.containers.find((x) => x.name === 'emqx');
        probes ??= { readiness: c?.readinessProbe, startup: c?.startupProbe };
      }
      if (s.containersReady === undefined && podCond(p, 'ContainersReady')) {
        s.containersReady = now;
        events.push({ at: now, what: `pod ${p.metadata.name} (${role}) readiness probe passed` });
      }
      if (s.ready === undefined && podCond(p, 'Ready')) {
        s.ready = now;
        events.push({ at: now, what: `pod ${p.metadata.name} (${role}) Ready (probe + on-serving gate)` });
      }
    }
    if (isReady(e)) ready = e;
    else await sleep(250);
  }
  const readyMs = rel();
  say(`  EMQX ${SEED_NS}/emqx Ready after ${sec(readyMs)}`);
  print();
  print(`Part 1 timeline (from the apply; polled every 250 ms, so each time is up to ~0.3 s late):`);
  for (const ev of events) print(`  +${sec(ev.at).padStart(7)}  ${ev.what}`);
  const phaseOf = (role: string) => {
    const pods = [...seen.values()].filter((s) => s.role === role);
    const min = (k: 'created' | 'containersReady' | 'ready') =>
      Math.min(...pods.map((s) => s[k] ?? Infinity));
    const max = (k: 'created' | 'containersReady' | 'ready') =>
      Math.max(...pods.map((s) => s[k] ?? Infinity));
    return {
      n: pods.length,
      created: min('created'),
      probeMax: Math.max(...pods.map((s) => (s.containersReady ?? Infinity) - (s.created ?? 0))),
      probeMin: Math.min(...pods.map((s) => (s.containersReady ?? Infinity) - (s.created ?? 0))),
      lastReady: max('ready'),
    };
  };
  const core = phaseOf('core');
  const rep = phaseOf('replicant');
  const probeText = (probe: ProbeLike | undefined) =>
    probe
      ? `initialDelaySeconds ${probe.initialDelaySeconds ?? 0}, periodSeconds ${probe.periodSeconds ?? 10}`
      : 'none';
  const firstCreated = Math.min(core.created, rep.created);
  const lastProbe = Math.max(core.created + core.probeMax, rep.created + rep.probeMax);
  const lines = [
    `1. apply → Ready, 2 cores + 3 replicants, emulator timeScale 1: ${sec(readyMs)}`,
    `   probes of the emqx container: startup ${probeText(probes?.startup)}; readiness ${probeText(probes?.readiness)}`,
    `   core pods (${core.n}):      first created +${sec(core.created)}, created → probe passed ${sec(core.probeMin)}..${sec(core.probeMax)}, last Ready +${sec(core.lastReady)}`,
    `   replicant pods (${rep.n}): first created +${sec(rep.created)}, created → probe passed ${sec(rep.probeMin)}..${sec(rep.probeMax)}, last Ready +${sec(rep.lastReady)}`,
    `   waiting on pods (first pod created → last readiness probe passed): ${sec(lastProbe - firstCreated)} of ${sec(readyMs)} (${Math.round(((lastProbe - firstCreated) / readyMs) * 100)} %)`,
    `   last pod Ready → EMQX Ready: ${sec(readyMs - Math.max(core.lastReady, rep.lastReady))}`,
  ];
  print();
  for (const l of lines) print(l);
  ctx.summary.push(...lines);
}

interface IdleResult {
  lines: string[];
}

/** An idle window: metric deltas, RSS samples, CPU time. */
async function idleWindow(ctx: Ctx, label: string, idleMs = ctx.idleMs): Promise<IdleResult> {
  const { op } = ctx;
  const pid = op.child.pid!;
  say(`${label}: idle window of ${sec(idleMs)} (sampling RSS and /metrics every 5 s)`);
  const ev0 = await operatorEvents(ctx.client);
  const m0 = await scrape(op);
  const p0 = procStat(pid);
  const t0 = Date.now();
  const rss: number[] = [p0.rssKiB];
  const rssAt: Array<[number, number]> = [[0, p0.rssKiB]];
  let prevWrites = byLabels(m0, 'emqx_operator_kube_writes_total', ['verb', 'kind']);
  const bursts: string[] = [];
  while (Date.now() - t0 < idleMs) {
    await sleep(Math.min(5000, idleMs - (Date.now() - t0)));
    const m = await scrape(op);
    rss.push(procStat(pid).rssKiB);
    rssAt.push([Date.now() - t0, rss.at(-1)!]);
    const w = byLabels(m, 'emqx_operator_kube_writes_total', ['verb', 'kind']);
    const d = delta(prevWrites, w);
    prevWrites = w;
    const at = `+${sec(Date.now() - t0)}`;
    const text = [...d].map(([k, v]) => `${k.replace('|', ' ')} ×${v}`).join(', ');
    if (text) bursts.push(`${at}: ${text}`);
    process.stdout.write(
      `${stamp()}   ${at.padStart(7)}  RSS ${mib(rss.at(-1)!)}${text ? `  writes: ${text}` : ''}\n`,
    );
  }
  const m1 = await scrape(op);
  const p1 = procStat(pid);
  const elapsed = Date.now() - t0;
  const eventLines = eventChanges(ev0, await operatorEvents(ctx.client), t0);
  rss.push(p1.rssKiB);

  const writes = delta(
    byLabels(m0, 'emqx_operator_kube_writes_total', ['verb', 'kind']),
    byLabels(m1, 'emqx_operator_kube_writes_total', ['verb', 'kind']),
  );
  const leaseWrites = [...writes].filter(([k]) => k.endsWith('|Lease'));
  const otherWrites = [...writes].filter(([k]) => !k.endsWith('|Lease'));
  const calls = delta(
    byLabels(m0, 'emqx_operator_emqx_api_requests_total', ['endpoint']),
    byLabels(m1, 'emqx_operator_emqx_api_requests_total', ['endpoint']),
  );
  const outcomes = delta(
    byLabels(m0, 'emqx_operator_emqx_api_requests_total', ['outcome']),
    byLabels(m1, 'emqx_operator_emqx_api_requests_total', ['outcome']),
  );
  const latSum =
    total(m1, 'emqx_operator_emqx_api_request_duration_seconds_sum') -
    total(m0, 'emqx_operator_emqx_api_request_duration_seconds_sum');
  const latCount =
    total(m1, 'emqx_operator_emqx_api_request_duration_seconds_count') -
    total(m0, 'emqx_operator_emqx_api_request_duration_seconds_count');
  const reconciles = delta(
    byLabels(m0, 'emqx_operator_reconcile_total', ['kind', 'result']),
    byLabels(m1, 'emqx_operator_reconcile_total', ['kind', 'result']),
  );
  const callTotal = [...calls.values()].reduce((a, b) => a + b, 0);
  const otherTotal = otherWrites.reduce((a, [, v]) => a + v, 0);
  const leaseTotal = leaseWrites.reduce((a, [, v]) => a + v, 0);
  const fmt = (entries: Array<[string, number]>) =>
    entries.length ? entries.map(([k, v]) => `${k.replace('|', ' ')} ${v}`).join(', ') : 'none';
  const lines = [
    `${label}, ${sec(elapsed)} idle:`,
    `   Kubernetes writes other than Lease: ${otherTotal}${otherTotal ? ` (${fmt(otherWrites)})` : ''}`,
    `   Lease writes (leader-election renewals): ${leaseTotal}${leaseTotal ? ` (${fmt(leaseWrites)})` : ''}`,
    `   EMQX API calls: ${callTotal} (${((callTotal / elapsed) * 1000).toFixed(2)}/s; outcomes: ${fmt([...outcomes])}; mean latency ${latCount ? `${((latSum / latCount) * 1000).toFixed(1)} ms` : '-'})`,
    ...[...calls].map(([k, v]) => `      ${String(v).padStart(5)}  ${k}`),
    `   reconciles: ${fmt([...reconciles])}`,
    `   operator RSS: ${mib(p0.rssKiB)} at the start, ${mib(p1.rssKiB)} at the end (min ${mib(Math.min(...rss))}, max ${mib(Math.max(...rss))} over ${rss.length} samples); peak so far (VmHWM) ${mib(p1.hwmKiB)}`,
    `   operator memory at the end: RSS anonymous ${mib(p1.anonKiB)}, file-backed ${mib(p1.fileKiB)}; ${heapLine(m1)}`,
    `   operator CPU: ${(p1.cpuSeconds - p0.cpuSeconds).toFixed(2)} s over the window (${(((p1.cpuSeconds - p0.cpuSeconds) / elapsed) * 100000).toFixed(1)} % of one core)`,
  ];
  if (elapsed >= 120_000) {
    // a long window: RSS every 30 s, to show whether it settles or grows
    const every30: string[] = [];
    for (let t = 0; t <= elapsed; t += 30_000) {
      const sample = rssAt.find(([at]) => at >= t);
      if (sample) every30.push(`${Math.round(sample[0] / 1000)} s ${(sample[1] / 1024).toFixed(1)}`);
    }
    lines.push(`   operator RSS every 30 s (MiB): ${every30.join(', ')}`);
  }
  if (bursts.length) lines.push(`   when the writes happened (5 s buckets): ${bursts.join('; ')}`);
  if (eventLines.length) {
    lines.push(`   Events the operator created or bumped in the window (from events.k8s.io/v1):`);
    for (const l of eventLines) lines.push(`      ${l}`);
  }
  print();
  for (const l of lines) print(l);
  print();
  ctx.summary.push(...lines);
  return { lines };
}

/** Part 3: N small resources applied at once. */
async function partMany(ctx: Ctx, count: number, timeScale: number): Promise<void> {
  const { client, op } = ctx;
  const pid = op.child.pid!;
  say(
    `part 3: ${count} EMQX resources (1 core + 1 replicant each, namespaces ${MANY_NS_PREFIX}01..${String(count).padStart(2, '0')}), emulator timeScale ${timeScale}`,
  );
  const names = Array.from({ length: count }, (_, i) => `${MANY_NS_PREFIX}${String(i + 1).padStart(2, '0')}`);
  await Promise.all(
    names.map((ns) => applyObject(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })),
  );
  const before = procStat(pid);
  const m0 = await scrape(op);
  say(`  namespaces created; applying ${count} EMQX resources at once`);
  const t0 = Date.now();
  await Promise.all(names.map((ns) => applyObject(client, smallResource(ns) as never)));
  const applyMs = Date.now() - t0;
  const readyAt = new Map<string, number>();
  /** When the operator's first status (any phase) was seen: how long the resource waited to be picked up. */
  const statusAt = new Map<string, number>();
  let maxRss = before.rssKiB;
  let lastReport = 0;
  while (readyAt.size < count) {
    checkAbort();
    const now = Date.now() - t0;
    if (now > ctx.timeoutMs) {
      const missing = names.filter((n) => !readyAt.has(n));
      say(
        `  giving up: ${missing.length} of ${count} not Ready after ${sec(ctx.timeoutMs)} (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})`,
      );
      break;
    }
    const list = await client.request<{ items: EMQX[] }>('GET', '/apis/apps.emqx.io/v2beta1/emqxes');
    const t = Date.now() - t0;
    for (const e of list.items) {
      const ns = e.metadata.namespace!;
      if (!ns.startsWith(MANY_NS_PREFIX)) continue;
      if (!statusAt.has(ns) && e.status?.phase) statusAt.set(ns, t);
      if (!readyAt.has(ns) && isReady(e)) readyAt.set(ns, t);
    }
    maxRss = Math.max(maxRss, procStat(pid).rssKiB);
    if (t - lastReport >= 5000 || readyAt.size === count) {
      lastReport = t;
      const phases = new Map<string, number>();
      for (const e of list.items) {
        if (!e.metadata.namespace!.startsWith(MANY_NS_PREFIX)) continue;
        const ph = e.status?.phase ?? '(none)';
        phases.set(ph, (phases.get(ph) ?? 0) + 1);
      }
      say(
        `  +${sec(t)} Ready ${readyAt.size}/${count}  [${[...phases].map(([k, v]) => `${k} ${v}`).join(', ')}]  operator RSS ${mib(procStat(pid).rssKiB)}`,
      );
    }
    if (readyAt.size < count) await sleep(500);
  }
  const times = [...readyAt.values()].sort((a, b) => a - b);
  const picked = [...statusAt.values()].sort((a, b) => a - b);
  const pickedText = picked.length
    ? `first ${sec(picked[0]!)}, median ${sec(percentile(picked, 50))}, last ${sec(picked.at(-1)!)}${picked.length < count ? ` (${picked.length} of ${count})` : ''}`
    : 'never';
  const readyText =
    times.length === 0
      ? `none Ready within ${sec(ctx.timeoutMs)}`
      : `first Ready ${sec(times[0]!)}, median ${sec(percentile(times, 50))}, p90 ${sec(percentile(times, 90))}, last ${sec(times.at(-1)!)}${times.length < count ? ` (only ${times.length} of ${count} Ready within ${sec(ctx.timeoutMs)}; median/p90/last of those)` : ''}`;
  const m1 = await scrape(op);
  const after = procStat(pid);
  const writes = delta(
    byLabels(m0, 'emqx_operator_kube_writes_total', ['verb', 'kind']),
    byLabels(m1, 'emqx_operator_kube_writes_total', ['verb', 'kind']),
  );
  const calls = delta(
    byLabels(m0, 'emqx_operator_emqx_api_requests_total', ['endpoint']),
    byLabels(m1, 'emqx_operator_emqx_api_requests_total', ['endpoint']),
  );
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const lines = [
    `3. ${count} EMQX resources (1 core + 1 replicant each) applied at once, emulator timeScale ${timeScale}${timeScale === 1 ? ' (real time)' : ''}:`,
    `   applies took ${sec(applyMs)}; from the first apply (polled every 0.5 s): ${readyText}`,
    `   first status written by the operator (pick-up): ${pickedText}`,
    `   during the ramp: ${sum(writes)} Kubernetes writes, ${(sum(writes) / count).toFixed(1)} per resource (${[
      ...writes,
    ]
      .map(([k, v]) => `${k.replace('|', ' ')} ${v}`)
      .join(
        ', ',
      )}), ${sum(calls)} EMQX API calls, operator CPU ${(after.cpuSeconds - before.cpuSeconds).toFixed(1)} s`,
    `   operator RSS: ${mib(before.rssKiB)} before, max sampled ${mib(maxRss)} during the ramp, ${mib(after.rssKiB)} at the end; VmHWM ${mib(after.hwmKiB)}`,
  ];
  print();
  for (const l of lines) print(l);
  print();
  ctx.summary.push(...lines);
}

// -------------------------------------------------------------------------------------------------------- main

/**
 * Part 4: the upgrade of issue 6: Enterprise 5.8.3 → 5.8.4, 3 cores + 3 replicants, 100 clients on every node,
 * default probes and evacuation strategy, EMQX time ×UPGRADE_TIME_SCALE (evacuation waits are EMQX's, not ours).
 * Splits the wall time into pod start-up on the critical path (cores one after another, then the replicants
 * together), evacuation (any node of the cluster evacuating) and the rest: the operator's own added time.
 */
async function partUpgrade(ctx: Ctx, handler: ReturnType<typeof createEmqxHandler>): Promise<void> {
  const { client } = ctx;
  say(
    `part 4: upgrade 5.8.3 → 5.8.4 of 3 cores + 3 replicants with 100 clients each (EMQX time ×${UPGRADE_TIME_SCALE})`,
  );
  await applyObject(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: UPGRADE_NS } });
  const resource = {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace: UPGRADE_NS },
    spec: {
      image: 'emqx/emqx-enterprise:5.8.3',
      coreTemplate: { spec: { replicas: 3 } },
      replicantTemplate: { spec: { replicas: 3 } },
    },
  };
  await applyObject(client, resource as KubeObject);
  const get = async () =>
    (await client.get({
      apiVersion: 'apps.emqx.io/v2beta1',
      kind: 'EMQX',
      namespace: UPGRADE_NS,
      name: 'emqx',
    })) as EMQX | undefined;
  const deadline = Date.now() + ctx.timeoutMs;
  while (!isReady(await get())) {
    if (Date.now() > deadline) throw new Error('part 4: the cluster did not become Ready');
    checkAbort();
    await sleep(500);
  }
  const fabric = handler.fabric;
  const mine = () => fabric.nodes().filter((n) => n.pod?.startsWith(`${UPGRADE_NS}/`));
  for (const n of mine()) fabric.setClients(n.name, { connections: 100 });
  const before = fabric
    .counts()
    .nodes.filter((n) => mine().some((m) => m.name === n.name))
    .reduce((a, n) => a + n.connections, 0);
  say(`  Ready; ${before} clients on ${mine().length} nodes; changing the image`);

  const t0 = Date.now();
  await client.request('PATCH', `/apis/apps.emqx.io/v2beta1/namespaces/${UPGRADE_NS}/emqxes/emqx`, {
    body: { spec: { image: 'emqx/emqx-enterprise:5.8.4' } },
    contentType: 'application/merge-patch+json',
  });
  let evacuatingMs = 0;
  let last = Date.now();
  let done: EMQX | undefined;
  while (!done) {
    if (Date.now() > t0 + ctx.timeoutMs) throw new Error('part 4: the upgrade did not finish');
    checkAbort();
    await sleep(100);
    const now = Date.now();
    if (mine().some((n) => n.evacuation !== undefined && n.evacuation !== 'prohibiting'))
      evacuatingMs += now - last;
    last = now;
    const e = await get();
    const nodes = [...(e?.status?.coreNodes ?? []), ...(e?.status?.replicantNodes ?? [])];
    if (isReady(e) && nodes.length === 6 && nodes.every((n) => n.version === '5.8.4')) done = e;
  }
  const totalMs = Date.now() - t0;
  const pods = (await client.list('v1', 'Pod', { namespace: UPGRADE_NS })).items as unknown as Array<{
    metadata: { name: string; creationTimestamp: string; labels?: Record<string, string> };
    status?: { conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }> };
  }>;
  const startup = (p: (typeof pods)[number]) => {
    const ready = p.status?.conditions?.find((c) => c.type === 'ContainersReady' && c.status === 'True');
    return ready?.lastTransitionTime
      ? Date.parse(ready.lastTransitionTime) - Date.parse(p.metadata.creationTimestamp)
      : 0;
  };
  const fresh = pods.filter((p) => Date.parse(p.metadata.creationTimestamp) >= t0 - 1000);
  const coreStartup = fresh
    .filter((p) => p.metadata.labels?.['apps.emqx.io/db-role'] === 'core')
    .reduce((a, p) => a + startup(p), 0);
  const replStartup = Math.max(
    0,
    ...fresh.filter((p) => p.metadata.labels?.['apps.emqx.io/db-role'] === 'replicant').map(startup),
  );
  const podMs = coreStartup + replStartup;
  const after = fabric
    .counts()
    .nodes.filter((n) => mine().some((m) => m.name === n.name))
    .reduce((a, n) => a + n.connections, 0);
  const own = Math.max(0, totalMs - podMs - evacuatingMs);
  ctx.summary.push(
    `4. upgrade 5.8.3 → 5.8.4, 3 cores + 3 replicants, ${before} clients (EMQX time ×${UPGRADE_TIME_SCALE}): ${sec(totalMs)} in all; ` +
      `pod start-up on the critical path ${sec(podMs)} (3 cores in turn ${sec(coreStartup)}, replicants ${sec(replStartup)}); ` +
      `node evacuation ${sec(evacuatingMs)}; the operator's own added time ${sec(own)}; ` +
      `clients after ${after}, dropped ${fabric.droppedConnectionsIn(UPGRADE_NS)}`,
  );
  say(`  ${ctx.summary[ctx.summary.length - 1]}`);
  void done;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      options: {
        quick: { type: 'boolean', default: false },
        'no-upgrade': { type: 'boolean', default: false },
        count: { type: 'string', default: '50' },
        idle: { type: 'string', default: '60' },
        'ramp-idle': { type: 'string' },
        'many-time-scale': { type: 'string', default: '1' },
        timeout: { type: 'string', default: '300' },
        dir: { type: 'string', default: path.join(ROOT, '.sandbox/bench') },
        'operator-node-options': { type: 'string' },
        'memory-limit': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  if (values.help) {
    print(HELP);
    return 0;
  }
  const num = (flag: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${flag}: expected a number >= ${min}, got "${v}"`);
    return n;
  };
  const count = Math.floor(num('count', values.count!, 1));
  const idleMs = num('idle', values.idle!, 1) * 1000;
  const rampIdleMs =
    values['ramp-idle'] === undefined ? idleMs : num('ramp-idle', values['ramp-idle'], 1) * 1000;
  const manyScale = num('many-time-scale', values['many-time-scale']!, 1);
  const timeoutMs = num('timeout', values.timeout!, 10) * 1000;

  let sb: Sandbox | undefined;
  let op: OperatorProcess | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (aborted) {
      process.stderr.write(`bench: ${signal} again, exiting without a clean stop\n`);
      process.exit(130);
    }
    aborted = true;
    process.stderr.write(`\nbench: ${signal}: stopping (again to force)\n`);
    for (const w of [...abortWaiters]) w();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Last resort: the operator child has no parent-death signal of its own.
  process.on('exit', () => {
    if (op && op.child.exitCode === null && op.child.signalCode === null) op.child.kill('SIGKILL');
  });

  const summary: string[] = [];
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  const machine = [
    `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, kernel ${os.release()}`,
  ];
  let commit = 'unknown (not a git checkout)';
  try {
    const git = (...a: string[]) => execFileSync('git', ['-C', ROOT, ...a], { encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--', 'src', 'sandbox', 'deploy', 'examples');
    commit = `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted changes in src/, sandbox/, deploy/ or examples/' : ''}`;
  } catch {
    // no git
  }
  machine.push(`code: ${commit}`);
  print(`emqx-operator benchmark (${new Date().toISOString()})`);
  print(machine[1]);
  print(machine[0]);
  print(`load average at the start: ${load()}`);
  print();
  try {
    // Real time for the seed cluster; the part-3 namespaces may get a faster emulator (one handler picks by namespace).
    const real = createEmqxHandler({ timeScale: 1 });
    const fast = manyScale === 1 ? real : createEmqxHandler({ timeScale: manyScale });
    const upgradeHandler = createEmqxHandler({ timeScale: UPGRADE_TIME_SCALE });
    const handler: ImageHandler = {
      name: 'emqx-bench',
      matches: (image) => real.matches(image),
      start: (c) =>
        (c.pod.metadata?.namespace === UPGRADE_NS
          ? upgradeHandler
          : c.pod.metadata?.namespace?.startsWith(MANY_NS_PREFIX)
            ? fast
            : real
        ).start(c),
    };
    say(`starting the sandbox in ${path.relative(process.cwd(), values.dir!) || values.dir}`);
    sb = await startSandbox({ dir: values.dir!, handlers: [handler], log: (l) => say(`  ${l}`) });
    checkAbort();
    await prepareForOperator(sb);
    const nodeOptions = values['operator-node-options'];
    const savedNodeOptions = process.env.NODE_OPTIONS;
    if (nodeOptions !== undefined) process.env.NODE_OPTIONS = nodeOptions; // spawn copies the environment now
    try {
      const limit = values['memory-limit'] ?? String(chartMemoryLimitMiB());
      // 0: no cap (the entry point derives none from an empty limit).
      process.env.EMQX_OPERATOR_MEMORY_LIMIT_MIB = limit === '0' ? '' : limit;
      machine.push(
        `operator started as the image: bin/entrypoint.sh, memory limit ${limit === '0' ? 'none' : `${limit} MiB`}`,
      );
      op = startOperatorProcess(sb, { name: 'operator', logLevel: 'info', asImage: true });
    } finally {
      delete process.env.EMQX_OPERATOR_MEMORY_LIMIT_MIB;
      if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = savedNodeOptions;
    }
    if (nodeOptions !== undefined) machine.push(`operator NODE_OPTIONS: ${nodeOptions}`);
    const startedAt = Date.now();
    for (;;) {
      if (op.child.exitCode !== null) throw new Error(`the operator exited with ${op.child.exitCode}`);
      if (Date.now() - startedAt > 60_000) throw new Error('the operator did not start leading within 60 s');
      let url: string | undefined;
      try {
        url = op.healthUrl();
      } catch {
        // the log file is created on the first line
      }
      if (url) {
        const m = await scrape(op).catch(() => []);
        if (total(m, 'emqx_operator_leading') === 1) break;
      }
      await sleep(200);
    }
    const base = procStat(op.child.pid!);
    say(
      `operator pid ${op.child.pid} leading after ${sec(Date.now() - startedAt)}; RSS with no EMQX resource ${mib(base.rssKiB)}`,
    );
    summary.push(`0. operator RSS with no EMQX resource, just started: ${mib(base.rssKiB)}`);
    summary.push(
      `   RSS anonymous ${mib(base.anonKiB)}, file-backed ${mib(base.fileKiB)}; ${heapLine(await scrape(op))}`,
    );
    const ctx: Ctx = { sb, op, client: new KubeClient(sb.kubeConfig), timeoutMs, idleMs, summary };

    await partSeed(ctx);
    await idleWindow(ctx, '2. the Ready example cluster (1 EMQX resource, 5 pods)');
    if (!values['no-upgrade']) await partUpgrade(ctx, upgradeHandler);
    if (!values.quick) {
      await partMany(ctx, count, manyScale);
      await idleWindow(ctx, `3b. all ${count + 1} EMQX resources Ready (${2 * count + 5} pods)`, rampIdleMs);
    }
    print('='.repeat(100));
    print(`summary (${new Date().toISOString()})`);
    for (const l of machine) print(l);
    print(`load average at the end: ${load()} (the machine is shared: figures are noisy)`);
    for (const l of summary) print(l);
    print(`operator log: ${path.relative(process.cwd(), path.join(sb.logsDir, 'operator.log'))}`);
    return 0;
  } catch (err) {
    if (err instanceof Aborted) return 130;
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    if (sb) process.stderr.write(`bench: logs in ${sb.logsDir}\n`);
    return 1;
  } finally {
    say('stopping the operator and the sandbox');
    await op?.stop().catch(() => {});
    await sb?.stop().catch(() => {});
    say('stopped');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

process.exitCode = await main();
