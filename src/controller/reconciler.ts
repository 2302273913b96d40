// One reconcile pass of an EMQX resource: a short, ordered pipeline of named steps (./steps). Every step runs in
// order; a step that finds bad input halts the writing steps, and the status step always runs last, so the status
// reflects what happened even when a step failed.
import { ANNOTATION_PAUSED } from '../api/names.ts';
import { applyDefaults } from '../api/defaults.ts';
import type { EMQX, EMQXStatus } from '../api/types.ts';
import type { EventRecorder } from '../k8s/events.ts';
import type { KubeClient } from '../k8s/rest.ts';
import type { Logger } from '../observability/logger.ts';
import { defaultRegistry } from '../observability/metrics.ts';
import type { ClusterCache } from './cache.ts';
import {
  detectForeignWorkloads,
  foreignWorkloadsMessage,
  REASON_FOREIGN_WORKLOADS,
  type ForeignWorkload,
  type WorkloadLike,
} from './foreign-workloads.ts';
import type { EmqxApiFactory, ReconcileContext, Step } from './context.ts';
import { ensureBaseObjects } from './steps/base.ts';
import { parseConfig } from './steps/config.ts';
import { syncConfig } from './steps/config-sync.ts';
import { ensureCores } from './steps/cores.ts';
import { observeCluster } from './steps/observe.ts';
import { ensurePdbs } from './steps/pdbs.ts';
import { updatePodConditions } from './steps/pod-conditions.ts';
import { ensureReplicants } from './steps/replicants.ts';
import { rollout } from './steps/rollout.ts';
import { ensureSecrets } from './steps/secrets.ts';
import { ensureServices } from './steps/services.ts';
import { updateStatus } from './steps/status.ts';

interface PipelineEntry {
  step: Step;
  /** Runs even after a halt (observation and status only; never writes from the spec). */
  always?: boolean;
}

export const PIPELINE: PipelineEntry[] = [
  { step: parseConfig },
  { step: ensureSecrets },
  { step: ensureBaseObjects },
  { step: observeCluster, always: true },
  { step: syncConfig },
  { step: rollout },
  { step: ensureCores },
  { step: ensureReplicants },
  { step: updatePodConditions, always: true },
  { step: ensurePdbs },
  { step: ensureServices },
];

const reconcileTotal = defaultRegistry.counter({
  name: 'emqx_operator_reconcile_total',
  help: 'Reconcile passes by resource kind and result.',
  labelNames: ['kind', 'result'],
});
const reconcileSeconds = defaultRegistry.histogram({
  name: 'emqx_operator_reconcile_duration_seconds',
  help: 'Duration of reconcile passes.',
  labelNames: ['kind'],
});
const stepSeconds = defaultRegistry.histogram({
  name: 'emqx_operator_reconcile_step_duration_seconds',
  help: 'Duration of reconcile steps.',
  labelNames: ['step'],
});
const stepErrors = defaultRegistry.counter({
  name: 'emqx_operator_reconcile_step_errors_total',
  help: 'Reconcile steps that failed.',
  labelNames: ['step'],
});

export interface ReconcilerDeps {
  client: KubeClient;
  cache: ClusterCache;
  events: EventRecorder;
  log: Logger;
  emqxApiFactory: EmqxApiFactory;
  now?: () => Date;
  /** Re-check interval while the cluster is not Ready (EMQX node state Kubernetes cannot see). Default 5 s. */
  notReadyIntervalMs?: number;
  /** Safety-net re-check once Ready. Default 30 s. */
  readyIntervalMs?: number;
}

export interface ReconcileOutcome {
  requeueAfterMs?: number;
}

