// Replicants: a new ReplicaSet at full size for every revision; once all its nodes serve (and
// initialDelaySeconds passed since they did), old pods are drained one at a time — node evacuation to the new
// replicants on editions that have it, else the pod stops serving and the operator waits waitTakeover seconds —
// then their ReplicaSet is scaled down by one, that pod first.
import { compareText } from '../order.ts';
import {
  ANNOTATION_DRAINING,
  ANNOTATION_POD_DELETION_COST,
  CONDITION_ON_SERVING,
  LABEL_POD_TEMPLATE_HASH,
  LOWEST_DELETION_COST,
} from '../../api/names.ts';
import { podReady } from '../pod-facts.ts';
import { coreStatefulSetName } from '../../resources/statefulset.ts';
import type { Snapshot } from '../snapshot.ts';
import { holdingLastOldCore } from './core-in-place.ts';
import { drain } from './drain.ts';
import {
  SOON,
  evacuationOf,
  nodeNameOf,
  normal,
  podRef,
  scaleTarget,
  type Progress,
  type RolloutInput,
  type Verdict,
} from './types.ts';

/**
 * New replicants can start once the cores of the new revision run: all of them, or all but the one old core kept
 * for the old replicants during an in-place upgrade (see holdingLastOldCore).
 */
export function coresReady(s: Snapshot): boolean {
  const core = s.core;
  const running = core.updated.filter((p) => core.running.has(p.metadata!.name!)).length;
  if (core.desired > 0 && running >= core.desired) return true;
  return running >= 1 && running >= core.desired - 1 && holdingLastOldCore(s);
}

/**
 * A new cluster: no ReplicaSet was ever created and every core is on the current revision (no older StatefulSet,
 * no older core pod). Its replicants can start together with the cores: they are all of the same version, and a
 * replicant keeps retrying to join until a core runs. Upgrades keep the cores-first order, where versions matter.
 */
export function newCluster(s: Snapshot): boolean {
  if (s.replicaSets.length > 0 || s.core.old.length > 0) return false;
  const current = coreStatefulSetName(s.emqx, s.core.hash);
  return s.statefulSets.every((x) => x.metadata?.name === current);
}

/** The ReplicaSet of the current revision may be created: on a new cluster at once, else once the cores run. */
export function replicantsMayStart(s: Snapshot): boolean {
  return newCluster(s) || coresReady(s);
}

