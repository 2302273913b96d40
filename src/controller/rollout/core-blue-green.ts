// Cores, BlueGreen: a new StatefulSet joins the cluster at full size; once the replicants moved, old cores leave
// one at a time (oldest StatefulSet first, highest ordinal first): evacuated, told to leave the cluster, then their
// StatefulSet is scaled down. A retired StatefulSet's PVCs follow its persistentVolumeClaimRetentionPolicy.
import type { V1StatefulSet } from '@kubernetes/client-node';
import { coreNodeName } from '../../api/names.ts';
import { clusterDomainOf } from '../../resources/metadata.ts';
import { podApiUrl } from '../emqx-access.ts';
import { drain } from './drain.ts';
import { dsBeforeRemoval } from './durable-storage.ts';
import {
  API_WAIT,
  SOON,
  apiNode,
  createdAt,
  normal,
  runningNodesOf,
  scaleTarget,
  type PlannedEvent,
  type Progress,
  type RolloutInput,
  type Verdict,
} from './types.ts';

export function retireOldCoreSets(
  input: RolloutInput,
  progress: Progress,
  sets: readonly V1StatefulSet[],
): Verdict {
  const { s } = input;
  const core = s.core;
  const repl = s.replicant;
  if (repl.old.length > 0) return undefined; // replicants move first
  if (core.updated.filter((p) => core.running.has(p.metadata!.name!)).length < core.desired) {
    progress.set('UpdatingCores', undefined, 'waiting for the new core nodes to run');
    return { requeue: SOON };
  }
  const set = sets.filter((x) => (x.spec?.replicas ?? 0) > 0).sort((a, b) => createdAt(a) - createdAt(b))[0];
  if (!set) return undefined;
  const current = set.spec!.replicas!;
  const podName = `${set.metadata!.name}-${current - 1}`;
  const victim = core.old.find((p) => p.metadata?.name === podName);
  const node = coreNodeName(s.emqx, podName, clusterDomainOf(s.emqx));
  progress.set('DrainingCores', node, `retiring old core ${podName}`);
  if (!s.nodes) return { requeue: API_WAIT };
  // durable storage first: the replicas move to the new cores before an old one is evacuated and leaves
  const ds = dsBeforeRemoval(input, progress, 'DrainingCores', node);
  if (ds) return ds;
  if (victim) {
    const targets = [...runningNodesOf(s, core.updated, core), ...runningNodesOf(s, repl.updated, repl)];
    const drained = drain(input, progress, victim, node, targets);
    if (!drained.done) return { ...(drained.action && { action: drained.action }), requeue: SOON };
  }
  const events: PlannedEvent[] = [];
  if (current - 1 === 0) {
    // A Go operator's set: the resource's policy applies, not the one the API server defaulted on that set
    // (takeover.ts deletes its PVCs).
    const foreign = s.foreignWorkloads.some((f) => f.kind === 'StatefulSet' && f.name === set.metadata!.name);
    const policy =
      (foreign
        ? s.emqx.spec.coreTemplate?.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled
        : set.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled) ?? 'Retain';
    events.push(
      normal(
        policy === 'Delete' ? 'OldCoreDataDeleted' : 'OldCoreDataRetained',
        policy === 'Delete'
          ? `old core StatefulSet ${set.metadata!.name} retired; its PVCs are deleted (persistentVolumeClaimRetentionPolicy.whenScaled: Delete)`
          : `old core StatefulSet ${set.metadata!.name} retired; its PVCs (${set.spec?.volumeClaimTemplates?.[0]?.metadata?.name ?? 'data'}-${set.metadata!.name}-*) are kept (persistentVolumeClaimRetentionPolicy.whenScaled: Retain): delete them when no longer needed`,
      ),
    );
  }
  return {
    action: {
      kind: 'removeNode',
      node,
      leave: apiNode(s, node) !== undefined,
      ...(victim && { exclude: podApiUrl(victim) }),
      scale: scaleTarget(set, current - 1),
      events,
    },
    requeue: SOON,
  };
}
