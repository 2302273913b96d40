// Act: the small executor that carries out a plan, in the order a cluster needs it —
//   Secrets and (together with them) discovery RBAC and headless Service → config push, then ConfigMap → the
//   rollout action → core StatefulSet → replicant ReplicaSets → readiness gates → PDBs and (together) Services →
//   children no longer wanted (deleted) → status (and its Events). It reports which live objects it changed, and which fields (./write-fights.ts).
// Objects are applied with server-side apply only when the live object differs (an idle cluster costs zero
// writes). A write that fails stops the pass: the status is still written, computed from what was done, and the
// error is rethrown so the work queue retries with back-off. What the executor learns from a write (EMQX rejected
// the config, the API server refused the StatefulSet) goes into the status through the same pure functions the
// plan uses.
import {
  ANNOTATION_DRAINING,
  ANNOTATION_POD_DELETION_COST,
  LOWEST_DELETION_COST,
  CONDITION_ON_SERVING,
  FIELD_MANAGER,
  names,
} from '../api/names.ts';
import type { EMQXStatus } from '../api/types.ts';
import {
  apply,
  applyDiff,
  applyStatus,
  deleteObject,
  describeDiff,
  mergePatch,
  patchPodStatus,
} from '../k8s/apply.ts';
import type { EventRecorder } from '../k8s/events.ts';
import { KubeApiError, statusCodeOf, type KubeClient, type KubeObject } from '../k8s/rest.ts';
import { kubeTime } from '../k8s/time.ts';
import type { Logger } from '../observability/logger.ts';
import type { BuiltObject } from '../resources/index.ts';
import { hashObject } from '../resources/hash.ts';
import { connect, isAlreadyStarted, isNotInCluster, type EmqxApiFactory } from './emqx-access.ts';
import type { OwnedKind } from './cache.ts';
import { configObservation, requeueFor, type Plan } from './plan.ts';
import type { PlannedEvent, RolloutAction, ScaleTarget } from './rollout/types.ts';
import { liveChild, type Snapshot } from './snapshot.ts';
import { buildStatus, conditionEvents, statusChanged, type StatusDecisions } from './status.ts';
import type { ObjectWrite } from './write-fights.ts';

export interface ActDeps {
  client: KubeClient;
  events: EventRecorder;
  log: Logger;
  emqxApiFactory: EmqxApiFactory;
  /** Called with each stage's name and duration (metrics). */
  onStage?: (stage: string, seconds: number, failed: boolean) => void;
}

export interface ActResult {
  /** The status of this pass (written when it differed from the previous one). */
  status: EMQXStatus;
  requeueAfterMs: number;
  /** The error that stopped the pass, if one did. */
  failure?: unknown;
  /** The status was not written: its write failed, or the pass stopped at a key Secret that exists (the next pass starts from the stored status again). */
  statusFailed?: boolean;
  /** Live objects this pass changed, and which fields (what ./write-fights.ts watches). */
  writes: ObjectWrite[];
  /**
   * A create-only key Secret (Plan.createOnly) exists after all: the pass stopped before anything used its fresh
   * value, and the next one, at once, must read it from the API server (ObserveDeps.verifyKeySecrets).
   */
  keySecretExists?: string;
}

type Stage =
  | 'ensureSecrets'
  | 'ensureBaseObjects'
  | 'syncConfig'
  | 'rollout'
  | 'ensureCores'
  | 'ensureReplicants'
  | 'updatePodConditions'
  | 'ensurePdbs'
  | 'ensureServices'
  | 'pruneUnwanted';

/** The stage that applies an object of the plan's list. */
function stageOf(s: Snapshot, obj: BuiltObject): Stage {
  switch (obj.kind) {
    case 'Certificate': // before the Secret cert-manager writes from it is needed
    case 'Secret':
      return 'ensureSecrets';
    case 'ConfigMap':
      return 'syncConfig';
    case 'StatefulSet':
      return 'ensureCores';
    case 'ReplicaSet':
      return 'ensureReplicants';
    case 'PodDisruptionBudget':
      return 'ensurePdbs';
    case 'Service':
      return obj.metadata?.name === names.headlessService(s.emqx) ? 'ensureBaseObjects' : 'ensureServices';
    default:
      return 'ensureBaseObjects'; // discovery ServiceAccount, Role, RoleBinding
  }
}

