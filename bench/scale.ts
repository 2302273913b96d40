// `npm run bench:scale`: the scale benchmark of issue 14 (a script, not a test). Starts the sandbox and the operator
// (unchanged, as a child process, as `npm run bench` does: through the image's entry point with the chart's memory
// limit) and measures, for N EMQX resources (default 200; one core, no replicants, one namespace each, EMQX emulator
// time ×S; times from watches of the resources, sets and pods):
//   A. a burst: all N applied at once; per resource, pick-up (its first status written, from its own apply), Ready,
//      and its pod's own start-up (pod seen → readiness probe passed), so that the operator's share is the rest;
//      Kubernetes writes per new cluster by verb and kind, Events per cluster, EMQX API calls;
//   B. an idle window with all N Ready: writes (must be the Lease only), EMQX API GETs per cluster per 30 s;
//   C. a restart with N existing resources: a new operator process, time from its start to the first reconcile and
//      to every resource reconciled once, its memory peak (VmHWM) over the initial list, writes it made.
// Every figure is printed with the load average of the machine at that moment. See BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { EMQX } from '../src/api/types.ts';
import { Informer } from '../src/k8s/informer.ts';
import { KubeClient, type KubeObject } from '../src/k8s/rest.ts';
import { createEmqxHandler } from '../sandbox/emqx/index.ts';
import { freePort } from '../sandbox/cluster/ports.ts';
import { startSandbox, type Sandbox } from '../sandbox/index.ts';
import { prepareForOperator, startOperatorProcess, type OperatorProcess } from '../sandbox/operator.ts';
import {
  applyObject as applyAs,
  byLabels as byLabelsSep,
  delta,
  healthUrl,
  isReady,
  percentile,
  procStat,
  scrape,
  type Sample,
} from './support.ts';

const applyObject = (client: KubeClient, obj: KubeObject) => applyAs(client, obj, 'emqx-bench');
const byLabels = (samples: Sample[], name: string, labelNames: string[]) =>
  byLabelsSep(samples, name, labelNames, ' ');

const ROOT = path.resolve(import.meta.dirname, '..');
const NS_PREFIX = 'scale-';

const HELP = `Usage: npm run bench:scale -- [options]

Applies N EMQX resources (1 core, no replicants, one namespace each) at once and prints pick-up and Ready times,
writes and Events per cluster, idle traffic, and the operator's start-up with N existing resources.

Options:
  --count N          resources (default 200)
  --time-scale S     EMQX emulator time scale (default 10: emulated boot 0.2 s; probe timing is never scaled)
  --idle SECONDS     idle window (default 60)
  --settle SECONDS   wait after the last Ready before the idle window (default 35: one Ready interval + 10 %)
  --workers N        the operator's --workers (default: the operator's default)
  --kcm-qps Q        kube-controller-manager sized for the burst: --kube-api-qps=Q --kube-api-burst=2Q
                     --concurrent-statefulset-syncs=10 (default 100; 0 = upstream defaults 20/30 and 5 syncs,
                     as the sandbox runs it otherwise). Its time is reported apart from the operator's either way.
  --timeout SECONDS  give up waiting for Ready after this long (default 600)
  --no-restart       skip part C (the restart with N existing resources)
  --dir DIR          sandbox directory (default .sandbox/bench-scale); its logs/ stay after the run
  -h, --help         this help`;

