// Durable storage (DS) replicas: every DS database is replicated on exactly the sites of the cores that are meant
// to stay, moved in an order that never drops a shard below its replication factor.
//
//  - The cores meant to stay are the pods 0…n-1 of the current core StatefulSet (n = spec replicas): in-place
//    upgrades keep them (same name, same data dir, same site), blue-green moves to a new set, a scale-down drops
//    the highest ordinals.
//  - `dsReplicas` (asked first): once every core meant to stay runs and has a site, a DB whose assignment differs
//    is given exactly those sites (EMQX adds the new replicas before it removes the old ones).
//  - Gates the other strategies ask before a destructive step: a core leaves (scale-down, blue-green retirement)
//    only once its site holds nothing and has no transition left (`dsBlocksRemoval`); an in-place replacement
//    waits until every shard is `up` with no transition (`dsBlocksReplacement`), so a restarted core's shards
//    are back before the next core goes.
//  - A spec that asks for fewer cores than the replication factor is refused (`dsRefusal`): the scale-down is
//    held, nothing is removed, and the DurableStorage condition says why.
import type { V1StatefulSet } from '@kubernetes/client-node';
import { coreNodeName } from '../../api/names.ts';
import { clusterDomainOf } from '../../resources/metadata.ts';
import { dbTargetSites, dsSettled, siteHoldsData, siteOfNode, type DsState } from '../durable-storage.ts';
import type { Snapshot } from '../snapshot.ts';
import { coreStatefulSetName } from '../../resources/statefulset.ts';
import { SOON, normal, type Progress, type RolloutInput, type Verdict } from './types.ts';

/** DS is on and EMQX runs it: the rules below apply. */
export function dsActive(s: Snapshot): DsState | undefined {
  return s.ds?.active ? s.ds : undefined;
}

/**
 * The refusal, when the spec would leave fewer cores than the replication factor while more run now: the message
 * for the condition and Event (undefined: nothing to refuse).
 */
export function dsRefusal(s: Snapshot, currentSet: V1StatefulSet | undefined): string | undefined {
  const ds = dsActive(s);
  if (!ds) return undefined;
  const desired = Math.max(s.core.desired, 1);
  // the current set only: during a blue-green rollout the old set's pods are not a scale-down
  const current = currentSet?.spec?.replicas ?? 0;
  if (desired >= ds.replicationFactor || current <= desired) return undefined;
  return (
    `spec.coreTemplate.spec.replicas ${desired} is below the durable storage replication factor ` +
    `${ds.replicationFactor} (durable_storage.messages.replication_factor${ds.factorExplicit ? '' : ', EMQX default'}): ` +
    `scaling ${current} → ${desired} cores would leave shards with fewer replicas; the cores are kept`
  );
}

export function currentCoreSet(s: Snapshot): V1StatefulSet | undefined {
  const name = coreStatefulSetName(s.emqx, s.core.hash);
  return s.statefulSets.find((x) => x.metadata?.name === name);
}

/** EMQX node names of the cores meant to stay: pods 0…n-1 of the current StatefulSet. */
export function coresToStay(s: Snapshot, currentSet: V1StatefulSet | undefined): string[] {
  if (!currentSet) return [];
  const n = Math.max(s.core.desired, 1);
  return Array.from({ length: n }, (_, i) =>
    coreNodeName(s.emqx, `${currentSet.metadata!.name}-${i}`, clusterDomainOf(s.emqx)),
  );
}

/** The first DB whose assignment is not the sites of the cores meant to stay, and those sites. */
export function dsReplicas(input: RolloutInput, progress: Progress): Verdict {
  const { s } = input;
  const currentSet = currentCoreSet(s);
  const ds = dsActive(s);
  const obs = ds?.observed;
  if (!ds || !obs || dsRefusal(s, currentSet)) return undefined;
  const stay = coresToStay(s, currentSet);
  const sites: string[] = [];
  for (const node of stay) {
    const site = siteOfNode(obs, node);
    // a core meant to stay that does not run yet (or has no site yet) is added once it does
    if (!site || !obs.sites.find((x) => x.site === site)?.up) return undefined;
    const pod = s.core.pods.find(
      (p) => coreNodeName(s.emqx, p.metadata!.name!, clusterDomainOf(s.emqx)) === node,
    );
    if (!pod || !s.core.running.has(pod.metadata!.name!)) return undefined;
    sites.push(site);
  }
  sites.sort();
  for (const db of obs.dbs) {
    const current = dbTargetSites(db);
    if (current.join() === sites.join()) continue;
    const nodeOf = (site: string) => obs.sites.find((x) => x.site === site)?.node ?? site;
    progress.set(
      'UpdatingDurableStorage',
      undefined,
      `assigning ${db.name} to the sites of ${stay.length} core(s)`,
    );
    return {
      action: {
        kind: 'dsSetReplicas',
        db: db.name,
        sites,
        events: [
          normal(
            'DurableStorageReplicasChanged',
            `${db.name}: replica sites [${current.map(nodeOf).sort().join(', ')}] → [${sites.map(nodeOf).sort().join(', ')}]`,
          ),
        ],
      },
      requeue: SOON,
    };
  }
  return undefined;
}

/**
 * Before `node` leaves: undefined when it may (no DS, or its site holds nothing); else the verdict of this pass —
 * assign the DBs to the cores that stay, or wait for the transitions.
 */
export function dsBeforeRemoval(
  input: RolloutInput,
  progress: Progress,
  phase: string,
  node: string,
): Verdict {
  const wait = dsBlocksRemoval(input.s, node);
  if (!wait) return undefined;
  const assign = dsReplicas(input, progress);
  if (assign) return assign;
  progress.set(phase, node, wait);
  return { requeue: SOON };
}

/** Why `node` may not leave yet (its site still holds data or is in a transition), or undefined. */
export function dsBlocksRemoval(s: Snapshot, node: string): string | undefined {
  const ds = dsActive(s);
  if (!ds) return undefined;
  if (!ds.observed) return `waiting for the durable storage state before removing ${node}`;
  const site = siteOfNode(ds.observed, node);
  if (site && siteHoldsData(ds.observed, site)) {
    return `waiting for the durable storage replicas of ${node} (site ${site}) to move to the cores that stay`;
  }
  return undefined;
}

/** Why the next in-place replacement must wait (a shard not `up`, or a transition pending), or undefined. */
export function dsBlocksReplacement(s: Snapshot): string | undefined {
  const ds = dsActive(s);
  if (!ds) return undefined;
  if (!ds.observed) return 'waiting for the durable storage state before replacing a core';
  if (!dsSettled(ds.observed))
    return 'waiting for every durable storage shard to be up before replacing the next core';
  return undefined;
}

/** Used by core-scale-down: hold the StatefulSet when the spec asks for fewer cores than the factor. */
export function dsHoldsScaleDown(s: Snapshot, progress: Progress, currentSet: V1StatefulSet): Verdict {
  const refusal = dsRefusal(s, currentSet);
  if (!refusal) return undefined;
  progress.coreReplicas = currentSet.spec?.replicas ?? 0;
  progress.set('ScalingDownCores', undefined, refusal);
  return { requeue: { afterMs: 30_000, reason: 'core scale-down refused by durable storage' } };
}
