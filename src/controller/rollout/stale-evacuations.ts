// Stale evacuations: EMQX resumes an evacuation after a node restarts. On an up-to-date node the operator is not
// draining (no draining annotation, not an old revision, not the top core of a scale-down), such an evacuation
// is one the operator left behind, and it is stopped.
import { ANNOTATION_DRAINING } from '../../api/names.ts';
import type { Snapshot } from '../snapshot.ts';
import { evacuationOf, nodeNameOf, normal, ordinal, type RolloutAction } from './types.ts';

/** Nodes whose evacuation is intended: old revisions, and the top core while a scale-down removes it. */
export function intendedDrains(s: Snapshot, currentCoreReplicas: number | undefined): Set<string> {
  const draining = new Set<string>();
  for (const p of [...s.core.old, ...s.replicant.old]) draining.add(nodeNameOf(s, p));
  if (currentCoreReplicas !== undefined && currentCoreReplicas > s.core.desired) {
    const top = s.core.pods.find((p) => ordinal(p) === currentCoreReplicas - 1);
    if (top) draining.add(nodeNameOf(s, top));
  }
  return draining;
}

export function staleEvacuations(s: Snapshot, keep: ReadonlySet<string>): RolloutAction | undefined {
  const nodes: string[] = [];
  for (const view of [s.core, s.replicant]) {
    for (const pod of view.updated) {
      const node = nodeNameOf(s, pod);
      if (keep.has(node) || !evacuationOf(s, node) || pod.metadata?.annotations?.[ANNOTATION_DRAINING])
        continue;
      nodes.push(node);
    }
  }
  if (nodes.length === 0) return undefined;
  return {
    kind: 'stopEvacuations',
    nodes,
    events: nodes.map((n) =>
      normal('NodeEvacuationStopped', `stopped the evacuation ${n} resumed after its restart`),
    ),
  };
}
