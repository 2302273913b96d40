// One reconcile pass of an EMQX resource, in three phases:
//   observe (snapshot.ts)  read the cache, the EMQX API and the bootstrap key Secrets into one immutable snapshot
//   plan    (plan.ts)      a pure function of the snapshot and the time: objects, at most one rollout action,
//                          readiness gates, status and Events
//   act     (act.ts)       apply the plan, write the status, and say when to come back
// See docs/engineering.md for the picture and for where a new feature goes.
import type { EMQX, EMQXStatus } from '../api/types.ts';
import type { EventRecorder } from '../k8s/events.ts';
import type { KubeClient } from '../k8s/rest.ts';
import type { Logger } from '../observability/logger.ts';
import { defaultRegistry } from '../observability/metrics.ts';
import { applyStatus } from '../k8s/apply.ts';
import { act } from './act.ts';
import {
  apiFailureOf,
  apiOutageVerdict,
  DEFAULT_API_OUTAGE_OPTIONS,
  REASON_API_FAILED,
  type ApiOutage,
  type ApiOutageOptions,
} from './api-outage.ts';
import type { ClusterCache } from './cache.ts';
import type { EmqxApiFactory } from './emqx-access.ts';
import { plan } from './plan.ts';
import { observe } from './snapshot.ts';
import { acknowledgementStatus } from './status.ts';
import {
  activeHold,
  DEFAULT_FIGHT_OPTIONS,
  NO_FIGHT,
  recordWrites,
  type FightOptions,
  type FightState,
} from './write-fights.ts';

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
  /** When a field fought over by another writer is held back (./write-fights.ts). */
  writeFights?: Partial<FightOptions>;
  /** How long an EMQX API failure on a Ready cluster goes unreported (./api-outage.ts). */
  apiOutage?: Partial<ApiOutageOptions>;
}

export interface ReconcileOutcome {
  requeueAfterMs?: number;
}

