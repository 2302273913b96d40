// One pod on an emulated node: volumes, init containers, containers (through image handlers), probes, restarts,
// status, and graceful termination. Driven by `update(pod)` (informer events) and `poke()` (a Secret, ConfigMap,
// PVC or PV it may depend on changed); all the work happens in `reconcile()`, which never runs twice at once.
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { CONTENT_TYPE, isNotFound, type KubeApi } from './api.ts';
import { resolveEnv, type NodeResources } from './env.ts';
import type { ContainerContext, ImageHandler, RunningContainer, SandboxResolver } from './handler.ts';
import type { IpAllocator } from './ipam.ts';
import { ProbeLoop, ProbeTracker, probeSettings, runProbe, type ProbeKind, resolvePort } from './probe.ts';
import {
  buildStatus,
  timestamp,
  KUBELET_CONDITIONS,
  type ContainerState,
  type ContainerView,
} from './status.ts';
import { mapContainerPath, PodVolumes, type VolumeSources } from './volumes.ts';

export interface BackoffSettings {
  /** Delay before the second restart in a row (the first one is immediate). Default 1000. */
  initialMs: number;
  /** Cap of the doubling delay. Default 30000. */
  maxMs: number;
  /** A container that ran this long resets the backoff. Default 60000. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };

/** The kubelet's limits on a termination message taken from the log (FallbackToLogsOnError). */
const TAIL_LINES = 80;
const TAIL_BYTES = 2048;

/** The last `TAIL_BYTES` bytes of the last `TAIL_LINES` lines, as the kubelet reports a failed container's log. */
export function logTail(lines: readonly string[]): string {
  const text = lines.slice(-TAIL_LINES).join('\n');
  const bytes = Buffer.from(text);
  return bytes.length <= TAIL_BYTES ? text : bytes.subarray(bytes.length - TAIL_BYTES).toString();
}

/** What a pod worker needs from the kubelet. */
export interface WorkerContext {
  api: KubeApi;
  sources: VolumeSources;
  handlers: readonly ImageHandler[];
  resolver: SandboxResolver;
  ipam: IpAllocator;
  node: NodeResources;
  hostIP: string;
  sandboxDir: string;
  backoff: BackoffSettings;
  /** KUBERNETES_SERVICE_HOST/PORT and friends, under every container's own environment. */
  serviceEnv?: Record<string, string>;
  log(line: string): void;
  /** Called once the pod is gone from the API server and everything is cleaned up. */
  onFinished(uid: string): void;
}

class Container {
  readonly spec: V1Container;
  readonly init: boolean;
  state: ContainerState;
  lastState: ContainerState | undefined;
  restartCount = 0;
  ready = false;
  started = false;
  running: RunningContainer | undefined;
  /** Incremented at each start and at each deliberate stop; exits of older generations are ignored. */
  generation = 0;
  containerID: string | undefined;
  startedAtMs = 0;
  starting: Promise<void> | undefined;
  backoffUntil = 0;
  backoffTimer: NodeJS.Timeout | undefined;
  consecutiveFailures = 0;
  /** Terminated for good (restart policy), or an init container that completed. */
  done = false;
  everStarted = false;
  probes: ProbeLoop[] = [];
  killing = false;
  /** The last lines this run of the container logged (what FallbackToLogsOnError reports). */
  tail: string[] = [];

  constructor(spec: V1Container, init: boolean, initialReason: string) {
    this.spec = spec;
    this.init = init;
    this.state = { kind: 'waiting', reason: initialReason };
  }

  /** A native sidecar: an init container with restartPolicy Always. */
  get sidecar(): boolean {
    return this.init && this.spec.restartPolicy === 'Always';
  }

  get completed(): boolean {
    return this.init && !this.sidecar && this.state.kind === 'terminated' && this.state.exitCode === 0;
  }

  stopProbes(): void {
    for (const p of this.probes) p.stop();
    this.probes = [];
  }

  view(willRestart: boolean): ContainerView {
    return {
      name: this.spec.name,
      image: this.spec.image ?? '',
      containerID: this.containerID,
      state: this.state,
      lastState: this.lastState,
      ready: this.init && !this.sidecar ? this.completed : this.ready,
      started: this.started,
      restartCount: this.restartCount,
      willRestart,
    };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), Math.max(0, ms)))),
  ]);
}

