// Upgrades, restarts and scale-down that drop no client and lose no data.
//
// Everything here is derived from what the cluster shows (pod revisions, the EMQX node list, evacuation states,
// annotations on pods), so an operator killed at any moment resumes where it was, and a new pod template that
// arrives mid-way simply becomes the target (older revisions are all "old" alike). One action per pass at most;
// the pass then asks to be re-run soon.
//
// Cores, InPlace (default): one StatefulSet with OnDelete; outdated pods are replaced one at a time, highest
//   ordinal first, each only when every other core runs, after its clients were evacuated, and the next only after
//   the replacement runs in the cluster on the new revision. Pods keep their names and PVCs, so data stays put.
// Cores, BlueGreen: a new StatefulSet joins the cluster; old cores leave (evacuated, then force_leave) one at a
//   time after the replicants moved, highest ordinal first.
// Core scale-down: one node at a time: evacuate, leave the cluster, then remove the pod (PVC per the retention
//   policy). Never below one core.
// Replicants, BlueGreen: a new ReplicaSet at full size; once all its nodes serve (and initialDelaySeconds passed),
//   old pods are drained one at a time: node evacuation to the new replicants on editions that have it, else the
//   pod stops serving and the operator waits waitTakeover seconds; then the pod goes.
import type { V1Pod, V1ReplicaSet, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import { coreNodeName, LABEL_POD_TEMPLATE_HASH, names, replicantNodeName } from '../../api/names.ts';
import type { NodeEvacuationStatus } from '../../api/types.ts';
import { deleteObject } from '../../k8s/apply.ts';
import { clusterDomainOf, coreIsBlueGreen } from '../../resources/index.ts';
import type { ReconcileContext, RoleState, Step, StepResult } from '../context.ts';
import { isTerminating, podCreated, supportsEvacuation, type ApiNode } from '../observe.ts';
import { scaleSet } from '../scale.ts';
import { coreReplicasOverride } from './cores.ts';
import { ANNOTATION_DRAINING } from './pod-conditions.ts';
import { operatorKeyFrom } from './secrets.ts';

const SOON: StepResult = { requeueAfterMs: 1000, reason: 'rollout in progress' };
const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

function ordinal(pod: V1Pod): number {
  const m = /-(\d+)$/.exec(pod.metadata?.name ?? '');
  return m ? Number(m[1]) : -1;
}

function nodeNameOf(ctx: ReconcileContext, pod: V1Pod): string {
  return pod.metadata?.labels?.['apps.emqx.io/db-role'] === 'replicant'
    ? replicantNodeName(pod.status?.podIP ?? '')
    : coreNodeName(ctx.emqx, pod.metadata!.name!, clusterDomainOf(ctx.emqx));
}

function apiNode(ctx: ReconcileContext, node: string): ApiNode | undefined {
  return ctx.observed.nodes?.find((n) => n.node === node);
}

function evacuationOf(ctx: ReconcileContext, node: string): NodeEvacuationStatus | undefined {
  return ctx.observed.evacuations?.find((e) => e.node === node);
}

function progress(ctx: ReconcileContext, phase: string, node: string | undefined, message: string): void {
  ctx.observed.update = { phase, ...(node && { node }), message };
  const state = phase.includes('Replicant') ? ctx.observed.replicant : ctx.observed.core;
  if (state) {
    state.progressing = true;
    state.activity = message;
  }
}

async function annotatePod(
  ctx: ReconcileContext,
  pod: V1Pod,
  annotations: Record<string, string>,
): Promise<void> {
  const path = await ctx.client.path({
    apiVersion: 'v1',
    kind: 'Pod',
    namespace: ctx.namespace,
    name: pod.metadata!.name!,
  });
  await ctx.client.request('PATCH', path, {
    body: { metadata: { annotations } },
    contentType: 'application/merge-patch+json',
    write: { verb: 'patch', kind: 'Pod', namespace: ctx.namespace, name: pod.metadata!.name! },
  });
}

/**
 * Moves the clients off `node` before it goes. Returns true once nothing is left to move: the node has no clients,
 * its evacuation reached `prohibiting`, or the edition has no evacuation and waitTakeover seconds passed since the
 * pod stopped serving. `targets` are the nodes clients should move to.
 */
async function drainClients(
  ctx: ReconcileContext,
  pod: V1Pod,
  node: string,
  targets: string[],
): Promise<boolean> {
  const info = apiNode(ctx, node);
  if (!info || info.node_status !== 'running') return true; // not running: nothing to move
  const strategy = ctx.emqx.spec.updateStrategy?.evacuationStrategy ?? {};
  const evac = evacuationOf(ctx, node);
  if (evac) {
    if (evac.state === 'prohibiting') return true;
    progress(ctx, ctx.observed.update?.phase ?? 'Draining', node, `evacuating ${node}: ${evac.state}`);
    return false;
  }
  const sessions = info.connections ?? 0;
  const live = info.live_connections ?? sessions;
  if (sessions === 0 && live === 0) return true;
  if (supportsEvacuation(info) && ctx.emqxApi && targets.length > 0) {
    try {
      await ctx.emqxApi.evacuationStart(node, {
        conn_evict_rate: strategy.connEvictRate ?? 1000,
        sess_evict_rate: strategy.sessEvictRate ?? 1000,
        wait_takeover: strategy.waitTakeover ?? 10,
        wait_health_check: strategy.waitHealthCheck ?? 60,
        migrate_to: targets,
      });
    } catch (err) {
      if (!/already_started/.test((err as Error).message)) throw err;
    }
    if (!pod.metadata?.annotations?.[ANNOTATION_DRAINING])
      await annotatePod(ctx, pod, { [ANNOTATION_DRAINING]: ctx.now().toISOString() });
    void ctx.events.normal(
      ctx.raw,
      'NodeEvacuationStarted',
      `evacuating ${live} connections and ${sessions} sessions from ${node} to ${targets.length} node(s)`,
    );
    progress(ctx, ctx.observed.update?.phase ?? 'Draining', node, `evacuating ${node}`);
    return false;
  }
  // No evacuation on this edition: stop routing new clients to the pod and give sessions time to be taken over.
  const since = pod.metadata?.annotations?.[ANNOTATION_DRAINING];
  if (!since) {
    await annotatePod(ctx, pod, { [ANNOTATION_DRAINING]: ctx.now().toISOString() });
    void ctx.events.normal(
      ctx.raw,
      'NodeDraining',
      `${node} stops serving; waiting ${strategy.waitTakeover ?? 10}s for clients to reconnect elsewhere`,
    );
    return false;
  }
  const waited = (ctx.now().getTime() - Date.parse(since)) / 1000;
  if (waited < (strategy.waitTakeover ?? 10)) {
    progress(ctx, ctx.observed.update?.phase ?? 'Draining', node, `waiting for takeover from ${node}`);
    return false;
  }
  return true;
}

/** Running nodes of the given pods, by EMQX node name. */
function runningNodesOf(ctx: ReconcileContext, pods: V1Pod[], state: RoleState): string[] {
  return pods.filter((p) => state.running.has(p.metadata!.name!)).map((p) => nodeNameOf(ctx, p));
}

/** Stops evacuations the operator left behind on nodes it is not draining (EMQX resumes one after a restart). */
async function stopStaleEvacuations(ctx: ReconcileContext, keep: Set<string>): Promise<void> {
  if (!ctx.emqxApi) return;
  for (const state of [ctx.observed.core, ctx.observed.replicant]) {
    for (const pod of state?.updated ?? []) {
      const node = nodeNameOf(ctx, pod);
      if (keep.has(node) || !evacuationOf(ctx, node) || pod.metadata?.annotations?.[ANNOTATION_DRAINING])
        continue;
      await ctx.emqxApi.evacuationStop(node);
      void ctx.events.normal(
        ctx.raw,
        'NodeEvacuationStopped',
        `stopped the evacuation ${node} resumed after its restart`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Cores
// ---------------------------------------------------------------------------------------------------------------

/**
 * Makes `node` leave the cluster (running: told to leave; stopped: removed), so no stopped node lingers. Asked
 * through another node: EMQX refuses a force_leave of itself.
 */
async function leaveCluster(ctx: ReconcileContext, node: string, pod?: V1Pod): Promise<void> {
  const ip = pod?.status?.podIP;
  const targets = ctx.observed.apiTargets.filter(
    (t) => !ip || (!t.includes(`//${ip}:`) && !t.includes(`[${ip}]`)),
  );
  const creds = operatorKeyFrom(
    ctx.cache.get<V1Secret>('Secret', ctx.namespace, names.bootstrapApiKeySecret(ctx.emqx)),
  );
  if (targets.length === 0 || !creds) return;
  const api = ctx.emqxApiFactory(targets, creds);
  try {
    await api.forceLeave(node);
    void ctx.events.normal(ctx.raw, 'NodeLeftCluster', `${node} left the cluster`);
  } catch (err) {
    if (!/node_not_in_cluster|not found/i.test((err as Error).message)) throw err;
  }
}

async function coreScaleDown(ctx: ReconcileContext, sts: V1StatefulSet): Promise<StepResult> {
  const state = ctx.observed.core!;
  const current = sts.spec?.replicas ?? 0;
  const target = Math.max(state.desired, 1);
  if (current <= target) return;
  coreReplicasOverride.set(ctx, current);
  const victim = state.pods.find((p) => ordinal(p) === current - 1);
  if (!victim) {
    // The pod is already gone (e.g. the operator stopped right after scaling): make sure its node left, go on.
    const node = coreNodeName(ctx.emqx, `${sts.metadata!.name}-${current - 1}`, clusterDomainOf(ctx.emqx));
    if (apiNode(ctx, node)) {
      await leaveCluster(ctx, node);
      return SOON;
    }
    coreReplicasOverride.set(ctx, current - 1);
    return SOON;
  }
  const node = nodeNameOf(ctx, victim);
  if (!ctx.observed.nodes) {
    progress(ctx, 'ScalingDownCores', node, `waiting for the EMQX API before removing ${node}`);
    return { requeueAfterMs: 5000, reason: 'waiting for the EMQX API' };
  }
  progress(ctx, 'ScalingDownCores', node, `removing core ${victim.metadata!.name} (${current} → ${target})`);
  const others = state.pods.filter((p) => p !== victim);
  const targets = [
    ...runningNodesOf(ctx, others, state),
    ...runningNodesOf(ctx, ctx.observed.replicant?.updated ?? [], ctx.observed.replicant!),
  ];
  if (!(await drainClients(ctx, victim, node, targets))) return SOON;
  if (apiNode(ctx, node)) await leaveCluster(ctx, node, victim);
  coreReplicasOverride.set(ctx, current - 1);
  void ctx.events.normal(
    ctx.raw,
    'CoreNodeRemoved',
    `scaled cores ${current} → ${current - 1}: ${node} left first`,
  );
  return SOON;
}

/**
 * In-place cores with old-revision replicants still around: the last old core stays until they are drained, since
 * replicants only attach to cores of their own EMQX version.
 */
export function holdingLastOldCore(ctx: ReconcileContext): boolean {
  const core = ctx.observed.core;
  const repl = ctx.observed.replicant;
  if (!core || !repl || coreIsBlueGreen(ctx.emqx)) return false;
  // Only while a core of the new revision already runs: with a single core there is nothing to hold it for.
  const newCoreRuns = core.updated.some((p) => core.running.has(p.metadata!.name!));
  return newCoreRuns && core.old.length === 1 && repl.old.length > 0 && core.pods.length >= core.desired;
}

async function coreRollInPlace(ctx: ReconcileContext, sts: V1StatefulSet | undefined): Promise<StepResult> {
  const state = ctx.observed.core!;
  if (state.old.length === 0) return;
  if (sts?.spec?.template?.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH] !== state.hash) {
    // The StatefulSet gets the new template later in this pass; a pod deleted before would come back as it was.
    progress(ctx, 'UpdatingCores', undefined, 'updating the core StatefulSet template');
    return SOON;
  }
  const terminating = ctx.cache
    .ownedBy<V1Pod>('Pod', ctx.namespace, ctx.name)
    .filter((p) => isTerminating(p) && p.metadata?.labels?.['apps.emqx.io/db-role'] === 'core');
  const victim = [...state.old].sort((a, b) => ordinal(b) - ordinal(a))[0]!;
  const node = nodeNameOf(ctx, victim);
  if (terminating.length > 0 || state.pods.length < state.desired) {
    progress(ctx, 'UpdatingCores', undefined, `waiting for the replaced core to come back`);
    return SOON;
  }
  if (holdingLastOldCore(ctx)) {
    // Replicants attach only to cores of their own version: the last old core keeps the old replicants in the
    // cluster (so their clients can be evacuated) until they are drained.
    progress(
      ctx,
      'UpdatingReplicants',
      undefined,
      `keeping ${victim.metadata!.name} on the old revision until the old replicants are drained`,
    );
    return;
  }
  const notRunning = state.pods.filter((p) => p !== victim && !state.running.has(p.metadata!.name!));
  if (notRunning.length > 0) {
    progress(
      ctx,
      'UpdatingCores',
      undefined,
      `waiting for ${notRunning[0]!.metadata!.name} to run before replacing ${victim.metadata!.name}`,
    );
    return SOON;
  }
  progress(
    ctx,
    'UpdatingCores',
    node,
    `replacing core ${victim.metadata!.name} (${state.old.length} left on the old revision)`,
  );
  const targets = [
    ...runningNodesOf(
      ctx,
      state.pods.filter((p) => p !== victim),
      state,
    ),
    ...runningNodesOf(ctx, ctx.observed.replicant?.pods ?? [], ctx.observed.replicant!),
  ];
  if (!(await drainClients(ctx, victim, node, targets))) return SOON;
  await deleteObject(
    ctx.client,
    { apiVersion: 'v1', kind: 'Pod', namespace: ctx.namespace, name: victim.metadata!.name! },
    {
      uid: victim.metadata!.uid!,
    },
  );
  void ctx.events.normal(
    ctx.raw,
    'CoreNodeReplaced',
    `replacing ${victim.metadata!.name} with the new revision (its PVC and node name are kept)`,
  );
  return SOON;
}

async function retireOldCoreSets(ctx: ReconcileContext, sets: V1StatefulSet[]): Promise<StepResult> {
  const state = ctx.observed.core!;
  const repl = ctx.observed.replicant;
  if (repl && repl.old.length > 0) return; // replicants move first
  if (state.updated.filter((p) => state.running.has(p.metadata!.name!)).length < state.desired) {
    progress(ctx, 'UpdatingCores', undefined, 'waiting for the new core nodes to run');
    return SOON;
  }
  const old = sets
    .filter((s) => (s.spec?.replicas ?? 0) > 0)
    .sort((a, b) => podCreatedOf(a) - podCreatedOf(b));
  const set = old[0];
  if (!set) return;
  const current = set.spec!.replicas!;
  const podName = `${set.metadata!.name}-${current - 1}`;
  const victim = state.old.find((p) => p.metadata?.name === podName);
  const node = coreNodeName(ctx.emqx, podName, clusterDomainOf(ctx.emqx));
  progress(ctx, 'DrainingCores', node, `retiring old core ${podName}`);
  if (!ctx.observed.nodes) return { requeueAfterMs: 5000, reason: 'waiting for the EMQX API' };
  if (victim) {
    const targets = [
      ...runningNodesOf(ctx, state.updated, state),
      ...runningNodesOf(ctx, repl?.updated ?? [], repl ?? state),
    ];
    if (!(await drainClients(ctx, victim, node, targets))) return SOON;
  }
  if (apiNode(ctx, node)) await leaveCluster(ctx, node, victim);
  await scaleSet(ctx, set, current - 1);
  if (current - 1 === 0) {
    const policy = set.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled ?? 'Retain';
    void ctx.events.normal(
      ctx.raw,
      policy === 'Delete' ? 'OldCoreDataDeleted' : 'OldCoreDataRetained',
      policy === 'Delete'
        ? `old core StatefulSet ${set.metadata!.name} retired; its PVCs are deleted (persistentVolumeClaimRetentionPolicy.whenScaled: Delete)`
        : `old core StatefulSet ${set.metadata!.name} retired; its PVCs (${set.spec?.volumeClaimTemplates?.[0]?.metadata?.name ?? 'data'}-${set.metadata!.name}-*) are kept (persistentVolumeClaimRetentionPolicy.whenScaled: Retain): delete them when no longer needed`,
    );
  }
  return SOON;
}

function podCreatedOf(o: { metadata?: { creationTimestamp?: unknown } }): number {
  return podCreated(o as V1Pod);
}

// ---------------------------------------------------------------------------------------------------------------
// Replicants
// ---------------------------------------------------------------------------------------------------------------

async function drainOldReplicants(ctx: ReconcileContext): Promise<StepResult> {
  const repl = ctx.observed.replicant!;
  const sets = ctx.cache.ownedBy<V1ReplicaSet>('ReplicaSet', ctx.namespace, ctx.name);
  const oldSets = sets.filter(
    (s) =>
      s.spec?.selector?.matchLabels?.[LABEL_POD_TEMPLATE_HASH] !== repl.hash && (s.spec?.replicas ?? 0) > 0,
  );
  if (oldSets.length === 0) return;
  if (!ctx.emqx.spec.replicantTemplate || repl.desired === 0) {
    for (const s of oldSets) await scaleSet(ctx, s, 0);
    return;
  }
  const serving = repl.updated.filter((p) => repl.running.has(p.metadata!.name!));
  if (serving.length < repl.desired) {
    progress(
      ctx,
      'UpdatingReplicants',
      undefined,
      `waiting for ${repl.desired - serving.length} new replicant(s) to serve`,
    );
    return SOON;
  }
  const since = ctx.raw.status?.conditions?.find(
    (c) => c.type === 'ReplicantNodesReady' && c.status === 'True',
  );
  const delay = ctx.emqx.spec.updateStrategy?.initialDelaySeconds ?? 10;
  if (since && (ctx.now().getTime() - Date.parse(since.lastTransitionTime)) / 1000 < delay) {
    progress(ctx, 'UpdatingReplicants', undefined, `new replicants serve; draining old ones after ${delay}s`);
    return SOON;
  }
  // One pod at a time: the one already being drained, else the newest old pod.
  const oldPods = repl.old;
  const victim =
    oldPods.find(
      (p) => p.metadata?.annotations?.[ANNOTATION_DRAINING] || evacuationOf(ctx, nodeNameOf(ctx, p)),
    ) ?? [...oldPods].sort((a, b) => (b.metadata?.name ?? '').localeCompare(a.metadata?.name ?? ''))[0];
  if (!victim) {
    // Old sets still claim pods that are gone or terminating: bring their counts down.
    for (const s of oldSets) {
      const hash = s.spec!.selector!.matchLabels![LABEL_POD_TEMPLATE_HASH];
      const alive = oldPods.filter((p) => p.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH] === hash).length;
      await scaleSet(ctx, s, alive);
    }
    return SOON;
  }
  const node = nodeNameOf(ctx, victim);
  progress(
    ctx,
    'DrainingReplicants',
    node,
    `draining old replicant ${victim.metadata!.name} (${oldPods.length} left)`,
  );
  if (
    !(await drainClients(
      ctx,
      victim,
      node,
      serving.map((p) => nodeNameOf(ctx, p)),
    ))
  )
    return SOON;
  const set = oldSets.find(
    (s) =>
      s.spec!.selector!.matchLabels![LABEL_POD_TEMPLATE_HASH] ===
      victim.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH],
  );
  if (!set) return SOON;
  await annotatePod(ctx, victim, { [POD_DELETION_COST]: '-99999' });
  await scaleSet(ctx, set, Math.max(0, (set.spec?.replicas ?? 1) - 1));
  void ctx.events.normal(ctx.raw, 'ReplicantNodeRetired', `${node} drained and removed`);
  return SOON;
}

/** Deletes superseded sets at zero replicas beyond revisionHistoryLimit (StatefulSet PVCs follow its policy). */
async function pruneHistory(ctx: ReconcileContext): Promise<void> {
  const limit = ctx.emqx.spec.revisionHistoryLimit ?? 3;
  const repl = ctx.observed.replicant!;
  const oldRs = ctx.cache
    .ownedBy<V1ReplicaSet>('ReplicaSet', ctx.namespace, ctx.name)
    .filter(
      (s) =>
        s.spec?.selector?.matchLabels?.[LABEL_POD_TEMPLATE_HASH] !== repl.hash &&
        (s.spec?.replicas ?? 0) === 0 &&
        (s.status?.replicas ?? 0) === 0,
    )
    .sort((a, b) => podCreatedOf(b) - podCreatedOf(a));
  for (const rs of oldRs.slice(limit)) {
    await deleteObject(
      ctx.client,
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: ctx.namespace, name: rs.metadata!.name! },
      { uid: rs.metadata!.uid! },
    );
  }
  const core = ctx.observed.core!;
  const oldSts = ctx.cache
    .ownedBy<V1StatefulSet>('StatefulSet', ctx.namespace, ctx.name)
    .filter(
      (s) =>
        s.metadata?.name !== currentCoreSetName(ctx, core) &&
        (s.spec?.replicas ?? 0) === 0 &&
        (s.status?.replicas ?? 0) === 0,
    )
    .sort((a, b) => podCreatedOf(b) - podCreatedOf(a));
  for (const sts of oldSts.slice(limit)) {
    await deleteObject(
      ctx.client,
      { apiVersion: 'apps/v1', kind: 'StatefulSet', namespace: ctx.namespace, name: sts.metadata!.name! },
      { uid: sts.metadata!.uid! },
    );
    const policy = sts.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted ?? 'Retain';
    void ctx.events.normal(
      ctx.raw,
      'CoreStatefulSetPruned',
      `deleted superseded StatefulSet ${sts.metadata!.name}; its PVCs are ${policy === 'Delete' ? 'deleted' : 'retained (persistentVolumeClaimRetentionPolicy.whenDeleted: Retain)'}`,
    );
  }
}

function currentCoreSetName(ctx: ReconcileContext, core: RoleState): string {
  return coreIsBlueGreen(ctx.emqx)
    ? names.coreStatefulSet(ctx.emqx, core.hash)
    : names.coreStatefulSet(ctx.emqx);
}

export const rollout: Step = {
  name: 'rollout',
  async run(ctx) {
    const core = ctx.observed.core;
    if (!core) return;
    const sets = ctx.cache.ownedBy<V1StatefulSet>('StatefulSet', ctx.namespace, ctx.name);
    const currentName = currentCoreSetName(ctx, core);
    const currentSet = sets.find((s) => s.metadata?.name === currentName);
    const oldSets = sets.filter((s) => s !== currentSet);

    // Nodes whose evacuation is intended (being drained): never stop those.
    const draining = new Set<string>();
    for (const p of [...core.old, ...(ctx.observed.replicant?.old ?? [])]) draining.add(nodeNameOf(ctx, p));
    if (currentSet) {
      const top = core.pods.find((p) => ordinal(p) === (currentSet.spec?.replicas ?? 0) - 1);
      if (top && (currentSet.spec?.replicas ?? 0) > core.desired) draining.add(nodeNameOf(ctx, top));
    }
    await stopStaleEvacuations(ctx, draining);

    let result: StepResult = undefined;
    if (currentSet) result = await coreScaleDown(ctx, currentSet);
    if (!result && !coreIsBlueGreen(ctx.emqx)) result = await coreRollInPlace(ctx, currentSet);
    if (!result) result = await drainOldReplicants(ctx);
    if (!result && oldSets.length > 0) result = await retireOldCoreSets(ctx, oldSets);
    if (!result) await pruneHistory(ctx);
    if (!result && !ctx.observed.update) ctx.observed.update = { phase: 'Idle' };
    return result;
  },
};
