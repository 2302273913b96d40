// The status of an EMQX resource, computed purely: conditions from the small pure functions in src/status, the
// node lists from EMQX, replica counts for both roles and the scale subresource; and the Events a write of it
// announces (a condition that flips).
import { LABEL_DB_ROLE, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY } from '../api/names.ts';
import type {
  Condition,
  DurableStorageStatus,
  EMQXNodesStatus,
  EMQXStatus,
  UpdateProgress,
} from '../api/types.ts';
import { kubeTime } from '../k8s/time.ts';
import { canonicalJson } from '../resources/hash.ts';
import {
  computeConditions,
  flips,
  initialized,
  foreignWorkloadsConditions,
  mergeConditions,
  phase,
  type ConfigObservation,
  type DurableStorageObservation,
  type RoleObservation,
  type StatusObservation,
} from '../status/conditions.ts';
import { summarize } from './durable-storage.ts';
import { containersReady, podRevision } from './pod-facts.ts';
import { currentCoreSet, dsRefusal } from './rollout/durable-storage.ts';
import type { PlannedEvent } from './rollout/types.ts';
import type { RoleView, Snapshot } from './snapshot.ts';

/** What the plan (and, where a write failed, the executor) decided that the status reports. */
export interface StatusDecisions {
  config: ConfigObservation;
  /** The objects the cluster is made of exist (or were just applied). */
  initialized: boolean;
  /** Per role: what is going on, in a few words. */
  activity: { core?: string; replicant?: string };
  /** Per role: a rollout, scale-down or drain is under way. */
  progressing: { core?: boolean; replicant?: boolean };
  update?: UpdateProgress;
  /** Workloads of another operator stop every change (why, and which): ./foreign-workloads.ts. */
  foreignWorkloads?: { reason: string; message: string };
  /** Why the operator holds back (Ready says so): a missing node-cookie Secret, a write fought over. */
  blocked?: { reason: string; message: string };
  /** An EMQX API failure within its grace (./api-outage.ts): the conditions do not mention it yet. */
  apiErrorHidden?: boolean;
}

/** CertificatesReady turns False this long before a certificate expires (cert-manager renews at 2/3 of 90 days). */
export const CERTIFICATE_WARN_BEFORE_MS = 14 * 86_400_000;

function roleObservation(
  view: RoleView,
  activity: string | undefined,
  progressing: boolean,
): RoleObservation {
  return {
    desired: view.desired,
    pods: view.pods.length,
    readyPods: view.pods.filter(containersReady).length,
    runningUpdated: view.updated.filter((p) => view.running.has(p.metadata!.name!)).length,
    updatedPods: view.updated.length,
    oldPods: view.old.length,
    progressing,
    ...(activity !== undefined && { activity }),
  };
}

function nodesStatus(view: RoleView, previous: EMQXNodesStatus | undefined): EMQXNodesStatus {
  const current = view.old.length > 0 ? podRevision(view.old[0]!) : view.hash;
  return {
    replicas: view.desired,
    readyReplicas: view.updated.filter((p) => view.running.has(p.metadata!.name!)).length,
    currentRevision: current ?? view.hash,
    currentReplicas: view.old.length > 0 ? view.old.length : view.updated.length,
    updateRevision: view.hash,
    updateReplicas: view.updated.length,
    ...(previous?.collisionCount !== undefined && { collisionCount: previous.collisionCount }),
  };
}

const IDLE_ROLE: RoleObservation = {
  desired: 0,
  pods: 0,
  readyPods: 0,
  runningUpdated: 0,
  updatedPods: 0,
  oldPods: 0,
  progressing: false,
};

/**
 * The status for this pass. A paused resource is not observed: its roles show as empty and only the conditions
 * and phase move.
 */
