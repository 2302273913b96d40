// Rollouts: upgrades, restarts and scale-down that drop no client and lose no data.
//
// Every decision is derived from what the snapshot shows (pod revisions, the EMQX node list, evacuation states,
// annotations on pods), so an operator killed at any moment resumes where it was, and a new pod template that
// arrives mid-way simply becomes the target (older revisions are all "old" alike). The strategies are asked in
// order; the first one with something to do or to wait for decides the pass, with at most one action. The
// executor runs it and the pass is re-run soon.
//
//   stale-evacuations.ts  evacuations EMQX resumed on nodes the operator is not draining
//   core-scale-down.ts    fewer cores: one node at a time, never below one
//   core-in-place.ts      InPlace cores: replace pods one at a time, same names and PVCs
//   replicants.ts         replicants: new ReplicaSet first, then drain the old pods one at a time
//   core-blue-green.ts    BlueGreen cores: retire the old StatefulSets once the replicants moved
//   durable-storage.ts    DS replica sets follow the cores meant to stay (and gate the removals above)
//   retired-cores.ts      stopped cores EMQX still lists whose set no longer runs their ordinal leave the cluster
//   history.ts            prune superseded sets beyond revisionHistoryLimit
//   takeover.ts           the Go operator's sets are old revisions: its cores retire as BlueGreen ones, its sets
//                         are deleted once at zero
import { coreStatefulSetName, coreIsBlueGreen } from '../../resources/statefulset.ts';
import type { Snapshot } from '../snapshot.ts';
import { coreRollInPlace } from './core-in-place.ts';
import { coreScaleDown } from './core-scale-down.ts';
import { dsReplicas } from './durable-storage.ts';
import { retireOldCoreSets } from './core-blue-green.ts';
import { pruneHistory } from './history.ts';
import { forgetRetiredCores } from './retired-cores.ts';
import { drainOldReplicants } from './replicants.ts';
import { intendedDrains, staleEvacuations } from './stale-evacuations.ts';
import { retireForeignSets, withoutForeignCores } from './takeover.ts';
import { Progress, SOON, type RolloutDecision, type Verdict } from './types.ts';

export type { RolloutAction, RolloutDecision, PlannedEvent, ScaleTarget } from './types.ts';
export { coresReady, newCluster, replicantsMayStart } from './replicants.ts';
export { holdingLastOldCore } from './core-in-place.ts';

/** The rollout decision of one pass: pure, from the snapshot and the time of the pass. */
export function planRollout(s: Snapshot, now: Date): RolloutDecision {
  const input = { s, now };
  const progress = new Progress();
  const currentName = coreStatefulSetName(s.emqx, s.core.hash);
  const currentSet = s.statefulSets.find((x) => x.metadata?.name === currentName);
  const oldSets = s.statefulSets.filter((x) => x !== currentSet);

  let verdict: Verdict;
  if (currentSet) verdict = coreScaleDown(input, progress, currentSet);
  // During a takeover the in-place rule sees this operator's own cores only; the Go operator's leave as old
  // StatefulSets do in BlueGreen (retireOldCoreSets below), whatever the update strategy.
  if (!verdict && !coreIsBlueGreen(s.emqx))
    verdict = coreRollInPlace({ s: withoutForeignCores(s), now }, progress, currentSet);
  if (!verdict) verdict = drainOldReplicants(input, progress);
  if (!verdict && oldSets.length > 0) verdict = retireOldCoreSets(input, progress, oldSets);
  if (!verdict) verdict = dsReplicas(input, progress);
  let action = verdict?.action;
  let requeue = verdict?.requeue;
  if (!verdict) progress.update ??= { phase: 'Idle' };
  // Evacuations left behind go first; the rest of the decision (progress) stands, its action waits a pass.
  const stale = staleEvacuations(s, intendedDrains(s, currentSet?.spec?.replicas));
  if (stale) {
    action = stale;
    requeue = SOON;
    if (progress.coreReplicas !== undefined) progress.coreReplicas = currentSet?.spec?.replicas;
  } else if (!verdict) {
    action = retireForeignSets(s) ?? forgetRetiredCores(s) ?? pruneHistory(s);
  }
  return {
    ...(action && { action }),
    ...(progress.update && { update: progress.update }),
    activity: progress.activity,
    ...(progress.coreReplicas !== undefined && { coreReplicas: progress.coreReplicas }),
    ...(requeue && { requeue }),
  };
}