export class EmqxReconciler {
  private readonly d: ReconcilerDeps;
  /** The last status written (or confirmed) per resource. */
  private readonly lastStatus = new Map<string, { uid?: string; status: EMQXStatus }>();
  /** Recent writes and the write fight under way, per resource (./write-fights.ts). */
  private readonly fights = new Map<string, FightState>();
  /** Key values read from each resource's Secrets (by resource uid): a deleted Secret is put back with them. */
  private readonly keyValues = new Map<
    string,
    { uid?: string; cookie?: string; operatorSecret?: string; verify?: boolean }
  >();
  /** The EMQX API outage under way per resource (by resource uid), to report it only once it lasts (./api-outage.ts). */
  private readonly outages = new Map<string, { uid?: string; outage: ApiOutage }>();
  private readonly fightOptions: FightOptions;
  private readonly outageOptions: ApiOutageOptions;

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
    this.fightOptions = { ...DEFAULT_FIGHT_OPTIONS, ...deps.writeFights };
    this.outageOptions = { ...DEFAULT_API_OUTAGE_OPTIONS, ...deps.apiOutage };
  }

  /**
   * True for a resource no status was ever written for (by this process or an earlier one): its next pass only
   * acknowledges it (`acknowledgementStatus`), which the work queue runs ahead of ordinary passes.
   */
  neverSeen(namespace: string, name: string): boolean {
    const cached = this.d.cache.emqx(namespace, name);
    return (
      cached !== undefined &&
      !cached.metadata.deletionTimestamp &&
      !this.lastStatus.has(`${namespace}/${name}`) &&
      (cached.status === undefined || Object.keys(cached.status).length === 0)
    );
  }

  /** Writes the acknowledgement status of a never-seen resource; its first full pass follows at once. */
  private async acknowledge(key: string, cached: EMQX): Promise<ReconcileOutcome> {
    const t0 = process.hrtime.bigint();
    const status = acknowledgementStatus(cached.metadata.generation ?? 0, this.d.now?.() ?? new Date());
    try {
      await applyStatus(this.d.client, {
        apiVersion: cached.apiVersion,
        kind: cached.kind,
        metadata: { name: cached.metadata.name, namespace: cached.metadata.namespace },
        status,
      });
    } catch (err) {
      stepErrors.inc({ step: 'acknowledge' });
      reconcileTotal.inc({ kind: 'EMQX', result: 'error' });
      throw err;
    } finally {
      stepSeconds.observe({ step: 'acknowledge' }, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    this.lastStatus.set(key, { uid: cached.metadata.uid, status });
    reconcileTotal.inc({ kind: 'EMQX', result: 'acknowledged' });
    return { requeueAfterMs: 0 };
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileOutcome> {
    const key = `${namespace}/${name}`;
    const cached = this.d.cache.emqx(namespace, name);
    if (!cached || cached.metadata.deletionTimestamp) {
      this.lastStatus.delete(key);
      this.fights.delete(key);
      this.keyValues.delete(key);
      this.outages.delete(key);
      return {}; // children go with their owner reference
    }
    if (this.neverSeen(namespace, name)) return this.acknowledge(key, cached);
    // Only this operator writes the status, and the informer may not have seen its last write yet: start from what
    // was written, so a change is neither written nor announced (Event) twice.
    const memo = this.lastStatus.get(key);
    const raw: EMQX = memo && memo.uid === cached.metadata.uid ? { ...cached, status: memo.status } : cached;
    const started = process.hrtime.bigint();
    const log = this.d.log.child({ emqx: key });
    const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = process.hrtime.bigint();
      try {
        return await fn();
      } catch (err) {
        stepErrors.inc({ step });
        throw err;
      } finally {
        stepSeconds.observe({ step }, Number(process.hrtime.bigint() - t0) / 1e9);
      }
    };
    let failure: unknown;
    let requeueAfterMs: number | undefined;
    try {
      const known = this.keyValues.get(key);
      const remembered = known && known.uid === raw.metadata.uid ? known : undefined;
      const { snapshot, warnings } = await timed('observe', () =>
        observe(
          {
            cache: this.d.cache,
            client: this.d.client,
            emqxApiFactory: this.d.emqxApiFactory,
            log,
            ...(remembered && { remembered }),
            ...(remembered?.verify && { verifyKeySecrets: true }),
          },
          raw,
        ),
      );
      // what the Secrets hold now (read, or put back from memory); a value generated this pass is not remembered
      // until it is read back from its Secret
      const sec = snapshot.secrets;
      const cookie = sec.cookieExists ? sec.cookie : remembered?.cookie;
      const operatorSecret =
        !sec.operatorSecretGenerated || sec.operatorSecretRestored
          ? sec.operatorSecret
          : remembered?.operatorSecret;
      this.keyValues.set(key, {
        uid: raw.metadata.uid,
        ...(cookie !== undefined && { cookie }),
        ...(operatorSecret !== undefined && { operatorSecret }),
        ...(remembered?.verify && { verify: true }),
      });
      // a failed EMQX API read is the plan's to announce, once it counts (./api-outage.ts)
      for (const w of warnings)
        if (w.reason !== REASON_API_FAILED) void this.d.events.warning(raw, w.reason, w.message);
      const now = this.d.now?.() ?? new Date();
      const outageMemo = this.outages.get(key);
      const apiFailure = apiFailureOf(snapshot);
      const outage = apiOutageVerdict(
        outageMemo && outageMemo.uid === raw.metadata.uid ? outageMemo.outage : undefined,
        {
          ...(apiFailure !== undefined && { error: apiFailure }),
          readFailed: warnings.some((w) => w.reason === REASON_API_FAILED),
          wasReady:
            snapshot.previousStatus?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ??
            false,
        },
        now.getTime(),
        this.outageOptions,
      );
      if (outage.next) this.outages.set(key, { uid: raw.metadata.uid, outage: outage.next });
      else this.outages.delete(key);
      const fights = this.fights.get(key) ?? NO_FIGHT;
      const hold = activeHold(fights, now.getTime());
      const p = plan(snapshot, now, {
        ...(this.d.notReadyIntervalMs !== undefined && { notReadyIntervalMs: this.d.notReadyIntervalMs }),
        ...(this.d.readyIntervalMs !== undefined && { readyIntervalMs: this.d.readyIntervalMs }),
        ...(hold && { writeHold: hold }),
        apiOutage: outage,
      });
      const result = await act(
        {
          client: this.d.client,
          events: this.d.events,
          log,
          emqxApiFactory: this.d.emqxApiFactory,
          onStage: (step, seconds, failed) => {
            stepSeconds.observe({ step }, seconds);
            if (failed) stepErrors.inc({ step });
          },
        },
        snapshot,
        p,
        now,
      );
      if (!result.statusFailed) this.lastStatus.set(key, { uid: raw.metadata.uid, status: result.status });
      // a key Secret this pass did not see exists: from now on, key Secrets missing from the cache are read first
      if (result.keySecretExists !== undefined)
        this.keyValues.set(key, { ...this.keyValues.get(key), uid: raw.metadata.uid, verify: true });
      const next = recordWrites(fights, result.writes, now.getTime(), this.fightOptions);
      if (next.fight && next.fight !== fights.fight)
        log.warn('write fight: holding an object back', {
          object: next.fight.object,
          field: next.fight.field,
          managers: next.fight.otherManagers,
          holdMs: next.fight.until - next.fight.since,
        });
      if (next === NO_FIGHT) this.fights.delete(key);
      else this.fights.set(key, next);
      failure = result.failure;
      requeueAfterMs = result.requeueAfterMs;
    } catch (err) {
      log.error('reconcile failed', { error: (err as Error).message });
      void this.d.events.warning(raw, 'ReconcileFailed', `observe: ${(err as Error).message}`);
      failure = err;
    }
    reconcileSeconds.observe({ kind: 'EMQX' }, Number(process.hrtime.bigint() - started) / 1e9);
    reconcileTotal.inc({ kind: 'EMQX', result: failure ? 'error' : 'success' });
    if (failure) throw failure;
    return { requeueAfterMs };
  }
}
