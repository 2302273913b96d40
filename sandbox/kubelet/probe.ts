// Container probes: settings with Kubernetes defaults, the threshold logic (a pure tracker), one probe attempt
// (httpGet / tcpSocket against the pod IP, exec through the image handler), and a timer loop.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';
import type { RunningContainer } from './handler.ts';

export type ProbeKind = 'startup' | 'readiness' | 'liveness';

export interface ProbeSettings {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export function probeSettings(probe: V1Probe, kind: ProbeKind): ProbeSettings {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: Math.max(1, probe.periodSeconds ?? 10) * 1000,
    timeoutMs: Math.max(1, probe.timeoutSeconds ?? 1) * 1000,
    // API validation requires 1 for liveness and startup probes.
    successThreshold: kind === 'readiness' ? Math.max(1, probe.successThreshold ?? 1) : 1,
    failureThreshold: Math.max(1, probe.failureThreshold ?? 3),
  };
}

/**
 * The result of a probe as the kubelet sees it, from consecutive attempts:
 *  - readiness starts failed and flips after `successThreshold` successes / `failureThreshold` failures;
 *  - liveness starts successful and fails after `failureThreshold` consecutive failures (then the container is
 *    restarted);
 *  - startup starts failed, succeeds on the first success (then stops), fails after `failureThreshold` failures.
 */
export class ProbeTracker {
  readonly kind: ProbeKind;
  readonly settings: ProbeSettings;
  result: boolean;
  successes = 0;
  failures = 0;
  lastMessage = '';

  constructor(kind: ProbeKind, settings: ProbeSettings) {
    this.kind = kind;
    this.settings = settings;
    this.result = kind === 'liveness';
  }

  /** Records one attempt; returns true when `result` changed. */
  observe(ok: boolean, message = ''): boolean {
    this.lastMessage = message;
    if (ok) {
      this.successes++;
      this.failures = 0;
    } else {
      this.failures++;
      this.successes = 0;
    }
    const before = this.result;
    if (ok && !this.result && this.successes >= this.settings.successThreshold) this.result = true;
    if (!ok && this.result && this.failures >= this.settings.failureThreshold) this.result = false;
    return before !== this.result;
  }

  /** For liveness and startup: the container must be killed. */
  get exhausted(): boolean {
    return this.failures >= this.settings.failureThreshold && !(this.kind === 'startup' && this.result);
  }
}

/** A named or numbered port of a probe, resolved against the container's ports. */
export function resolvePort(port: number | string | undefined, container: V1Container): number | undefined {
  if (port === undefined) return undefined;
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

export interface ProbeOutcome {
  ok: boolean;
  message: string;
}

function isLoopback(host: string): boolean {
  return net.isIPv4(host) ? host.startsWith('127.') : host === 'localhost';
}

/** Runs one attempt of `probe`. Never sends anything outside 127.0.0.0/8. */
export async function runProbe(
  probe: V1Probe,
  target: { podIP: string; container: V1Container; running: RunningContainer },
  timeoutMs: number,
): Promise<ProbeOutcome> {
  if (probe.exec) {
    const r = await target.running.exec(probe.exec.command ?? [], timeoutMs).catch((e: Error) => ({
      exitCode: 1,
      stdout: '',
      stderr: e.message,
    }));
    return {
      ok: r.exitCode === 0,
      message: `exec exit code ${r.exitCode}${r.stderr ? `: ${r.stderr.trim()}` : ''}`,
    };
  }
  if (probe.httpGet) {
    const g = probe.httpGet;
    const port = resolvePort(g.port, target.container);
    if (port === undefined) return { ok: false, message: `httpGet: unknown port ${g.port}` };
    const host = g.host || target.podIP;
    if (!isLoopback(host)) return { ok: false, message: `httpGet: host ${host} is outside the sandbox` };
    const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.36' };
    for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
    return httpProbe(g.scheme === 'HTTPS', host, port, g.path || '/', headers, timeoutMs);
  }
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port, target.container);
    if (port === undefined) return { ok: false, message: `tcpSocket: unknown port ${probe.tcpSocket.port}` };
    const host = probe.tcpSocket.host || target.podIP;
    if (!isLoopback(host)) return { ok: false, message: `tcpSocket: host ${host} is outside the sandbox` };
    return tcpProbe(host, port, timeoutMs);
  }
  if (probe.grpc) return { ok: true, message: 'grpc probes are not emulated; counted as success' };
  return { ok: false, message: 'probe has no handler' };
}

function httpProbe(
  tls: boolean,
  host: string,
  port: number,
  pathname: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const mod = tls ? https : http;
    const req = mod.request(
      {
        host,
        port,
        path: pathname,
        method: 'GET',
        headers,
        timeout: timeoutMs,
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve({ ok: code >= 200 && code < 400, message: `HTTP probe failed with statuscode: ${code}` });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (e) =>
      resolve({ ok: false, message: `Get "http://${host}:${port}${pathname}": ${e.message}` }),
    );
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean, message: string) => {
      socket.destroy();
      resolve({ ok, message });
    };
    socket.setTimeout(timeoutMs, () => done(false, `dial tcp ${host}:${port}: i/o timeout`));
    socket.once('connect', () => done(true, ''));
    socket.once('error', (e) => done(false, `dial tcp ${host}:${port}: ${e.message}`));
  });
}

/** Runs a probe periodically (no overlapping attempts) and reports each attempt to `onResult`. */
export class ProbeLoop {
  readonly tracker: ProbeTracker;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly attempt: () => Promise<ProbeOutcome>;
  private readonly onResult: (tracker: ProbeTracker, changed: boolean) => void;

  constructor(
    tracker: ProbeTracker,
    attempt: () => Promise<ProbeOutcome>,
    onResult: (tracker: ProbeTracker, changed: boolean) => void,
  ) {
    this.tracker = tracker;
    this.attempt = attempt;
    this.onResult = onResult;
  }

  start(): void {
    this.schedule(this.tracker.settings.initialDelayMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const started = Date.now();
    const outcome = await this.attempt();
    if (this.stopped) return;
    const changed = this.tracker.observe(outcome.ok, outcome.message);
    this.onResult(this.tracker, changed);
    // A startup probe stops once it succeeded.
    if (this.tracker.kind === 'startup' && this.tracker.result) return;
    this.schedule(Math.max(0, this.tracker.settings.periodMs - (Date.now() - started)));
  }
}
