// A test sandbox with the EMQX node emulator, the CRDs and RBAC, and one operator process running, unchanged, as
// the restricted `emqx-operator` user (see sandbox/operator.ts).
import { after, before } from 'node:test';
import { createEmqxHandler, type EmqxHandler, type NodeTiming } from '../../sandbox/emqx/index.ts';
import type { SandboxOptions } from '../../sandbox/index.ts';
import { prepareForOperator, startOperatorProcess, type OperatorProcess } from '../../sandbox/operator.ts';
import { useSandbox, type TestSandbox } from './sandbox.ts';

export { OPERATOR_NAMESPACE, startOperatorProcess, type OperatorProcess } from '../../sandbox/operator.ts';

export interface OperatorSandbox extends TestSandbox {
  readonly emqx: EmqxHandler;
  /** The operator of this file; tests that stop or kill it start a new one and assign it here. */
  operator: OperatorProcess;
}

/**
 * `timeScale` speeds up emulated EMQX time (boot, evacuation, waits); `startOperator: false` leaves starting the
 * operator to the tests.
 */
export function useOperatorSandbox(
  opts: SandboxOptions & {
    timeScale?: number;
    startOperator?: boolean;
    operatorArgs?: string[];
    /** Emulated EMQX durations (boot, restarts, durable storage transitions and catch-up). */
    emqxTiming?: Partial<NodeTiming>;
  } = {},
): OperatorSandbox {
  const emqx = createEmqxHandler({
    timeScale: opts.timeScale ?? 10,
    ...(opts.emqxTiming && { timing: opts.emqxTiming }),
  });
  let operator: OperatorProcess | undefined;
  // Registered before the sandbox's own after(): hooks run in order, so the operator stops while the API server
  // still answers (otherwise its shutdown is a page of connection errors, and a real stop is not exercised).
  after(async () => {
    await operator?.stop();
  });
  const sb = useSandbox({ ...opts, handlers: [emqx, ...(opts.handlers ?? [])] });
  before(async () => {
    // node:test runs a file's top-level before() hooks concurrently: wait for the sandbox's own hook.
    await sb.started();
    await prepareForOperator(sb.sandbox);
    if (opts.startOperator !== false)
      operator = startOperatorProcess(sb.sandbox, { args: opts.operatorArgs, logLevel: 'debug' });
  });
  const out = Object.create(sb) as OperatorSandbox;
  Object.defineProperty(out, 'emqx', { value: emqx });
  Object.defineProperty(out, 'operator', {
    get: () => operator!,
    set: (op: OperatorProcess) => (operator = op),
  });
  return out;
}

/** One sample of a Prometheus text exposition: metric name, labels, value. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Reads and parses an operator's /metrics. */
export async function readMetrics(op: OperatorProcess): Promise<MetricSample[]> {
  const base = op.healthUrl();
  if (!base) throw new Error(`${op.name} has not logged its health address yet`);
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${op.name} /metrics: HTTP ${res.status}`);
  const out: MetricSample[] = [];
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`${op.name} /metrics: cannot parse "${line}"`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** `emqx_operator_kube_writes_total` by `verb/kind`. */
export async function kubeWrites(op: OperatorProcess): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of await readMetrics(op)) {
    if (s.name === 'emqx_operator_kube_writes_total') out[`${s.labels.verb}/${s.labels.kind}`] = s.value;
  }
  return out;
}

/** `emqx_operator_emqx_api_requests_total` by `endpoint outcome`. */
export async function emqxApiCalls(op: OperatorProcess): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of await readMetrics(op)) {
    if (s.name === 'emqx_operator_emqx_api_requests_total')
      out[`${s.labels.endpoint} ${s.labels.outcome}`] = s.value;
  }
  return out;
}

/**
 * What an operator was doing, for a failed wait: its work queue and passes from /metrics (depth, in flight, adds,
 * retries, passes by result), its EMQX API calls by outcome, and its last log lines, those that name `ns` first.
 */
export async function operatorReport(
  op: OperatorProcess,
  opts: { ns?: string; lines?: number } = {},
): Promise<string> {
  const lines = opts.lines ?? 25;
  const out: string[] = [`operator ${op.name} (log ${op.logFile}):`];
  try {
    const metrics = await readMetrics(op);
    const pick = (prefix: string) =>
      metrics
        .filter((m) => m.name.startsWith(prefix) && !/_(bucket|sum)$/.test(m.name))
        .map((m) => `${m.name}${JSON.stringify(m.labels)}=${m.value}`);
    out.push(`  queue: ${pick('emqx_operator_workqueue_').join(' ')}`);
    out.push(`  passes: ${pick('emqx_operator_reconcile_total').join(' ')}`);
    out.push(`  step errors: ${pick('emqx_operator_reconcile_step_errors_total').join(' ') || 'none'}`);
    out.push(`  EMQX API: ${JSON.stringify(await emqxApiCalls(op))}`);
  } catch (err) {
    out.push(`  /metrics unreadable: ${(err as Error).message}`);
  }
  const logs = op.logs().map((l) => JSON.stringify(l));
  if (opts.ns !== undefined) {
    const mine = logs.filter((l) => l.includes(opts.ns!));
    out.push(`  last ${Math.min(lines, mine.length)} log lines naming ${opts.ns}:`, ...mine.slice(-lines));
  }
  out.push(`  last ${Math.min(lines, logs.length)} log lines:`, ...logs.slice(-lines));
  return out.join('\n');
}

/** What grew between two counter snapshots (keys with a positive difference only). */
export function counterDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}
