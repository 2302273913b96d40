// Cores, InPlace (the default): one StatefulSet with OnDelete. Outdated pods are replaced one at a time, highest
// ordinal first, each only when every other core runs and after its clients were evacuated; the next only after
// the replacement runs in the cluster on the new revision. Pods keep their names and PVCs, so data stays put.
import type { V1StatefulSet } from '@kubernetes/client-node';
import { LABEL_POD_TEMPLATE_HASH } from '../../api/names.ts';
import { coreIsBlueGreen } from '../../resources/statefulset.ts';
import { isTerminating, podRole } from '../pod-facts.ts';
import type { Snapshot } from '../snapshot.ts';
import { drain } from './drain.ts';
import { dsBlocksReplacement } from './durable-storage.ts';
import {
  SOON,
  nodeNameOf,
  normal,
  ordinal,
  podRef,
  runningNodesOf,
  type Progress,
  type RolloutInput,
  type Verdict,
} from './types.ts';

/**
 * In-place cores with old-revision replicants still around: the last old core stays until they are drained, since
 * replicants only attach to cores of their own EMQX version. Only while a core of the new revision already runs:
 * with a single core there is nothing to hold it for.
 */
export function holdingLastOldCore(s: Snapshot): boolean {
  const { core, replicant } = s;
  if (coreIsBlueGreen(s.emqx)) return false;
  const newCoreRuns = core.updated.some((p) => core.running.has(p.metadata!.name!));
  return newCoreRuns && core.old.length === 1 && replicant.old.length > 0 && core.pods.length >= core.desired;
}

export function coreRollInPlace(
  input: RolloutInput,
  progress: Progress,
  sts: V1StatefulSet | undefined,
): Verdict {
  const { s } = input;
  const core = s.core;
  if (core.old.length === 0) return undefined;
  if (sts?.spec?.template?.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH] !== core.hash) {
    // The StatefulSet gets the new template when this pass applies it; a pod deleted before would come back as
    // it was.
    progress.set('UpdatingCores', undefined, 'updating the core StatefulSet template');
    return { requeue: SOON };
  }
  const terminating = s.pods.filter((p) => isTerminating(p) && podRole(p) === 'core');
  const victim = [...core.old].sort((a, b) => ordinal(b) - ordinal(a))[0]!;
  const node = nodeNameOf(s, victim);
  if (terminating.length > 0 || core.pods.length < core.desired) {
    progress.set('UpdatingCores', undefined, `waiting for the replaced core to come back`);
    return { requeue: SOON };
  }
  if (holdingLastOldCore(s)) {
    // Replicants attach only to cores of their own version: the last old core keeps the old replicants in the
    // cluster (so their clients can be evacuated) until they are drained.
    progress.set(
      'UpdatingReplicants',
      undefined,
      `keeping ${victim.metadata!.name} on the old revision until the old replicants are drained`,
    );
    return undefined;
  }
  const notRunning = core.pods.filter((p) => p !== victim && !core.running.has(p.metadata!.name!));
  if (notRunning.length > 0) {
    progress.set(
      'UpdatingCores',
      undefined,
      `waiting for ${notRunning[0]!.metadata!.name} to run before replacing ${victim.metadata!.name}`,
    );
    return { requeue: SOON };
  }
  const dsWait = dsBlocksReplacement(s);
  if (dsWait) {
    progress.set('UpdatingCores', node, dsWait);
    return { requeue: SOON };
  }
  progress.set(
    'UpdatingCores',
    node,
    `replacing core ${victim.metadata!.name} (${core.old.length} left on the old revision)`,
  );
  const targets = [
    ...runningNodesOf(
      s,
      core.pods.filter((p) => p !== victim),
      core,
    ),
    ...runningNodesOf(s, s.replicant.pods, s.replicant),
  ];
  const drained = drain(input, progress, victim, node, targets);
  if (!drained.done) return { ...(drained.action && { action: drained.action }), requeue: SOON };
  return {
    action: {
      kind: 'replacePod',
      pod: podRef(victim),
      events: [
        normal(
          'CoreNodeReplaced',
          `replacing ${victim.metadata!.name} with the new revision (its PVC and node name are kept)`,
        ),
      ],
    },
    requeue: SOON,
  };
}