/** A create-only write refused because the object exists (./snapshot.ts readsKeySecretsFromServer). */
class KeySecretExists extends Error {
  readonly secret: string;
  constructor(secret: string) {
    super(`Secret ${secret} exists: read it before using it`);
    this.secret = secret;
  }
}

class PassFailed extends Error {
  readonly stage: string;
  constructor(stage: string, cause: unknown) {
    super(`step ${stage}: ${(cause as Error).message}`, { cause });
    this.stage = stage;
  }
}

export async function act(deps: ActDeps, s: Snapshot, p: Plan, now: Date): Promise<ActResult> {
  const { client, events, log } = deps;
  const ns = s.namespace;
  const record = (e: PlannedEvent) =>
    void (e.type === 'Normal'
      ? events.normal(s.raw, e.reason, e.message)
      : events.warning(s.raw, e.reason, e.message));
  const decisions: StatusDecisions = {
    ...p.decisions,
    activity: { ...p.decisions.activity },
    progressing: { ...p.decisions.progressing },
  };
  const waits: number[] = [];
  let coresApplied = false;
  let failure: unknown;
  let statusFailed = false;
  let keySecretExists: string | undefined;
  const writes: ObjectWrite[] = [];

  const stage = async (name: Stage, fn: () => Promise<void>) => {
    const t0 = process.hrtime.bigint();
    let failed = false;
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw new PassFailed(name, err);
    } finally {
      deps.onStage?.(name, Number(process.hrtime.bigint() - t0) / 1e9, failed);
    }
  };

  const applyIfChanged = async (desired: BuiltObject) => {
    const live =
      desired.kind === 'Certificate'
        ? (s.tls?.liveCertificates?.get(desired.metadata!.name!) as BuiltObject | undefined)
        : liveChild<BuiltObject>(s, desired.kind as OwnedKind, desired.metadata!.name!);
    const diff = applyDiff(desired, live, { limit: 10 });
    if (diff.length === 0) return;
    log.info('applying', {
      kind: desired.kind,
      object: desired.metadata?.name,
      changes: live ? describeDiff(diff) : 'created',
    });
    const createOnly = desired.kind === 'Secret' && p.createOnly?.includes(desired.metadata!.name!) === true;
    try {
      await apply(client, desired as KubeObject, { createOnly });
    } catch (err) {
      if (createOnly && statusCodeOf(err) === 409) throw new KeySecretExists(desired.metadata!.name!);
      throw err;
    }
    if (live) {
      const managers = (live as KubeObject).metadata?.managedFields ?? [];
      writes.push({
        object: `${desired.kind}/${desired.metadata!.name!}`,
        desired: hashObject(desired),
        fields: diff.map((e) => e.path || '<object>'),
        otherManagers: [
          ...new Set(
            managers
              .filter((m) => m.manager && m.manager !== FIELD_MANAGER && m.subresource !== 'status')
              .map((m) => m.manager!),
          ),
        ],
      });
    }
  };
  // The objects of one stage do not depend on each other: they are applied together (one round trip of latency
  // instead of one per object, which is what a burst of new clusters waits on); the stage fails with the first error
  // once every write of it has finished. Not the base objects: a RoleBinding is refused while its Role is missing
  // (the operator holds the Role's rules, not `bind`).
  const applyStage = async (name: Stage) => {
    if (name === 'ensureBaseObjects') {
      for (const obj of p.objects) if (stageOf(s, obj) === name) await applyIfChanged(obj);
      return;
    }
    const results = await Promise.allSettled(
      p.objects.filter((obj) => stageOf(s, obj) === name).map(applyIfChanged),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  // Stages that do not depend on each other run together (one round trip of latency instead of one per stage);
  // once all finished, the first failure in the listed order stops the pass, as if they had run one by one.
  const together = async (...run: Array<[Stage, () => Promise<void>]>) => {
    const results = await Promise.allSettled(run.map(([name, fn]) => stage(name, fn)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  const scale = async (t: ScaleTarget) => {
    if (t.from === t.replicas) return;
    log.info('scaling', { kind: t.set.kind, object: t.set.name, from: t.from, to: t.replicas });
    await mergePatch(
      client,
      { ...t.set, namespace: ns },
      { spec: { replicas: t.replicas } },
      { subresource: 'scale' },
    );
  };
  const annotatePod = (pod: string, annotations: Record<string, string>) =>
    mergePatch(
      client,
      { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: pod },
      { metadata: { annotations } },
    );
  const emqxApi = (exclude?: string) => connect(deps.emqxApiFactory, s.access, exclude);

  const runAction = async (a: RolloutAction) => {
    // One line per rollout write: which node or pod it is about (the record a crash or a lost session is read
    // against).
    log.info('rollout action', {
      kind: a.kind,
      ...('node' in a && { node: a.node }),
      ...('pod' in a && { pod: a.pod.name }),
      ...('nodes' in a && { nodes: a.nodes }),
      ...('scale' in a && a.scale && { set: a.scale.set.name, from: a.scale.from, to: a.scale.replicas }),
    });
    switch (a.kind) {
      case 'dsSetReplicas': {
        const api = emqxApi();
        if (!api) return;
        await api.dsSetReplicas(a.db, a.sites);
        break;
      }
      case 'stopEvacuations': {
        const api = emqxApi();
        if (!api) return;
        for (const node of a.nodes) await api.evacuationStop(node);
        break;
      }
      case 'evacuate': {
        const api = emqxApi();
        if (!api) return;
        // The pod is marked first: a pass that stops between the two writes sees a draining pod with no
        // evacuation and starts it again, where the other order would leave an evacuating pod serving.
        if (a.markDraining) {
          await annotatePod(a.pod.name, {
            [ANNOTATION_DRAINING]: a.markDraining,
            ...(a.lowestDeletionCost && { [ANNOTATION_POD_DELETION_COST]: LOWEST_DELETION_COST }),
          });
        }
        try {
          await api.evacuationStart(a.node, a.body);
        } catch (err) {
          if (!isAlreadyStarted(err)) throw err;
        }
        break;
      }
      case 'markDraining':
        await annotatePod(a.pod.name, {
          [ANNOTATION_DRAINING]: a.since,
          ...(a.lowestDeletionCost && { [ANNOTATION_POD_DELETION_COST]: LOWEST_DELETION_COST }),
        });
        break;
      case 'markRetiring':
        await annotatePod(a.pod.name, {
          [ANNOTATION_POD_DELETION_COST]: LOWEST_DELETION_COST,
          ...(a.markDraining && { [ANNOTATION_DRAINING]: a.markDraining }),
        });
        break;
      case 'replacePod':
        await deleteObject(
          client,
          { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: a.pod.name },
          { uid: a.pod.uid },
        );
        break;
      case 'removeNode': {
        // Asked through another node: EMQX refuses a force_leave of itself.
        const api = a.leave ? emqxApi(a.exclude) : undefined;
        // A node the plan says is in the cluster is never scaled away without leaving it: it would stay listed as
        // a stopped core until cluster.autoclean (24 h). The pass fails and is retried instead.
        if (a.leave && !api)
          throw new Error(
            `${a.node} must leave the cluster before its pod goes, and no other core can be asked to remove it (${s.access.unavailable ?? 'no other ready core pod'})`,
          );
        if (api) {
          try {
            await api.forceLeave(a.node);
            record({ type: 'Normal', reason: 'NodeLeftCluster', message: `${a.node} left the cluster` });
          } catch (err) {
            if (!isNotInCluster(err)) throw err;
          }
        }
        if (a.scale) await scale(a.scale);
        break;
      }
      case 'scale':
        for (const t of a.targets) await scale(t);
        break;
      case 'retireReplicant':
        await annotatePod(a.pod.name, { [ANNOTATION_POD_DELETION_COST]: LOWEST_DELETION_COST });
        await scale(a.scale);
        break;
      case 'prune':
        for (const o of a.objects) await deleteObject(client, { ...o, namespace: ns }, { uid: o.uid });
        break;
    }
    for (const e of a.events) record(e);
  };

  for (const e of p.events) record(e);
  try {
    // A certificate that is not usable yet halts the pass, but cert-manager's Certificates are still written.
    if (p.halted === 'invalid certificate') await stage('ensureSecrets', () => applyStage('ensureSecrets'));
    if (!p.halted) {
      // the key Secrets and the discovery RBAC / headless Service need nothing of each other
      await together(
        ['ensureSecrets', () => applyStage('ensureSecrets')],
        ['ensureBaseObjects', () => applyStage('ensureBaseObjects')],
      );
      await stage('syncConfig', async () => {
        if (p.configPush) {
          const api = emqxApi();
          try {
            if (!api) throw new Error('no EMQX API target');
            await api.putConfigs(p.configPush.hocon, { mode: p.configPush.mode, ignoreReadonly: true });
          } catch (err) {
            const e = err as Error & { status?: number };
            const rejected = e.status === 400;
            decisions.config = configObservation(s, { ok: false, rejected, message: e.message });
            if (rejected)
              record({ type: 'Warning', reason: 'ConfigRejected', message: decisions.config.message! });
            else waits.push(5000);
            return;
          }
          await applyStage('syncConfig');
          record(p.configPush.event);
          return;
        }
        await applyStage('syncConfig');
      });
      if (p.rollout.action) {
        const action = p.rollout.action;
        await stage('rollout', () => runAction(action));
      }
      await stage('ensureCores', async () => {
        try {
          await applyStage('ensureCores');
          coresApplied = true;
        } catch (err) {
          if (err instanceof KubeApiError && err.code === 422) {
            record({ type: 'Warning', reason: 'CoreStatefulSetRejected', message: err.message });
            decisions.activity.core = `the API server refused the core StatefulSet: ${err.message}`;
            return;
          }
          throw err;
        }
      });
      await stage('ensureReplicants', async () => {
        for (const t of p.scales) await scale(t);
        await applyStage('ensureReplicants');
      });
    }
    if (p.halted !== 'paused') {
      await stage('updatePodConditions', async () => {
        for (const change of p.serving) {
          await patchPodStatus(
            client,
            { namespace: ns, name: change.pod },
            {
              conditions: [
                {
                  type: CONDITION_ON_SERVING,
                  status: change.status,
                  lastTransitionTime: kubeTime(now),
                  reason: change.status === 'True' ? 'NodeServing' : 'NodeNotServing',
                  message:
                    change.status === 'True'
                      ? 'the EMQX node runs in the cluster'
                      : 'the EMQX node is not running in the cluster, or is being drained',
                },
              ],
            },
          );
        }
      });
    }
    if (!p.halted) {
      await together(
        ['ensurePdbs', () => applyStage('ensurePdbs')],
        ['ensureServices', () => applyStage('ensureServices')],
      );
      await stage('pruneUnwanted', async () => {
        for (const d of p.deletions ?? []) {
          log.info('deleting', { kind: d.kind, object: d.name, reason: d.reason });
          const deleted = await deleteObject(
            client,
            { apiVersion: d.apiVersion, kind: d.kind, namespace: ns, name: d.name },
            { uid: d.uid },
          );
          if (deleted)
            record({
              type: 'Normal',
              reason: 'Deleted',
              message: `${d.kind} ${d.name} deleted: ${d.reason}`,
            });
        }
      });
    }
  } catch (err) {
    const cause = err instanceof PassFailed ? err.cause : err;
    if (cause instanceof KeySecretExists) {
      // not a failure: this pass did not see the Secret (a user's, or the informer lags); the next one reads it
      log.info('key Secret exists: reading it next pass', { object: cause.secret });
      keySecretExists = cause.secret;
    } else {
      failure = cause;
      const message = (err as Error).message;
      log.error('reconcile step failed', {
        step: (err as PassFailed).stage,
        error: (failure as Error).message,
      });
      record({ type: 'Warning', reason: 'ReconcileFailed', message });
    }
  }
  if (keySecretExists !== undefined) {
    // nothing was learned that the status could say: it is written by the next pass, which follows at once
    const status = buildStatus(s, decisions, now);
    return { status, requeueAfterMs: 0, writes, keySecretExists, statusFailed: true };
  }

  // The status, from what was done: the plan's, unless a write told otherwise.
  decisions.initialized = s.statefulSets.length > 0 || (p.decisions.initialized && coresApplied);
  if (p.halted) decisions.initialized = s.statefulSets.length > 0;
  const status = buildStatus(s, decisions, now);
  const statusEvents = conditionEvents(s.previousStatus, status);
  try {
    if (statusChanged(s.previousStatus, status)) {
      await applyStatus(client, {
        apiVersion: s.raw.apiVersion,
        kind: s.raw.kind,
        metadata: { name: s.name, namespace: ns },
        status,
      });
      for (const e of statusEvents) record(e);
    }
  } catch (err) {
    log.error('status update failed', { error: (err as Error).message });
    failure ??= err;
    statusFailed = true;
  }
  const requeueAfterMs = requeueFor(status, [...p.waits, ...waits], p.intervals, p.jitter);
  return {
    status,
    requeueAfterMs,
    writes,
    ...(failure !== undefined && { failure }),
    ...(statusFailed && { statusFailed }),
  };
}