export class PodWorker {
  pod: V1Pod;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly dir: string;
  private readonly ctx: WorkerContext;
  private readonly volumes: PodVolumes;
  private readonly initContainers: Container[];
  private readonly containers: Container[];
  private readonly transitions = new Map<string, { status: string; time: string }>();
  private ip: string | undefined;
  private startTime: string | undefined;
  private sandboxReady = false;
  private terminating = false;
  private finished = false;
  private stopped = false;
  private deadline = { at: Infinity, timer: undefined as NodeJS.Timeout | undefined, reached: () => {} };
  private running: Promise<void> | undefined;
  private again = false;
  private writeTimer: NodeJS.Timeout | undefined;
  private lastWritten: string | undefined;
  private lastWrittenRV = 0;

  constructor(pod: V1Pod, ctx: WorkerContext) {
    this.pod = pod;
    this.ctx = ctx;
    this.uid = pod.metadata!.uid!;
    this.namespace = pod.metadata!.namespace!;
    this.name = pod.metadata!.name!;
    this.dir = path.join(ctx.sandboxDir, 'pods', this.namespace, `${this.name}-${this.uid.slice(0, 8)}`);
    mkdirSync(path.join(this.dir, 'logs'), { recursive: true });
    this.volumes = new PodVolumes(this.dir, ctx.sandboxDir);
    const hasInit = (pod.spec?.initContainers ?? []).length > 0;
    this.initContainers = (pod.spec?.initContainers ?? []).map(
      (c) => new Container(c, true, 'PodInitializing'),
    );
    this.containers = (pod.spec?.containers ?? []).map(
      (c) => new Container(c, false, hasInit ? 'PodInitializing' : 'ContainerCreating'),
    );
    for (const c of pod.status?.conditions ?? []) {
      if ((KUBELET_CONDITIONS as readonly string[]).includes(c.type) && c.lastTransitionTime) {
        this.transitions.set(c.type, { status: c.status, time: String(c.lastTransitionTime) });
      }
    }
    // Keep the IP the pod already has (emulator restarted against a running cluster).
    const existing = pod.status?.podIP;
    if (existing && ctx.ipam.reserve(this.uid, existing)) this.ip = existing;
  }

  get podIP(): string | undefined {
    return this.ip;
  }

  /** The running container `name` (regular or init), if it runs right now. */
  runningContainer(name: string): RunningContainer | undefined {
    return [...this.containers, ...this.initContainers].find((c) => c.spec.name === name)?.running;
  }