const T0 = Date.now();
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
function say(line: string): void {
  process.stdout.write(`[${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
}
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dist = (values: number[]) =>
  values.length === 0
    ? 'none'
    : `p50 ${sec(percentile(values, 50))}, p90 ${sec(percentile(values, 90))}, p99 ${sec(percentile(values, 99))}, max ${sec(Math.max(...values))}`;

// ------------------------------------------------------------------------------------------ operator figures

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function waitLeading(op: OperatorProcess, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (op.child.exitCode !== null) throw new Error(`the operator exited with ${op.child.exitCode}`);
    if (Date.now() - t0 > timeoutMs) throw new Error('the operator did not lead in time');
    if (healthUrl(op)) {
      const m = await scrape(op).catch(() => []);
      if (m.some((s) => s.name === 'emqx_operator_leading' && s.value === 1)) return;
    }
    await sleep(100);
  }
}

// ----------------------------------------------------------------------------------------------- resources

function resource(namespace: string): EMQX {
  return {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace },
    spec: { image: 'emqx/emqx:5.8.3', coreTemplate: { spec: { replicas: 1 } } },
  } as EMQX;
}

interface PodLike {
  metadata: { namespace: string; deletionTimestamp?: string };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

const hasCondition = (p: PodLike, type: string) =>
  (p.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');

/**
 * Watches the EMQX resources, their StatefulSets and pods (in the bench's namespaces) and records, per namespace, when
 * each first: had a status (picked up), was Ready, had a StatefulSet, a pod, a pod past its readiness probe
 * (ContainersReady), a Ready pod (readiness gate set).
 */
async function watchBurst(
  client: KubeClient,
  at: Record<'picked' | 'ready' | 'podSeen' | 'podReady' | 'podGated' | 'stsSeen', Map<string, number>>,
): Promise<{ stop(): void }> {
  const first = (m: Map<string, number>, ns: string) => {
    if (!m.has(ns)) m.set(ns, Date.now());
  };
  const ours = (o: KubeObject) => o.metadata?.namespace?.startsWith(NS_PREFIX) === true;
  const selector = 'apps.emqx.io/managed-by=emqx-operator';
  const emqx = new Informer<EMQX & KubeObject>(client, { apiVersion: 'apps.emqx.io/v2beta1', kind: 'EMQX' });
  const pods = new Informer(client, { apiVersion: 'v1', kind: 'Pod', labelSelector: selector });
  const sets = new Informer(client, { apiVersion: 'apps/v1', kind: 'StatefulSet', labelSelector: selector });
  const onEmqx = (e: EMQX & KubeObject) => {
    if (!ours(e)) return;
    if (e.status?.phase) first(at.picked, e.metadata.namespace!);
    if (isReady(e)) first(at.ready, e.metadata.namespace!);
  };
  const onPod = (o: KubeObject) => {
    const p = o as unknown as PodLike;
    if (!ours(o) || p.metadata.deletionTimestamp) return;
    first(at.podSeen, p.metadata.namespace);
    if (hasCondition(p, 'ContainersReady')) first(at.podReady, p.metadata.namespace);
    if (hasCondition(p, 'Ready')) first(at.podGated, p.metadata.namespace);
  };
  const onSet = (o: KubeObject) => {
    if (ours(o)) first(at.stsSeen, o.metadata!.namespace!);
  };
  emqx.onAdd(onEmqx);
  emqx.onUpdate(onEmqx);
  pods.onAdd(onPod);
  pods.onUpdate(onPod);
  sets.onAdd(onSet);
  sets.onUpdate(onSet);
  await Promise.all([emqx.start(), pods.start(), sets.start()]);
  return {
    stop() {
      void emqx.stop();
      void pods.stop();
      void sets.stop();
    },
  };
}

// ----------------------------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '200' },
      'time-scale': { type: 'string', default: '10' },
      idle: { type: 'string', default: '60' },
      workers: { type: 'string' },
      'kcm-qps': { type: 'string', default: '100' },
      timeout: { type: 'string', default: '600' },
      'no-restart': { type: 'boolean', default: false },
      settle: { type: 'string', default: '35' },
      dir: { type: 'string', default: path.join(ROOT, '.sandbox/bench-scale') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const count = Number(values.count);
  const timeScale = Number(values['time-scale']);
  const idleMs = Number(values.idle) * 1000;
  const settleMs = Number(values.settle) * 1000;
  const timeoutMs = Number(values.timeout) * 1000;
  // One webhook address for both processes (as replicas behind one Service): the restart finds the CRD's
  // conversion registered as it is, so a write there would be the operator's, not a new port's.
  const webhookPort = await freePort();
  const opArgs = [
    ...(values.workers ? ['--workers', values.workers] : []),
    '--webhook-bind-address',
    `127.0.0.1:${webhookPort}`,
  ];
  const kcmQps = Number(values['kcm-qps']);
  const kcmArgs =
    kcmQps > 0
      ? [`--kube-api-qps=${kcmQps}`, `--kube-api-burst=${2 * kcmQps}`, '--concurrent-statefulset-syncs=10']
      : [];
  let commit = '?';
  try {
    const git = (...a: string[]) => execFileSync('git', ['-C', ROOT, ...a], { encoding: 'utf8' }).trim();
    commit = `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src', 'sandbox') ? ' + uncommitted changes' : ''}`;
  } catch {
    // not a checkout
  }
  const out: string[] = [
    `scale benchmark, ${new Date().toISOString()}, code ${commit}, ${os.cpus().length} cores, node ${process.version}`,
    `${count} EMQX resources (1 core, no replicants, one namespace each), EMQX emulator time ×${timeScale}, operator ${values.workers ? `--workers ${values.workers}` : 'default workers'}`,
    `kube-controller-manager ${kcmArgs.join(' ') || 'with its default client limits (20 QPS, burst 30, 5 StatefulSet syncs)'}`,
  ];
  const row = (line: string) => {
    out.push(line);
    say(line);
  };

  let sb: Sandbox | undefined;
  let op: OperatorProcess | undefined;
  process.on('exit', () => op?.child.kill('SIGKILL'));
  try {
    const handler = createEmqxHandler({ timeScale });
    say(`starting the sandbox in ${values.dir}`);
    sb = await startSandbox({
      dir: values.dir!,
      handlers: [handler],
      controllerManagerArgs: kcmArgs,
      log: (l) => say(`  ${l}`),
    });
    await prepareForOperator(sb);
    const client = new KubeClient(sb.kubeConfig);
    op = startOperatorProcess(sb, { name: 'operator', args: opArgs, logLevel: 'info', asImage: true });
    await waitLeading(op);
    const base = procStat(op.child.pid!);
    row(`0. operator leading; RSS with no EMQX resource ${mib(base.rssKiB)} (load ${load()})`);

    // ------------------------------------------------------------------------------------- A. the burst
    const names = Array.from({ length: count }, (_, i) => `${NS_PREFIX}${String(i + 1).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 50)
      await Promise.all(
        names
          .slice(i, i + 50)
          .map((ns) => applyObject(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })),
      );
    // Times come from watches (list once, then every change as it happens), not from polling: exact to the event's
    // arrival, and no repeated lists of 200 pods loading the API server during the burst.
    const picked = new Map<string, number>();
    const ready = new Map<string, number>();
    const podSeen = new Map<string, number>();
    const podReady = new Map<string, number>();
    const podGated = new Map<string, number>();
    const stsSeen = new Map<string, number>();
    const watched = await watchBurst(client, { picked, ready, podSeen, podReady, podGated, stsSeen });
    await sleep(2000);
    const m0 = await scrape(op);
    const cpu0 = procStat(op.child.pid!).cpuSeconds;
    const loadA = load();
    say(`A. applying ${count} EMQX resources at once (load ${loadA})`);
    const appliedAt = new Map<string, number>();
    const tA = Date.now();
    await Promise.all(
      names.map(async (ns) => {
        await applyObject(client, resource(ns) as never);
        appliedAt.set(ns, Date.now());
      }),
    );
    const applyMs = Date.now() - tA;
    let maxRss = 0;
    let lastReport = 0;
    while (ready.size < count) {
      const now = Date.now();
      if (now - tA > timeoutMs) {
        row(`   giving up: ${count - ready.size} not Ready after ${sec(timeoutMs)}`);
        break;
      }
      maxRss = Math.max(maxRss, procStat(op.child.pid!).rssKiB);
      if (now - lastReport > 5000) {
        lastReport = now;
        say(
          `   +${sec(now - tA)} picked up ${picked.size}, pods ${podSeen.size}, Ready ${ready.size} of ${count}`,
        );
      }
      await sleep(200);
    }
    watched.stop();
    const m1 = await scrape(op);
    const cpu1 = procStat(op.child.pid!).cpuSeconds;
    const from = (m: Map<string, number>) =>
      names.filter((n) => m.has(n)).map((n) => m.get(n)! - appliedAt.get(n)!);
    const pickUp = from(picked);
    const readyMs = from(ready);
    const podStart = names.filter((n) => podReady.has(n)).map((n) => podReady.get(n)! - podSeen.get(n)!);
    const operatorShare = names
      .filter((n) => ready.has(n) && podReady.has(n))
      .map((n) => ready.get(n)! - appliedAt.get(n)! - (podReady.get(n)! - podSeen.get(n)!));
    const span = (a: Map<string, number>, b: Map<string, number>) =>
      names.filter((n) => a.has(n) && b.has(n)).map((n) => b.get(n)! - a.get(n)!);
    const appliedMap = new Map(appliedAt);
    const writes = delta(
      byLabels(m0, 'emqx_operator_kube_writes_total', ['verb', 'kind']),
      byLabels(m1, 'emqx_operator_kube_writes_total', ['verb', 'kind']),
    );
    const calls = delta(
      byLabels(m0, 'emqx_operator_emqx_api_requests_total', ['endpoint']),
      byLabels(m1, 'emqx_operator_emqx_api_requests_total', ['endpoint']),
    );
    const events = (
      await client.request<{
        items: Array<{ metadata: { namespace?: string }; reportingController?: string; reason?: string }>;
      }>('GET', '/apis/events.k8s.io/v1/events')
    ).items.filter(
      (e) => e.reportingController === 'emqx-operator' && e.metadata.namespace?.startsWith(NS_PREFIX),
    );
    const reasons = new Map<string, number>();
    for (const e of events) reasons.set(e.reason ?? '?', (reasons.get(e.reason ?? '?') ?? 0) + 1);
    const perCluster = (m: Map<string, number>) =>
      [...m].map(([k, v]) => `${k} ${(v / count).toFixed(2)}`).join(', ');
    row(
      `A. burst of ${count} (load ${loadA} → ${load()}); applies took ${sec(applyMs)}; times taken when the bench's watches saw each change`,
    );
    row(
      `   pick-up (first status written, from its own apply): ${dist(pickUp)}${pickUp.length < count ? ` (only ${pickUp.length})` : ''}`,
    );
    row(`   apply → Ready: ${dist(readyMs)}${readyMs.length < count ? ` (only ${readyMs.length})` : ''}`);
    row(`   the pod's own start-up (pod seen → readiness probe passed): ${dist(podStart)}`);
    row(`   not the pod's (apply → Ready minus the pod's start-up): ${dist(operatorShare)}`);
    row(`     apply → StatefulSet seen (the operator's first pass): ${dist(span(appliedMap, stsSeen))}`);
    row(`     StatefulSet → pod seen (kube-controller-manager): ${dist(span(stsSeen, podSeen))}`);
    row(`     probe passed → pod Ready (the operator's on-serving gate): ${dist(span(podReady, podGated))}`);
    row(`     pod Ready → EMQX Ready: ${dist(span(podGated, ready))}`);
    row(
      `   Kubernetes writes: ${sum(writes)}, ${(sum(writes) / count).toFixed(2)} per cluster: ${perCluster(writes)}`,
    );
    row(
      `   Events created: ${events.length}, ${(events.length / count).toFixed(2)} per cluster: ${perCluster(reasons)}`,
    );
    row(
      `   EMQX API calls: ${sum(calls)}, ${(sum(calls) / count).toFixed(2)} per cluster: ${perCluster(calls)}`,
    );
    row(
      `   operator CPU ${(cpu1 - cpu0).toFixed(1)} s; RSS max sampled ${mib(maxRss)}, after ${mib(procStat(op.child.pid!).rssKiB)}`,
    );
    // Where the operator's time went: its requests to the API server (by method and answer), their time, its
    // passes and the time per step, and how long keys waited for a worker.
    const d = (name: string, labels: string[]) =>
      delta(byLabels(m0, name, labels), byLabels(m1, name, labels));
    const reqs = d('emqx_operator_kube_requests_total', ['method', 'code']);
    const reqSum = d('emqx_operator_kube_request_duration_seconds_sum', ['method']);
    const reqCount = d('emqx_operator_kube_request_duration_seconds_count', ['method']);
    const passes = d('emqx_operator_reconcile_total', ['result']);
    const stepSum = d('emqx_operator_reconcile_step_duration_seconds_sum', ['step']);
    const stepCount = d('emqx_operator_reconcile_step_duration_seconds_count', ['step']);
    const waitSum = sum(d('emqx_operator_workqueue_queue_duration_seconds_sum', ['name']));
    const waitCount = sum(d('emqx_operator_workqueue_queue_duration_seconds_count', ['name']));
    const meanMs = (total: number | undefined, n: number | undefined) =>
      n ? `${((1000 * (total ?? 0)) / n).toFixed(0)} ms` : '-';
    const throttled = [...reqs].filter(([k]) => k.endsWith(' 429')).reduce((a, [, v]) => a + v, 0);
    row(
      `   operator → API server: ${sum(reqs)} requests, ${(sum(reqs) / count).toFixed(2)} per cluster (${[...reqs].map(([k, v]) => `${k} ${v}`).join(', ')}); 429 answers ${throttled}; mean time per request ${[...reqCount].map(([k, n]) => `${k} ${meanMs(reqSum.get(k), n)}`).join(', ')}`,
    );
    row(
      `   operator passes: ${[...passes].map(([k, v]) => `${k} ${v} (${(v / count).toFixed(2)}/cluster)`).join(', ')}; mean per step: ${[...stepCount].map(([k, n]) => `${k} ${meanMs(stepSum.get(k), n)} ×${n}`).join(', ')}; queue wait mean ${meanMs(waitSum, waitCount)} over ${waitCount} passes`,
    );

    // Verdicts of issue 14's burst targets, per resource where the target is per resource. The split of apply →
    // Ready: the operator (apply → StatefulSet, probe passed → pod Ready, pod Ready → EMQX Ready),
    // kube-controller-manager (StatefulSet → pod), the pod itself (pod seen → probe passed).
    const whole = names.filter(
      (n) => ready.has(n) && stsSeen.has(n) && podSeen.has(n) && podReady.has(n) && podGated.has(n),
    );
    const split = whole.map((n) => {
      const pod = podReady.get(n)! - podSeen.get(n)!;
      const kcm = podSeen.get(n)! - stsSeen.get(n)!;
      const total = ready.get(n)! - appliedAt.get(n)!;
      return { pod, kcm, total, operator: total - pod - kcm };
    });
    const met = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
    const within = (f: (x: (typeof split)[number]) => boolean) => split.filter(f).length;
    const col = (k: 'pod' | 'kcm' | 'operator' | 'total') => split.map((x) => x[k]);
    const share = (k: 'pod' | 'kcm' | 'operator') =>
      `${k === 'pod' ? 'the pods' : k === 'kcm' ? 'kube-controller-manager' : 'the operator'} p50 ${sec(percentile(col(k), 50))} / max ${sec(Math.max(...col(k)))} (${((100 * col(k).reduce((a, b) => a + b, 0)) / col('total').reduce((a, b) => a + b, 0)).toFixed(0)} % of all apply → Ready time)`;
    const p50 = percentile(pickUp, 50);
    const p99 = percentile(pickUp, 99);
    const inTime = within((x) => x.total <= 1.1 * x.pod);
    const opInTime = within((x) => x.operator <= 0.1 * x.pod);
    const verdicts = [
      `VERDICT pick-up p50 ≤ 1 s: ${met(pickUp.length === count && p50 <= 1000)} (${sec(p50)}); p99 ≤ 5 s: ${met(pickUp.length === count && p99 <= 5000)} (${sec(p99)})`,
      `VERDICT every one Ready within its pod's own start-up + 10 %: ${met(split.length === count && inTime === count)} (${inTime} of ${count}; apply → Ready p50 ${sec(percentile(readyMs, 50))}, pod start-up p50 ${sec(percentile(col('pod'), 50))})`,
      `VERDICT the operator's own share ≤ 10 % of the pod's start-up (controller-manager time left out): ${met(split.length === count && opInTime === count)} (${opInTime} of ${count})`,
      split.length > 0
        ? `VERDICT whose time it was: ${share('operator')}; ${share('kcm')}; ${share('pod')}`
        : 'VERDICT whose time it was: no resource went all the way to Ready',
    ];
    for (const v of verdicts) say(v);

    // ---------------------------------------------------------------------------------------- B. idle
    // The clusters that became Ready last still have event-driven passes (their pods' last updates) and a first
    // safety-net pass scheduled from before Ready: the window starts once one Ready interval (30 s +10 %) passed.
    if (settleMs > 0) {
      say(`B. settling for ${sec(settleMs)} before the idle window`);
      await sleep(settleMs);
    }
    const loadB = load();
    say(`B. idle window of ${sec(idleMs)} (load ${loadB})`);
    const i0 = await scrape(op);
    const tB = Date.now();
    const c0 = procStat(op.child.pid!).cpuSeconds;
    await sleep(idleMs);
    const i1 = await scrape(op);
    const elapsed = Date.now() - tB;
    const idleWrites = delta(
      byLabels(i0, 'emqx_operator_kube_writes_total', ['verb', 'kind']),
      byLabels(i1, 'emqx_operator_kube_writes_total', ['verb', 'kind']),
    );
    const idleCalls = delta(
      byLabels(i0, 'emqx_operator_emqx_api_requests_total', ['endpoint']),
      byLabels(i1, 'emqx_operator_emqx_api_requests_total', ['endpoint']),
    );
    const idleReconciles = delta(
      byLabels(i0, 'emqx_operator_reconcile_total', ['result']),
      byLabels(i1, 'emqx_operator_reconcile_total', ['result']),
    );
    const idleWakeups = delta(
      byLabels(i0, 'emqx_operator_cache_wakeups_total', ['kind']),
      byLabels(i1, 'emqx_operator_cache_wakeups_total', ['kind']),
    );
    const nonLease = [...idleWrites].filter(([k]) => !k.endsWith(' Lease'));
    const per30 = (n: number) => ((n / count / elapsed) * 30_000).toFixed(2);
    row(`B. idle, ${sec(elapsed)}, all ${ready.size} Ready (load ${loadB} → ${load()}):`);
    row(
      `   writes other than the Lease: ${nonLease.reduce((a, [, v]) => a + v, 0)}${nonLease.length ? ` (${nonLease.map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}; Lease ${sum(idleWrites) - nonLease.reduce((a, [, v]) => a + v, 0)}`,
    );
    row(
      `   EMQX API GETs: ${sum(idleCalls)} = ${((sum(idleCalls) / elapsed) * 1000).toFixed(2)}/s, ${per30(sum(idleCalls))} per cluster per 30 s (${[...idleCalls].map(([k, v]) => `${k} ${per30(v)}`).join(', ')})`,
    );
    row(
      `   reconciles: ${[...idleReconciles].map(([k, v]) => `${k} ${v}`).join(', ')} (${per30(sum(idleReconciles))} per cluster per 30 s; woken by informer changes: ${[...idleWakeups].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}); operator CPU ${(procStat(op.child.pid!).cpuSeconds - c0).toFixed(2)} s (${(((procStat(op.child.pid!).cpuSeconds - c0) / elapsed) * 100_000).toFixed(1)} % of a core); RSS ${mib(procStat(op.child.pid!).rssKiB)}`,
    );

    // ------------------------------------------------------------------------------------- C. restart
    if (!values['no-restart']) {
      say('C. stopping the operator; starting a new one with the resources in place');
      const statusBefore = await statusesAndEvents(client);
      await op.stop();
      const loadC = load();
      const tC = Date.now();
      op = startOperatorProcess(sb, {
        name: 'operator-restart',
        args: opArgs,
        logLevel: 'info',
        asImage: true,
      });
      let leadingAt: number | undefined;
      let firstAt: number | undefined;
      let allAt: number | undefined;
      let hwm = 0;
      let m: Sample[] = [];
      while (allAt === undefined && Date.now() - tC < timeoutMs) {
        hwm = Math.max(hwm, procStat(op.child.pid!).hwmKiB);
        if (healthUrl(op)) {
          m = await scrape(op).catch(() => m);
          if (leadingAt === undefined && m.some((s) => s.name === 'emqx_operator_leading' && s.value === 1))
            leadingAt = Date.now();
          const done = sum(byLabels(m, 'emqx_operator_reconcile_total', ['kind']));
          if (firstAt === undefined && done > 0) firstAt = Date.now();
          if (done >= count) allAt = Date.now();
        }
        await sleep(50);
      }
      const st = procStat(op.child.pid!);
      // what the new process wrote: status fields and Events (read once the passes are done)
      const changed = restartChanges(statusBefore, await statusesAndEvents(client));
      const restartWrites = [...byLabels(m, 'emqx_operator_kube_writes_total', ['verb', 'kind'])].filter(
        ([k]) => !k.endsWith(' Lease'),
      );
      row(
        `C. restart with ${count} existing resources (load ${loadC} → ${load()}; /metrics polled every 50 ms):`,
      );
      row(
        `   process start → leading ${leadingAt ? sec(leadingAt - tC) : '?'}, → first reconcile done ${firstAt ? sec(firstAt - tC) : '?'}, → all ${count} reconciled once ${allAt ? sec(allAt - tC) : 'not within the timeout'}`,
      );
      row(
        `   memory: VmHWM ${mib(Math.max(hwm, st.hwmKiB))} (peak, initial list included), RSS after ${mib(st.rssKiB)}; writes other than the Lease ${restartWrites.reduce((a, [, v]) => a + v, 0)}${restartWrites.length ? ` (${restartWrites.map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`,
      );
      row(
        `   passes: ${[...byLabels(m, 'emqx_operator_reconcile_total', ['result'])].map(([k, v]) => `${k} ${v}`).join(', ')}; woken by informer changes: ${[...byLabels(m, 'emqx_operator_cache_wakeups_total', ['kind'])].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
      );
      if (changed.length)
        row(
          `   what changed (${changed.length}${changed.length > 20 ? ', first 20' : ''}):\n     ${changed.slice(0, 20).join('\n     ')}`,
        );
    }
    for (const v of verdicts) out.push(v);
    process.stdout.write(`\n${'='.repeat(100)}\n${out.join('\n')}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`bench:scale: ${(err as Error).stack ?? err}\n`);
    return 1;
  } finally {
    say('stopping the operator and the sandbox');
    await op?.stop().catch(() => {});
    await sb?.stop().catch(() => {});
  }
}

interface BenchEvent {
  metadata: { name: string; namespace: string };
  reportingController?: string;
  type?: string;
  reason?: string;
  note?: string;
  series?: { count?: number };
}

interface StatusesAndEvents {
  status: Map<string, Record<string, unknown>>;
  events: Map<string, string>;
}

/** Every EMQX resource's status and every Event of the operator (name → reason, count, note). */
async function statusesAndEvents(client: KubeClient): Promise<StatusesAndEvents> {
  const list = await client.request<{ items: EMQX[] }>('GET', '/apis/apps.emqx.io/v2beta1/emqxes');
  const events = await client.request<{ items: BenchEvent[] }>('GET', '/apis/events.k8s.io/v1/events');
  return {
    status: new Map(
      list.items.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, { ...(e.status as object) }]),
    ),
    events: new Map(
      events.items
        .filter((ev) => ev.reportingController === 'emqx-operator')
        .map((ev) => [
          `${ev.metadata.namespace}/${ev.metadata.name}`,
          `${ev.type} ${ev.reason} x${ev.series?.count ?? 1}: ${ev.note}`,
        ]),
    ),
  };
}

/** One line per status field that differs and per new or bumped Event. */
function restartChanges(a: StatusesAndEvents, b: StatusesAndEvents): string[] {
  const out: string[] = [];
  for (const [key, sb] of b.status) {
    const sa = a.status.get(key) ?? {};
    for (const f of new Set([...Object.keys(sa), ...Object.keys(sb)]))
      if (JSON.stringify(sa[f]) !== JSON.stringify(sb[f]))
        out.push(`${key} status.${f}: ${JSON.stringify(sa[f])} → ${JSON.stringify(sb[f])}`);
  }
  for (const [key, v] of b.events) if (a.events.get(key) !== v) out.push(`Event ${key}: ${v}`);
  return out;
}

process.exitCode = await main();