export class EmqxReconciler {
  private readonly d: ReconcilerDeps;
  /** The last status written (or confirmed) per resource. */
  private readonly lastStatus = new Map<string, { uid?: string; status: EMQXStatus }>();

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
  }

  private foreignWorkloads(namespace: string, name: string): ForeignWorkload[] {
    return detectForeignWorkloads([
      ...this.d.cache
        .ownedBy<WorkloadLike>('StatefulSet', namespace, name)
        .map((o) => ({ ...o, kind: 'StatefulSet' })),
      ...this.d.cache
        .ownedBy<WorkloadLike>('ReplicaSet', namespace, name)
        .map((o) => ({ ...o, kind: 'ReplicaSet' })),
    ]);
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileOutcome> {
    const cached = this.d.cache.emqx(namespace, name);
    if (!cached || cached.metadata.deletionTimestamp) {
      this.lastStatus.delete(`${namespace}/${name}`);
      return {}; // children go with their owner reference
    }
    // Only this operator writes the status, and the informer may not have seen its last write yet: start from what
    // was written, so a change is neither written nor announced (Event) twice.
    const memo = this.lastStatus.get(`${namespace}/${name}`);
    const raw = memo && memo.uid === cached.metadata.uid ? { ...cached, status: memo.status } : cached;
    const started = process.hrtime.bigint();
    const log = this.d.log.child({ emqx: `${namespace}/${name}` });
    const ctx: ReconcileContext = {
      namespace,
      name,
      raw,
      emqx: applyDefaults(raw as EMQX),
      conf: {},
      cache: this.d.cache,
      client: this.d.client,
      events: this.d.events,
      log,
      emqxApiFactory: this.d.emqxApiFactory,
      observed: { config: { state: 'Applied' }, initialized: false, apiTargets: [] },
      now: this.d.now ?? (() => new Date()),
    };
    const paused = raw.metadata.annotations?.[ANNOTATION_PAUSED] === 'true';
    ctx.observed.paused = paused;
    // Workloads of another operator (the Go emqx-operator) under this resource: change nothing, say so.
    const foreign = paused ? [] : this.foreignWorkloads(namespace, name);
    if (foreign.length > 0) {
      const message = foreignWorkloadsMessage(name, foreign);
      ctx.observed.foreignWorkloads = message;
      // One Event: the status step announces Ready flipping from True; otherwise it is said here.
      const ready = raw.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.reason !== REASON_FOREIGN_WORKLOADS && ready?.status !== 'True')
        void this.d.events.warning(raw, REASON_FOREIGN_WORKLOADS, message);
    }
    let halted: string | undefined = paused ? 'reconciliation paused' : undefined;
    const requeues: number[] = [];
    let failure: unknown;
    for (const { step, always } of PIPELINE) {
      if (paused || foreign.length > 0 || (halted && !always)) continue;
      const t0 = process.hrtime.bigint();
      try {
        const r = await step.run(ctx);
        if (r && 'halt' in r) halted = r.halt;
        if (r && 'requeueAfterMs' in r) requeues.push(r.requeueAfterMs);
      } catch (err) {
        stepErrors.inc({ step: step.name });
        const message = `step ${step.name}: ${(err as Error).message}`;
        log.error('reconcile step failed', { step: step.name, error: (err as Error).message });
        void this.d.events.warning(raw, 'ReconcileFailed', message);
        failure = err;
        break;
      } finally {
        stepSeconds.observe({ step: step.name }, Number(process.hrtime.bigint() - t0) / 1e9);
      }
    }
    ctx.observed.initialized ||= this.d.cache.ownedBy('StatefulSet', namespace, name).length > 0;
    try {
      await updateStatus.run(ctx);
      if (ctx.observed.status)
        this.lastStatus.set(`${namespace}/${name}`, { uid: raw.metadata.uid, status: ctx.observed.status });
    } catch (err) {
      log.error('status update failed', { error: (err as Error).message });
      failure ??= err;
    }
    reconcileSeconds.observe({ kind: 'EMQX' }, Number(process.hrtime.bigint() - started) / 1e9);
    reconcileTotal.inc({ kind: 'EMQX', result: failure ? 'error' : 'success' });
    if (failure) throw failure;
    const ready = ctx.observed.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    const base = ready ? (this.d.readyIntervalMs ?? 30_000) : (this.d.notReadyIntervalMs ?? 5_000);
    return { requeueAfterMs: Math.min(base, ...requeues) };
  }
}