export function drainOldReplicants(input: RolloutInput, progress: Progress): Verdict {
  const { s, now } = input;
  const repl = s.replicant;
  const oldSets = s.replicaSets.filter(
    (x) =>
      x.spec?.selector?.matchLabels?.[LABEL_POD_TEMPLATE_HASH] !== repl.hash && (x.spec?.replicas ?? 0) > 0,
  );
  if (oldSets.length === 0) return undefined;
  // No replicants wanted: every ReplicaSet goes to zero with the desired objects (see plan.ts).
  if (!s.emqx.spec.replicantTemplate) return undefined;
  if (repl.desired === 0) {
    return { action: { kind: 'scale', targets: oldSets.map((x) => scaleTarget(x, 0)), events: [] } };
  }
  const serving = repl.updated.filter((p) => repl.running.has(p.metadata!.name!));
  if (serving.length < repl.desired) {
    progress.set(
      'UpdatingReplicants',
      undefined,
      `waiting for ${repl.desired - serving.length} new replicant(s) to serve`,
    );
    return { requeue: SOON };
  }
  // The time the new replicants started serving is the one the previous status recorded.
  const since = s.previousStatus?.conditions?.find(
    (c) => c.type === 'ReplicantNodesReady' && c.status === 'True',
  );
  const delay = s.emqx.spec.updateStrategy?.initialDelaySeconds ?? 10;
  if (since && (now.getTime() - Date.parse(since.lastTransitionTime)) / 1000 < delay) {
    progress.set('UpdatingReplicants', undefined, `new replicants serve; draining old ones after ${delay}s`);
    return { requeue: SOON };
  }
  // One pod at a time: the one already being drained, else the newest old pod.
  const oldPods = repl.old;
  const victim =
    oldPods.find(
      (p) => p.metadata?.annotations?.[ANNOTATION_DRAINING] || evacuationOf(s, nodeNameOf(s, p)),
    ) ?? [...oldPods].sort((a, b) => compareText(b.metadata?.name ?? '', a.metadata?.name ?? ''))[0];
  if (!victim) {
    // Old sets still claim pods that are gone or terminating: bring their counts down.
    const targets = oldSets.map((x) => {
      const hash = x.spec!.selector!.matchLabels![LABEL_POD_TEMPLATE_HASH];
      return scaleTarget(
        x,
        oldPods.filter((p) => p.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH] === hash).length,
      );
    });
    return { action: { kind: 'scale', targets, events: [] }, requeue: SOON };
  }
  const node = nodeNameOf(s, victim);
  progress.set(
    'DrainingReplicants',
    node,
    `draining old replicant ${victim.metadata!.name} (${oldPods.length} left)`,
  );
  const drained = drain(
    input,
    progress,
    victim,
    node,
    serving.map((p) => nodeNameOf(s, p)),
  );
  if (!drained.done) {
    const a = drained.action;
    // Marked as the pod its ReplicaSet removes first as soon as it starts draining, long before the set shrinks.
    const action =
      a && (a.kind === 'evacuate' || a.kind === 'markDraining') ? { ...a, lowestDeletionCost: true } : a;
    return { ...(action && { action }), requeue: SOON };
  }
  const set = oldSets.find(
    (x) =>
      x.spec!.selector!.matchLabels![LABEL_POD_TEMPLATE_HASH] ===
      victim.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH],
  );
  if (!set) return { requeue: SOON };
  // The set's count and its pods come from two watches with no order between them. A set smaller than its live
  // pods is a removal the ReplicaSet controller has not made yet (typically this very pod, retired by the
  // previous pass): scaling "one smaller" again would take a second pod, one whose clients were never moved.
  const hash = victim.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH];
  const left = oldPods.filter((p) => p.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH] === hash).length;
  const replicas = set.spec?.replicas ?? 0;
  if (replicas < left) {
    progress.set(
      'DrainingReplicants',
      node,
      `waiting for the ReplicaSet ${set.metadata!.name} to remove a pod (${left} pods for ${replicas} replicas)`,
    );
    return { requeue: SOON };
  }
  // The ReplicaSet controller removes the pod it ranks first: not Ready before Ready, then the lowest
  // pod-deletion-cost. It ranks with its own cache, so both facts are written (and seen back here) a pass before
  // the set shrinks, not in the same instant: otherwise it may remove another old pod, whose clients never moved.
  const draining = victim.metadata?.annotations?.[ANNOTATION_DRAINING];
  if (victim.metadata?.annotations?.[ANNOTATION_POD_DELETION_COST] !== LOWEST_DELETION_COST || !draining) {
    progress.set('DrainingReplicants', node, `marking ${victim.metadata!.name} as the next pod to remove`);
    return {
      action: {
        kind: 'markRetiring',
        pod: podRef(victim),
        ...(!draining && { markDraining: now.toISOString() }),
        events: [],
      },
      requeue: SOON,
    };
  }
  const gated = (victim.spec?.readinessGates ?? []).some((g) => g.conditionType === CONDITION_ON_SERVING);
  if (gated && podReady(victim)) {
    progress.set('DrainingReplicants', node, `waiting for ${victim.metadata!.name} to leave the Services`);
    return { requeue: SOON };
  }
  return {
    action: {
      kind: 'retireReplicant',
      pod: podRef(victim),
      // What is left of the set without this pod (a stale, larger count is not trusted either).
      scale: scaleTarget(set, Math.max(0, left - 1)),
      events: [normal('ReplicantNodeRetired', `${node} drained and removed`)],
    },
    requeue: SOON,
  };
}
