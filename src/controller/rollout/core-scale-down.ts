// Core scale-down: one node at a time, highest ordinal first — evacuate its clients, make it leave the cluster,
// then remove its pod (its PVC follows the StatefulSet's retention policy). Never below one core: zero cores is
// refused at admission, and a spec that still asks for it keeps one.
import type { V1StatefulSet } from '@kubernetes/client-node';
import { coreNodeName } from '../../api/names.ts';
import { clusterDomainOf } from '../../resources/metadata.ts';
import { podApiUrl } from '../emqx-access.ts';
import { drain } from './drain.ts';
import { dsBeforeRemoval, dsHoldsScaleDown } from './durable-storage.ts';
import {
  API_WAIT,
  SOON,
  apiNode,
  nodeNameOf,
  normal,
  ordinal,
  runningNodesOf,
  type Progress,
  type RolloutInput,
  type Verdict,
} from './types.ts';

export function coreScaleDown(input: RolloutInput, progress: Progress, sts: V1StatefulSet): Verdict {
  const { s } = input;
  const core = s.core;
  const current = sts.spec?.replicas ?? 0;
  const target = Math.max(core.desired, 1);
  if (current <= target) return undefined;
  const refused = dsHoldsScaleDown(s, progress, sts);
  if (refused) return refused;
  progress.coreReplicas = current; // held until the top node has left
  // By name: during a takeover, the other operator's `<name>-core-<hash>-<n>` pods have ordinals too.
  const victim = core.pods.find(
    (p) => ordinal(p) === current - 1 && p.metadata?.name === `${sts.metadata!.name}-${current - 1}`,
  );
  if (!victim) {
    // The pod is already gone (e.g. the operator stopped right after scaling): make sure its node left, go on.
    const node = coreNodeName(s.emqx, `${sts.metadata!.name}-${current - 1}`, clusterDomainOf(s.emqx));
    if (apiNode(s, node)) {
      const ds = dsBeforeRemoval(input, progress, 'ScalingDownCores', node);
      if (ds) return ds;
      return { action: { kind: 'removeNode', node, leave: true, events: [] }, requeue: SOON };
    }
    progress.coreReplicas = current - 1;
    return { requeue: SOON };
  }
  const node = nodeNameOf(s, victim);
  if (!s.nodes) {
    progress.set('ScalingDownCores', node, `waiting for the EMQX API before removing ${node}`);
    return { requeue: API_WAIT };
  }
  progress.set('ScalingDownCores', node, `removing core ${victim.metadata!.name} (${current} → ${target})`);
  // durable storage first: the replicas move to the cores that stay before this one is evacuated and leaves
  const ds = dsBeforeRemoval(input, progress, 'ScalingDownCores', node);
  if (ds) return ds;
  const others = core.pods.filter((p) => p !== victim);
  const targets = [
    ...runningNodesOf(s, others, core),
    ...runningNodesOf(s, s.replicant.updated, s.replicant),
  ];
  const drained = drain(input, progress, victim, node, targets);
  if (!drained.done) return { ...(drained.action && { action: drained.action }), requeue: SOON };
  progress.coreReplicas = current - 1;
  return {
    action: {
      kind: 'removeNode',
      node,
      leave: apiNode(s, node) !== undefined,
      exclude: podApiUrl(victim),
      events: [normal('CoreNodeRemoved', `scaled cores ${current} → ${current - 1}: ${node} left first`)],
    },
    requeue: SOON,
  };
}
