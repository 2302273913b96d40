// Writes the status: conditions from the pure functions in src/status, the node lists from EMQX, replica counts
// for both roles and the scale subresource. Written only when something changed; a flip of a condition is an Event.
import { LABEL_DB_ROLE, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY } from '../../api/names.ts';
import type { EMQXNodesStatus, EMQXStatus } from '../../api/types.ts';
import { applyStatus } from '../../k8s/apply.ts';
import { canonicalJson } from '../../resources/index.ts';
import {
  computeConditions,
  flips,
  foreignWorkloadsConditions,
  mergeConditions,
  phase,
  type RoleObservation,
  type StatusObservation,
} from '../../status/conditions.ts';
import type { ReconcileContext, RoleState, Step } from '../context.ts';
import { containersReady, podTemplateHash } from '../observe.ts';

function roleObservation(state: RoleState): RoleObservation {
  return {
    desired: state.desired,
    pods: state.pods.length,
    readyPods: state.pods.filter(containersReady).length,
    runningUpdated: state.updated.filter((p) => state.running.has(p.metadata!.name!)).length,
    updatedPods: state.updated.length,
    oldPods: state.old.length,
    progressing: state.progressing,
    ...(state.activity !== undefined && { activity: state.activity }),
  };
}

function nodesStatus(state: RoleState, previous: EMQXNodesStatus | undefined): EMQXNodesStatus {
  const current = state.old.length > 0 ? podTemplateHash(state.old[0]!) : state.hash;
  return {
    replicas: state.desired,
    readyReplicas: state.updated.filter((p) => state.running.has(p.metadata!.name!)).length,
    currentRevision: current ?? state.hash,
    currentReplicas: state.old.length > 0 ? state.old.length : state.updated.length,
    updateRevision: state.hash,
    updateReplicas: state.updated.length,
    ...(previous?.collisionCount !== undefined && { collisionCount: previous.collisionCount }),
  };
}

export function buildStatus(ctx: ReconcileContext): { status: EMQXStatus; observation: StatusObservation } {
  const prev = ctx.raw.status ?? {};
  const paused = ctx.observed.paused ?? false;
  const core = ctx.observed.core;
  const repl = ctx.observed.replicant;
  const hasReplicants = Boolean(
    repl && (repl.desired > 0 || repl.pods.length > 0 || ctx.emqx.spec.replicantTemplate),
  );
  const observation: StatusObservation = {
    generation: ctx.raw.metadata.generation ?? 0,
    paused,
    initialized: ctx.observed.initialized,
    core: core
      ? roleObservation(core)
      : {
          desired: 0,
          pods: 0,
          readyPods: 0,
          runningUpdated: 0,
          updatedPods: 0,
          oldPods: 0,
          progressing: false,
        },
    ...(hasReplicants && repl && { replicant: roleObservation(repl) }),
    config: ctx.observed.config,
    ...(ctx.observed.apiError !== undefined && { apiUnreachable: ctx.observed.apiError }),
    ...(ctx.observed.foreignWorkloads !== undefined && { foreignWorkloads: ctx.observed.foreignWorkloads }),
  };
  const computed = computeConditions(observation);
  const foreign = ctx.observed.foreignWorkloads !== undefined;
  const values = foreign ? foreignWorkloadsConditions(prev.conditions, computed) : computed;
  const conditions = mergeConditions(
    prev.conditions,
    values,
    ctx
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z'),
    observation.generation,
  );
  const status: EMQXStatus = {
    phase: phase(values, paused),
    observedGeneration: observation.generation,
    conditions,
    // Empty lists are left out, as the Go operator does (its tooling tests for absence, not for []).
    ...nonEmpty('coreNodes', ctx.observed.coreNodes ?? prev.coreNodes),
    ...nonEmpty('replicantNodes', ctx.observed.replicantNodes ?? prev.replicantNodes),
    ...(core && { coreNodesStatus: nodesStatus(core, prev.coreNodesStatus) }),
    ...(hasReplicants && repl && { replicantNodesStatus: nodesStatus(repl, prev.replicantNodesStatus) }),
    ...((ctx.observed.evacuations?.length ?? 0) > 0 && { nodeEvacuationsStatus: ctx.observed.evacuations }),
    // Nothing observed while foreign workloads stop the operator: the columns stay as they were.
    cores:
      foreign && prev.cores ? prev.cores : `${observation.core.runningUpdated}/${observation.core.desired}`,
    replicants:
      foreign && prev.replicants
        ? prev.replicants
        : `${observation.replicant?.runningUpdated ?? 0}/${observation.replicant?.desired ?? 0}`,
    replicantReplicas: observation.replicant?.desired ?? 0,
    replicantSelector: `${LABEL_INSTANCE}=${ctx.name},${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_DB_ROLE}=replicant`,
    ...(ctx.observed.update && { update: ctx.observed.update }),
  };
  return { status, observation };
}

function nonEmpty<K extends string, T>(key: K, list: T[] | undefined): Partial<Record<K, T[]>> {
  return list !== undefined && list.length > 0 ? ({ [key]: list } as Record<K, T[]>) : {};
}

function withoutUptime(status: EMQXStatus): EMQXStatus {
  const strip = (nodes: EMQXStatus['coreNodes']) => nodes?.map(({ uptime: _uptime, ...n }) => n);
  return { ...status, coreNodes: strip(status.coreNodes), replicantNodes: strip(status.replicantNodes) };
}

const GOOD_WHEN_TRUE = new Set([
  'Initialized',
  'CoreNodesReady',
  'ReplicantNodesReady',
  'Available',
  'Ready',
  'ConfigApplied',
]);

export const updateStatus: Step = {
  name: 'updateStatus',
  async run(ctx) {
    const { status } = buildStatus(ctx);
    ctx.observed.status = status;
    // Node uptimes change on every read: on their own they are no reason to write (an idle cluster costs zero
    // writes); they are refreshed whenever something else changes.
    if (canonicalJson(withoutUptime(status)) === canonicalJson(withoutUptime(ctx.raw.status ?? {}))) return;
    await applyStatus(ctx.client, {
      apiVersion: ctx.raw.apiVersion,
      kind: ctx.raw.kind,
      metadata: { name: ctx.name, namespace: ctx.namespace },
      status,
    });
    for (const c of flips(ctx.raw.status?.conditions, status.conditions ?? [])) {
      if (!ctx.raw.status?.conditions && c.status === 'False') continue; // first pass: no noise for "not yet"
      const good = GOOD_WHEN_TRUE.has(c.type) ? c.status === 'True' : c.status === 'False';
      const message = `${c.type} is ${c.status}: ${c.message}`;
      void (good
        ? ctx.events.normal(ctx.raw, c.reason, message)
        : ctx.events.warning(ctx.raw, c.reason, message));
    }
  },
};
