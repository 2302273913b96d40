// History pruning: superseded ReplicaSets and StatefulSets at zero replicas (and no pods left) are deleted beyond
// revisionHistoryLimit, newest kept. A deleted StatefulSet's PVCs follow its persistentVolumeClaimRetentionPolicy.
import { LABEL_POD_TEMPLATE_HASH } from '../../api/names.ts';
import { coreStatefulSetName } from '../../resources/statefulset.ts';
import type { Snapshot } from '../snapshot.ts';
import { createdAt, normal, type ObjectRef, type PlannedEvent, type RolloutAction } from './types.ts';

export function pruneHistory(s: Snapshot): RolloutAction | undefined {
  const limit = s.emqx.spec.revisionHistoryLimit ?? 3;
  const idle = (x: { spec?: { replicas?: number }; status?: { replicas?: number } }) =>
    (x.spec?.replicas ?? 0) === 0 && (x.status?.replicas ?? 0) === 0;
  const objects: Array<ObjectRef & { uid: string }> = [];
  const events: PlannedEvent[] = [];
  const oldRs = s.replicaSets
    .filter((x) => x.spec?.selector?.matchLabels?.[LABEL_POD_TEMPLATE_HASH] !== s.replicant.hash && idle(x))
    .sort((a, b) => createdAt(b) - createdAt(a));
  for (const rs of oldRs.slice(limit)) {
    objects.push({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      name: rs.metadata!.name!,
      uid: rs.metadata!.uid!,
    });
  }
  const current = coreStatefulSetName(s.emqx, s.core.hash);
  const oldSts = s.statefulSets
    .filter((x) => x.metadata?.name !== current && idle(x))
    .sort((a, b) => createdAt(b) - createdAt(a));
  for (const sts of oldSts.slice(limit)) {
    objects.push({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      name: sts.metadata!.name!,
      uid: sts.metadata!.uid!,
    });
    const policy = sts.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted ?? 'Retain';
    events.push(
      normal(
        'CoreStatefulSetPruned',
        `deleted superseded StatefulSet ${sts.metadata!.name}; its PVCs are ${policy === 'Delete' ? 'deleted' : 'retained (persistentVolumeClaimRetentionPolicy.whenDeleted: Retain)'}`,
      ),
    );
  }
  return objects.length > 0 ? { kind: 'prune', objects, events } : undefined;
}