export function buildStatus(s: Snapshot, d: StatusDecisions, now: Date): EMQXStatus {
  const prev = s.previousStatus ?? {};
  const observed = !s.paused;
  const core = observed ? s.core : undefined;
  const repl = observed ? s.replicant : undefined;
  const hasReplicants = Boolean(
    repl && (repl.desired > 0 || repl.pods.length > 0 || s.emqx.spec.replicantTemplate),
  );
  const generation = s.raw.metadata.generation ?? 0;
  const observation: StatusObservation = {
    generation,
    paused: s.paused,
    initialized: d.initialized,
    core: core ? roleObservation(core, d.activity.core, d.progressing.core ?? false) : IDLE_ROLE,
    ...(hasReplicants &&
      repl && { replicant: roleObservation(repl, d.activity.replicant, d.progressing.replicant ?? false) }),
    config: d.config,
    ...(observed && s.apiError !== undefined && !d.apiErrorHidden && { apiUnreachable: s.apiError }),
    ...(s.tls && {
      certificates: {
        ...(s.tls.error !== undefined && { error: s.tls.error }),
        certificates: s.tls.certificates,
        now: now.getTime(),
        warnBeforeMs: CERTIFICATE_WARN_BEFORE_MS,
      },
    }),
    ...(observed &&
      s.ds && { durableStorage: dsObservation(s, d.apiErrorHidden ? prev.conditions : undefined) }),
    ...(d.foreignWorkloads !== undefined && { foreignWorkloads: d.foreignWorkloads }),
    ...(d.blocked !== undefined && { blocked: d.blocked }),
  };
  const computed = computeConditions(observation);
  // Foreign workloads: nothing of this cluster is this operator's to judge yet; the other conditions and the
  // cores/replicants columns stay as they were (as the previous operator left them), Ready says why.
  const foreign = d.foreignWorkloads !== undefined;
  const values = foreign ? foreignWorkloadsConditions(prev.conditions, computed) : computed;
  const conditions = mergeConditions(prev.conditions, values, kubeTime(now), generation);
  return {
    phase: phase(values, s.paused),
    observedGeneration: generation,
    conditions,
    // Empty lists are left out, as the Go operator does (its tooling tests for absence, not for []).
    ...nonEmpty('coreNodes', (s.coreNodes as EMQXStatus['coreNodes']) ?? prev.coreNodes),
    ...nonEmpty('replicantNodes', (s.replicantNodes as EMQXStatus['replicantNodes']) ?? prev.replicantNodes),
    ...(core && { coreNodesStatus: nodesStatus(core, prev.coreNodesStatus) }),
    ...(hasReplicants && repl && { replicantNodesStatus: nodesStatus(repl, prev.replicantNodesStatus) }),
    ...((s.evacuations?.length ?? 0) > 0 && { nodeEvacuationsStatus: [...s.evacuations!] }),
    cores:
      foreign && prev.cores ? prev.cores : `${observation.core.runningUpdated}/${observation.core.desired}`,
    replicants:
      foreign && prev.replicants
        ? prev.replicants
        : `${observation.replicant?.runningUpdated ?? 0}/${observation.replicant?.desired ?? 0}`,
    replicantReplicas: observation.replicant?.desired ?? 0,
    replicantSelector: `${LABEL_INSTANCE}=${s.name},${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_DB_ROLE}=replicant`,
    ...(d.update && { update: d.update }),
    ...(s.tls && s.tls.certificates.length > 0 && { certificates: [...s.tls.certificates] }),
    ...(observed && s.ds && dsStatus(s, prev.durableStorage)),
  };
}

/**
 * The first status of a resource this operator has never written one for: "picked up, creating the cluster
 * resources" (Initialized False, phase Initializing), written before the first full pass so that a burst of new
 * resources is acknowledged within a second while the passes that create their objects queue up. The first full
 * pass replaces it (one server-side apply of the whole status by the same field manager).
 */
export function acknowledgementStatus(generation: number, now: Date): EMQXStatus {
  const value = initialized({ initialized: false } as StatusObservation);
  return {
    phase: phase([value], false),
    observedGeneration: generation,
    conditions: mergeConditions(undefined, [value], kubeTime(now), generation),
  };
}

/** Nothing observed yet: no status, or only the acknowledgement (Initialized False and nothing else). */
function nothingObserved(previous: EMQXStatus | undefined): boolean {
  const c = previous?.conditions;
  return !c || c.length === 0 || (c.length === 1 && c[0]!.type === 'Initialized' && c[0]!.status === 'False');
}

