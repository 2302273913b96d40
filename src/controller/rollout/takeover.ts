// Takeover of the workloads the Go emqx-operator left (README "Migrating from the Go operator"). The plan only
// gets here when the user asked for it (annotation apps.emqx.io/takeover: "true") and the Go operator's Lease is
// no longer renewed (plan.ts, foreignWorkloadsHold). The other rules then do the work, with the Go operator's sets
// as old revisions of this resource:
//   1. this operator's core StatefulSet is created at full size; its pods find the running cores through the
//      shared headless Service and join that EMQX cluster with the same cookie (the `<name>-node-cookie` Secret
//      the Go operator made is read and kept), so the cluster database replicates to them;
//   2. its replicant ReplicaSet follows once those cores run; the Go operator's replicants are drained one at a
//      time onto them and their ReplicaSet scaled down (replicants.ts);
//   3. the Go operator's cores leave one at a time, highest ordinal first: clients evacuated, force_leave, the set
//      scaled down (core-blue-green.ts, whatever the core update strategy: in place, they would be replaced by
//      their own StatefulSet);
//   4. a Go operator's set at zero replicas is deleted at once (not kept as history), with its PVCs when
//      coreTemplate.spec.persistentVolumeClaimRetentionPolicy.whenScaled is Delete (else kept, and an Event says
//      which). Secrets, the ConfigMap and the Services have the same names in both layouts: they are applied as
//      this operator's own, values kept.
// Here: which sets and pods are the Go operator's, and step 4.
import type { V1PersistentVolumeClaim, V1Pod, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';
import type { Snapshot } from '../snapshot.ts';
import { normal, type ObjectRef, type PlannedEvent, type RolloutAction } from './types.ts';

type AnySet = V1StatefulSet | V1ReplicaSet;

/** The Go operator's sets of this resource, of one kind. */
export function foreignSets<T extends AnySet>(s: Snapshot, kind: 'StatefulSet' | 'ReplicaSet'): T[] {
  const names = new Set(s.foreignWorkloads.filter((f) => f.kind === kind).map((f) => f.name));
  const sets = (kind === 'StatefulSet' ? s.statefulSets : s.replicaSets) as readonly T[];
  return sets.filter((x) => names.has(x.metadata?.name ?? ''));
}

/** Whether `pod` belongs to one of `sets` (its controller reference, else its name `<set>-<suffix>`). */
function podOf(pod: V1Pod, sets: readonly AnySet[]): boolean {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller);
  if (owner) return sets.some((x) => x.metadata?.uid === owner.uid);
  return sets.some((x) => (pod.metadata?.name ?? '').startsWith(`${x.metadata?.name}-`));
}

/**
 * The snapshot without the Go operator's core pods in the core view: what the in-place rule sees during a
 * takeover, so that it rolls this operator's own pods only (it would delete the others, which their own
 * StatefulSet recreates).
 */
export function withoutForeignCores(s: Snapshot): Snapshot {
  const sets = foreignSets<V1StatefulSet>(s, 'StatefulSet');
  if (sets.length === 0) return s;
  const keep = (pods: readonly V1Pod[]) => pods.filter((p) => !podOf(p, sets));
  const core = { ...s.core, pods: keep(s.core.pods), updated: keep(s.core.updated), old: keep(s.core.old) };
  return { ...s, core };
}

const idle = (x: AnySet) =>
  (x.spec?.replicas ?? 0) === 0 && (x.status?.replicas ?? 0) === 0 && !x.metadata?.deletionTimestamp;

/**
 * Step 4: delete the Go operator's sets that reached zero (no pod left), and the PVCs of its core sets when the
 * resource's retention policy says Delete.
 */
export function retireForeignSets(s: Snapshot): RolloutAction | undefined {
  const objects: Array<ObjectRef & { uid: string }> = [];
  const events: PlannedEvent[] = [];
  for (const rs of foreignSets<V1ReplicaSet>(s, 'ReplicaSet').filter(idle)) {
    objects.push({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      name: rs.metadata!.name!,
      uid: rs.metadata!.uid!,
    });
    events.push(normal('TakeoverRetired', `the Go operator's ReplicaSet ${rs.metadata!.name} was retired`));
  }
  const policy = s.emqx.spec.coreTemplate?.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled ?? 'Retain';
  const pvcs = [...(s.children.get('PersistentVolumeClaim')?.values() ?? [])] as V1PersistentVolumeClaim[];
  for (const sts of foreignSets<V1StatefulSet>(s, 'StatefulSet').filter(idle)) {
    const name = sts.metadata!.name!;
    const prefixes = (sts.spec?.volumeClaimTemplates ?? []).map((t) => `${t.metadata?.name}-${name}-`);
    const claims = pvcs.filter(
      (p) => !p.metadata?.deletionTimestamp && prefixes.some((x) => (p.metadata?.name ?? '').startsWith(x)),
    );
    if (policy === 'Delete') {
      for (const c of claims)
        objects.push({
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          name: c.metadata!.name!,
          uid: c.metadata!.uid!,
        });
    }
    // The PVCs first: a pass that stops in between finds the set again, and with it the claims still to delete.
    objects.push({ apiVersion: 'apps/v1', kind: 'StatefulSet', name, uid: sts.metadata!.uid! });
    const data =
      claims.length === 0
        ? 'it had no PVC'
        : policy === 'Delete'
          ? `its PVCs ${claims.map((c) => c.metadata!.name).join(', ')} are deleted (persistentVolumeClaimRetentionPolicy.whenScaled: Delete)`
          : `its PVCs ${claims.map((c) => c.metadata!.name).join(', ')} are kept (persistentVolumeClaimRetentionPolicy.whenScaled: Retain): delete them when no longer needed`;
    events.push(normal('TakeoverRetired', `the Go operator's StatefulSet ${name} was retired; ${data}`));
  }
  if (objects.length === 0) return undefined;
  const retired = new Set(objects.filter((o) => o.kind !== 'PersistentVolumeClaim').map((o) => o.name));
  if (s.foreignWorkloads.every((f) => retired.has(f.name)))
    events.push(
      normal(
        'TakeoverCompleted',
        'every workload of the Go operator was retired: this operator runs the cluster (the takeover annotation can be removed)',
      ),
    );
  return { kind: 'prune', objects, events };
}