  update(pod: V1Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp) {
      if (this.terminating) this.adjustDeadline();
    }
    this.checkStatusDrift();
    this.kick();
  }

  /** Something this pod may depend on (Secret, ConfigMap, PVC, PV) changed. */
  poke(): void {
    this.kick();
  }

  /** The pod is gone from the API server: stop everything at once and clean up. */
  async gone(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.terminating = true;
    await this.killAll();
    this.cleanup();
  }

  /** Stops every container without grace (the sandbox is shutting down). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.terminating = true;
    if (this.writeTimer) clearTimeout(this.writeTimer);
    await this.killAll();
  }

  private cleanup(): void {
    if (this.writeTimer) clearTimeout(this.writeTimer);
    if (this.deadline.timer) clearTimeout(this.deadline.timer);
    this.ctx.ipam.release(this.uid);
    rmSync(this.dir, { recursive: true, force: true });
    this.ctx.onFinished(this.uid);
  }

  private kick(): void {
    if (this.stopped || this.finished) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.reconcile();
        } catch (e) {
          this.ctx.log(`pod ${this.namespace}/${this.name}: ${(e as Error).stack ?? e}`);
        }
      } while (this.again && !this.stopped && !this.finished);
      this.running = undefined;
    })();
  }

  private async reconcile(): Promise<void> {
    if (this.pod.metadata?.deletionTimestamp) {
      void this.terminate();
      return;
    }
    if (this.terminating) return;
    const phase = this.pod.status?.phase;
    if ((phase === 'Succeeded' || phase === 'Failed') && this.lastWritten === undefined) return; // finished earlier

    this.ip ??= this.ctx.ipam.allocate(this.uid);
    this.startTime ??= timestamp();

    const v = this.volumes.sync(this.podWithIP(), this.ctx.sources);
    if (!v.ok && !this.sandboxReady) {
      for (const c of [...this.initContainers, ...this.containers]) {
        if (!c.everStarted) c.state = { kind: 'waiting', reason: 'ContainerCreating', message: v.message };
      }
      this.requestWrite();
      return;
    }
    if (!this.sandboxReady) {
      this.sandboxReady = true;
      const hasInit = this.initContainers.length > 0;
      for (const c of this.initContainers)
        if (!c.everStarted) c.state = { kind: 'waiting', reason: 'PodInitializing' };
      for (const c of this.containers) {
        if (!c.everStarted)
          c.state = { kind: 'waiting', reason: hasInit ? 'PodInitializing' : 'ContainerCreating' };
      }
    }

    // Init containers, in order; native sidecars keep running once started.
    for (const c of this.initContainers) {
      if (c.completed) continue;
      if (c.done) {
        this.requestWrite();
        return; // failed for good: the pod is Failed
      }
      if (!c.running && !c.starting && Date.now() >= c.backoffUntil) await this.startContainer(c);
      if (c.sidecar ? !c.started : !c.completed) {
        this.requestWrite();
        return;
      }
    }
    for (const c of this.containers) {
      if (c.state.kind === 'waiting' && c.state.reason === 'PodInitializing') {
        c.state = { kind: 'waiting', reason: 'ContainerCreating' };
      }
      if (!c.running && !c.starting && !c.done && Date.now() >= c.backoffUntil) await this.startContainer(c);
    }
    this.requestWrite();
  }

  /** The pod as containers see it: with the IPs the status will carry. */
  private podWithIP(): V1Pod {
    const ip = this.ip ?? '';
    return {
      ...this.pod,
      status: {
        ...this.pod.status,
        podIP: ip,
        podIPs: [{ ip }],
        hostIP: this.ctx.hostIP,
        hostIPs: [{ ip: this.ctx.hostIP }],
      },
    };
  }

  private containerLog(c: Container): (line: string) => void {
    const file = path.join(this.dir, 'logs', `${c.spec.name}.log`);
    c.tail = [];
    const tail = c.tail;
    return (line) => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      try {
        appendFileSync(file, `${new Date().toISOString()} ${line}\n`);
      } catch {
        // pod directory removed
      }
    };
  }

  private async startContainer(c: Container): Promise<void> {
    if (this.terminating) return;
    const pod = this.podWithIP();
    const env = resolveEnv(pod, c.spec, this.ctx.sources, this.ctx.node);
    if (!env.ok) {
      c.state = { kind: 'waiting', reason: env.reason, message: env.message };
      this.requestWrite();
      return;
    }
    const handler = this.ctx.handlers.find((h) => h.matches(c.spec.image ?? ''));
    if (!handler) {
      c.state = { kind: 'waiting', reason: 'ErrImagePull', message: `no image handler for ${c.spec.image}` };
      this.requestWrite();
      return;
    }
    const containerEnv = { ...this.ctx.serviceEnv, ...env.env };
    const mounts = this.volumes.mountsFor(pod, c.spec, env.env);
    if (c.everStarted) c.restartCount++;
    c.everStarted = true;
    const generation = ++c.generation;
    const context: ContainerContext = {
      pod,
      container: c.spec,
      podIP: this.ip!,
      env: containerEnv,
      hostPath: (p) => mapContainerPath(mounts, p),
      mounts,
      restartCount: c.restartCount,
      dns: this.ctx.resolver,
      log: this.containerLog(c),
    };
    const startedAt = timestamp();
    let done!: () => void;
    c.starting = new Promise<void>((r) => (done = r));
    try {
      const running = await handler.start(context);
      if (generation !== c.generation || this.terminating) {
        // Stopped (pod terminating) while starting.
        await running.stop({ graceful: false }).catch(() => {});
        return;
      }
      c.running = running;
      c.containerID = `sandbox://${randomBytes(16).toString('hex')}`;
      c.startedAtMs = Date.now();
      c.state = { kind: 'running', startedAt };
      c.ready = false;
      c.started = false;
      this.ctx.log(`pod ${this.namespace}/${this.name}: started container ${c.spec.name} (${handler.name})`);
      void running.exited.then(
        (code) => this.onExit(c, generation, code),
        (e: Error) => this.onExit(c, generation, 128, e.message),
      );
      if (c.init && !c.sidecar) {
        c.started = false;
      } else {
        this.startProbes(c, generation);
      }
    } catch (e) {
      this.ctx.log(
        `pod ${this.namespace}/${this.name}: container ${c.spec.name} failed to start: ${(e as Error).message}`,
      );
      c.startedAtMs = Date.now();
      this.onExit(c, generation, 128, `failed to start: ${(e as Error).message}`, 'StartError', startedAt);
    } finally {
      c.starting = undefined;
      done();
      this.requestWrite();
    }
  }

  private startProbes(c: Container, generation: number): void {
    const podIP = this.ip!;
    const probe = (kind: ProbeKind, onResult: (t: ProbeTracker, changed: boolean) => void) => {
      const spec =
        kind === 'startup'
          ? c.spec.startupProbe
          : kind === 'readiness'
            ? c.spec.readinessProbe
            : c.spec.livenessProbe;
      if (!spec) return false;
      const tracker = new ProbeTracker(kind, probeSettings(spec, kind));
      const loop = new ProbeLoop(
        tracker,
        () => runProbe(spec, { podIP, container: c.spec, running: c.running! }, tracker.settings.timeoutMs),
        (t, changed) => {
          if (generation !== c.generation) return;
          onResult(t, changed);
        },
      );
      c.probes.push(loop);
      loop.start();
      return true;
    };
    const afterStarted = () => {
      c.started = true;
      const hasReadiness = probe('readiness', (t, changed) => {
        if (changed) {
          c.ready = t.result;
          this.requestWrite();
        }
      });
      if (!hasReadiness) c.ready = true;
      probe('liveness', (t) => {
        if (t.exhausted && !c.killing)
          void this.kill(c, generation, `Liveness probe failed: ${t.lastMessage}`);
      });
      this.requestWrite();
    };
    const hasStartup = probe('startup', (t) => {
      if (t.result && !c.started) afterStarted();
      else if (t.exhausted && !c.killing)
        void this.kill(c, generation, `Startup probe failed: ${t.lastMessage}`);
    });
    if (!hasStartup) afterStarted();
  }

  /** Kills a container for a failed liveness/startup probe; the restart policy decides what happens next. */
  private async kill(c: Container, generation: number, why: string): Promise<void> {
    if (generation !== c.generation || !c.running) return;
    this.ctx.log(`pod ${this.namespace}/${this.name}: killing container ${c.spec.name}: ${why}`);
    c.killing = true;
    const graceMs = (this.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    const forced = await this.stopContainer(c, graceMs);
    c.killing = false;
    this.onExit(c, c.generation, forced ? 137 : 143, why, 'Error', undefined, true);
  }

  /** Stops a running container: graceful, then forced at `graceMs`. Returns true if it had to be forced. */
  private async stopContainer(c: Container, graceMs: number): Promise<boolean> {
    const running = c.running;
    c.stopProbes();
    if (!running) return false;
    c.generation++; // its exit is ours, not a crash
    const graceful = await withTimeout(
      running.stop({ graceful: true }).then(
        () => 'ok' as const,
        () => 'ok' as const,
      ),
      graceMs,
    );
    if (graceful === 'timeout') {
      await withTimeout(
        running.stop({ graceful: false }).catch(() => {}),
        5000,
      );
      return true;
    }
    return false;
  }

  private onExit(
    c: Container,
    generation: number,
    exitCode: number,
    message?: string,
    reason?: string,
    startedAt?: string,
    deliberate = false,
  ): void {
    if (generation !== c.generation || this.terminating) return;
    c.stopProbes();
    c.running = undefined;
    c.ready = false;
    c.started = false;
    const ranMs = Date.now() - c.startedAtMs;
    // The kubelet's terminationMessagePolicy FallbackToLogsOnError: a failed container without a message of its
    // own reports the end of its log (the default policy, File, reads a file nothing here writes: no message).
    if (
      !message &&
      exitCode !== 0 &&
      c.spec.terminationMessagePolicy === 'FallbackToLogsOnError' &&
      c.tail.length > 0
    ) {
      message = logTail(c.tail);
    }
    c.state = {
      kind: 'terminated',
      exitCode,
      reason: reason ?? (exitCode === 0 ? 'Completed' : 'Error'),
      ...(message ? { message } : {}),
      startedAt: startedAt ?? (c.startedAtMs ? timestamp(new Date(c.startedAtMs)) : undefined),
      finishedAt: timestamp(),
      containerID: c.containerID,
    };
    // Why it failed (its message, else its last log line) in the emulator's own log: the pod directory, with the
    // container's log, goes with the pod.
    const why = exitCode !== 0 && !deliberate ? (message ?? c.tail.at(-1)) : undefined;
    this.ctx.log(
      `pod ${this.namespace}/${this.name}: container ${c.spec.name} exited ${exitCode}${deliberate ? ' (killed)' : ''}` +
        (why ? `: ${why.split('\n').at(-1)!.slice(0, 500)}` : ''),
    );
    if (c.init && !c.sidecar && exitCode === 0) {
      c.done = true;
      this.kick();
      return;
    }
    const podPolicy = this.pod.spec?.restartPolicy ?? 'Always';
    const policy = c.sidecar ? 'Always' : c.init && podPolicy === 'Always' ? 'OnFailure' : podPolicy;
    const restart = policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
    if (!restart) {
      c.done = true;
      this.requestWrite();
      this.kick();
      return;
    }
    if (ranMs >= this.ctx.backoff.resetAfterMs) c.consecutiveFailures = 0;
    const delay =
      c.consecutiveFailures === 0
        ? 0
        : Math.min(this.ctx.backoff.initialMs * 2 ** (c.consecutiveFailures - 1), this.ctx.backoff.maxMs);
    c.consecutiveFailures++;
    c.lastState = c.state;
    if (delay > 0) {
      c.state = {
        kind: 'waiting',
        reason: 'CrashLoopBackOff',
        message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.spec.name} pod=${this.name}_${this.namespace}(${this.uid})`,
      };
      c.backoffUntil = Date.now() + delay;
      c.backoffTimer = setTimeout(() => this.kick(), delay);
    }
    this.requestWrite();
    this.kick();
  }

  // ---- termination ----

  private graceSeconds(): number {
    return (
      this.pod.metadata?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30
    );
  }

  private adjustDeadline(): void {
    const at = Date.now() + this.graceSeconds() * 1000;
    if (at >= this.deadline.at) return;
    this.deadline.at = at;
    if (this.deadline.timer) clearTimeout(this.deadline.timer);
    this.deadline.timer = setTimeout(() => this.deadline.reached(), Math.max(0, at - Date.now()));
  }

  private terminating_: Promise<void> | undefined;

  private terminate(): Promise<void> {
    this.terminating_ ??= this.runTermination();
    return this.terminating_;
  }

  private async runTermination(): Promise<void> {
    this.terminating = true;
    if (this.writeTimer) clearTimeout(this.writeTimer);
    const deadlineReached = new Promise<void>((r) => (this.deadline.reached = r));
    this.adjustDeadline();
    const all = [...this.containers, ...this.initContainers];
    for (const c of all) {
      c.stopProbes();
      if (c.backoffTimer) clearTimeout(c.backoffTimer);
    }
    await Promise.all(all.map((c) => c.starting));
    this.ctx.log(`pod ${this.namespace}/${this.name}: terminating (grace ${this.graceSeconds()}s)`);
    await Promise.all(all.filter((c) => c.running).map((c) => this.terminateContainer(c, deadlineReached)));
    if (this.deadline.timer) clearTimeout(this.deadline.timer);
    if (this.stopped || this.finished) return;
    // Finish the deletion, as the kubelet does once the containers are gone.
    for (let attempt = 0; !this.finished && !this.stopped; attempt++) {
      try {
        await this.ctx.api.delete(`/api/v1/namespaces/${this.namespace}/pods/${this.name}`, {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          gracePeriodSeconds: 0,
          preconditions: { uid: this.uid },
        });
        return;
      } catch (e) {
        if (isNotFound(e) || (e as { code?: number }).code === 409) return;
        this.ctx.log(`pod ${this.namespace}/${this.name}: final delete failed: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, Math.min(5000, 500 * 2 ** attempt)));
      }
    }
  }

  private async terminateContainer(c: Container, deadlineReached: Promise<void>): Promise<void> {
    const running = c.running!;
    const remaining = () => this.deadline.at - Date.now();
    const preStop = c.spec.lifecycle?.preStop;
    if (preStop) {
      const hook = (async () => {
        if (preStop.exec?.command) {
          const r = await running.exec(preStop.exec.command, Math.max(0, remaining()));
          if (r.exitCode !== 0)
            this.ctx.log(
              `pod ${this.namespace}/${this.name}: preStop of ${c.spec.name} exited ${r.exitCode}`,
            );
        } else if (preStop.httpGet) {
          const port = resolvePort(preStop.httpGet.port, c.spec);
          if (port !== undefined) {
            await runProbe(
              { httpGet: { ...preStop.httpGet, port } },
              { podIP: this.ip!, container: c.spec, running },
              Math.max(1, remaining()),
            );
          }
        } else if (preStop.sleep) {
          await new Promise((r) => setTimeout(r, preStop.sleep!.seconds * 1000));
        }
      })().catch(() => {});
      await Promise.race([hook, deadlineReached]);
    }
    c.generation++;
    const stopped = running.stop({ graceful: true }).catch(() => {});
    const outcome = await Promise.race([
      stopped.then(() => 'stopped' as const),
      deadlineReached.then(() => 'deadline' as const),
    ]);
    if (outcome === 'deadline') {
      this.ctx.log(`pod ${this.namespace}/${this.name}: grace period over, killing ${c.spec.name}`);
      await withTimeout(
        running.stop({ graceful: false }).catch(() => {}),
        5000,
      );
    }
    c.running = undefined;
  }

  private async killAll(): Promise<void> {
    const all = [...this.containers, ...this.initContainers];
    for (const c of all) {
      c.stopProbes();
      if (c.backoffTimer) clearTimeout(c.backoffTimer);
    }
    await Promise.all(all.map((c) => c.starting));
    await Promise.all(
      all.map(async (c) => {
        const r = c.running;
        c.running = undefined;
        c.generation++;
        if (r)
          await withTimeout(
            r.stop({ graceful: false }).catch(() => {}),
            5000,
          );
      }),
    );
  }

  // ---- status ----

  private requestWrite(): void {
    if (this.terminating || this.stopped || this.writeTimer) return;
    this.writeTimer = setTimeout(() => {
      this.writeTimer = undefined;
      void this.writeStatus();
    }, 25);
  }

  private willRestart(c: Container): boolean {
    return !c.done && !this.terminating;
  }

  private async writeStatus(): Promise<void> {
    if (this.terminating || this.stopped) return;
    const status = buildStatus(
      this.pod,
      {
        podIP: this.ip,
        hostIP: this.ctx.hostIP,
        startTime: this.startTime,
        sandboxReady: this.sandboxReady,
        initContainers: this.initContainers.map((c) => c.view(this.willRestart(c))),
        containers: this.containers.map((c) => c.view(this.willRestart(c))),
      },
      this.transitions,
    );
    const json = JSON.stringify(status);
    if (json === this.lastWritten) return;
    try {
      const res = await this.ctx.api.patch<V1Pod>(
        `/api/v1/namespaces/${this.namespace}/pods/${this.name}/status`,
        { metadata: { uid: this.uid }, status },
        CONTENT_TYPE.strategic,
      );
      this.lastWritten = json;
      this.lastWrittenRV = Number(res.metadata?.resourceVersion ?? 0);
    } catch (e) {
      if (isNotFound(e) || this.terminating) return;
      this.ctx.log(`pod ${this.namespace}/${this.name}: status write failed: ${(e as Error).message}`);
      setTimeout(() => this.requestWrite(), 1000);
    }
  }

  /** If someone else overwrote the fields the kubelet owns, write them again. */
  private checkStatusDrift(): void {
    if (this.lastWritten === undefined) return;
    const rv = Number(this.pod.metadata?.resourceVersion ?? 0);
    if (rv <= this.lastWrittenRV) return;
    const mine = JSON.parse(this.lastWritten) as {
      phase: string;
      podIP?: string;
      conditions: Array<{ type: string; status: string }>;
    };
    const seen = this.pod.status ?? {};
    const seenCond = new Map((seen.conditions ?? []).map((c) => [c.type, c.status]));
    const drift =
      seen.phase !== mine.phase ||
      seen.podIP !== mine.podIP ||
      mine.conditions.some((c) => seenCond.get(c.type) !== c.status);
    if (drift) {
      this.lastWritten = undefined;
      this.requestWrite();
    } else {
      // Readiness gates may have changed: recompute (a write happens only if something differs).
      this.requestWrite();
    }
  }
}