/** `hiddenOutage`: the conditions last written, given while an EMQX API failure is within its grace. */
function dsObservation(s: Snapshot, hiddenOutage: Condition[] | undefined): DurableStorageObservation {
  const ds = s.ds!;
  const refusal = dsRefusal(s, currentCoreSet(s));
  const sum = ds.observed && summarize(ds.observed, ds.replicationFactor);
  const last = hiddenOutage?.find((c) => c.type === 'DurableStorage');
  return {
    active: ds.active,
    replicationFactor: ds.replicationFactor,
    ...(ds.active && !ds.observed && { unreadable: ds.error ?? 'no answer' }),
    ...(last && { lastKnown: { status: last.status, reason: last.reason, message: last.message } }),
    shards: sum?.shards ?? 0,
    underReplicated: sum?.underReplicated ?? 0,
    transitions: sum?.transitions ?? 0,
    sites: ds.observed?.sites.length ?? 0,
    ...(refusal && { refusal }),
  };
}

/** status.durableStorage: fresh when `/ds` was read, else the last one written. */
function dsStatus(
  s: Snapshot,
  previous: DurableStorageStatus | undefined,
): { durableStorage?: DurableStorageStatus } {
  const ds = s.ds!;
  if (!ds.observed) return previous ? { durableStorage: previous } : {};
  const sum = summarize(ds.observed, ds.replicationFactor);
  return {
    durableStorage: {
      replicationFactor: ds.replicationFactor,
      sites: ds.observed.sites.map((x) => ({ ...x, shards: sum.shardsPerSite[x.site] ?? 0 })),
      shards: sum.shards,
      underReplicatedShards: sum.underReplicated,
      transitions: sum.transitions,
    },
  };
}

function nonEmpty<K extends string, T>(key: K, list: T[] | undefined): Partial<Record<K, T[]>> {
  return list !== undefined && list.length > 0 ? ({ [key]: list } as Record<K, T[]>) : {};
}

function withoutUptime(status: EMQXStatus): EMQXStatus {
  const strip = (nodes: EMQXStatus['coreNodes']) => nodes?.map(({ uptime: _uptime, ...n }) => n);
  return { ...status, coreNodes: strip(status.coreNodes), replicantNodes: strip(status.replicantNodes) };
}

/**
 * Whether `next` is worth a write. Node uptimes change on every read: on their own they are no reason to write
 * (an idle cluster costs zero writes); they are refreshed whenever something else changes.
 */
export function statusChanged(previous: EMQXStatus | undefined, next: EMQXStatus): boolean {
  return canonicalJson(withoutUptime(next)) !== canonicalJson(withoutUptime(previous ?? {}));
}

const GOOD_WHEN_TRUE = new Set([
  'Initialized',
  'CoreNodesReady',
  'ReplicantNodesReady',
  'Available',
  'Ready',
  'ConfigApplied',
  'CertificatesReady',
  'DurableStorage',
]);

/**
 * True while the resource has never been Ready since its resources were created: no status yet, or Ready is not
 * True and has not flipped since Initialized did (Initialized stays True once the StatefulSet exists, so a Ready
 * that went True and back to False has a later lastTransitionTime).
 */
export function creating(previous: EMQXStatus | undefined): boolean {
  const ready = previous?.conditions?.find((c) => c.type === 'Ready');
  const init = previous?.conditions?.find((c) => c.type === 'Initialized');
  if (!ready || !init) return true;
  if (ready.status === 'True') return false;
  return Date.parse(ready.lastTransitionTime) <= Date.parse(init.lastTransitionTime);
}

/**
 * The Events a status write announces: one per condition that flipped (none for "not yet" on the first pass).
 * While a new cluster comes up, only what a person wants to read: the resources were created, the cluster is Ready,
 * or its config was refused — not each step of every condition on the way.
 */
export function conditionEvents(previous: EMQXStatus | undefined, next: EMQXStatus): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  const quiet = creating(previous);
  for (const c of flips(previous?.conditions, next.conditions ?? [])) {
    if (nothingObserved(previous) && c.status === 'False') continue;
    if (
      quiet &&
      c.type !== 'Initialized' &&
      !(c.type === 'Ready' && c.status === 'True') &&
      !(c.type === 'ConfigApplied' && c.status === 'False')
    )
      continue;
    const good = GOOD_WHEN_TRUE.has(c.type) ? c.status === 'True' : c.status === 'False';
    out.push({
      type: good ? 'Normal' : 'Warning',
      reason: c.reason,
      message: `${c.type} is ${c.status}: ${c.message}`,
    });
  }
  return out;
}
