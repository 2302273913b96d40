// Retired cores EMQX still lists: a core node that stopped without leaving the cluster stays a member, listed as
// `stopped`, until the same name comes back or `cluster.autoclean` (24 h by default) removes it. For a pod of one
// of this cluster's StatefulSets whose ordinal the set no longer runs (a retired BlueGreen set, a scale-down) the
// name never comes back, so the node is removed with force_leave, asked through a running core. Its PVC is left
// alone (the set's retention policy decides); only the cluster's member list changes.
//
// Never for a node whose pod exists (it may be restarting), a node of an ordinal its set still runs (an InPlace
// replacement comes back under the same name), a name that is not this cluster's, or with durable storage on (a
// site's replicas move first, and EMQX refuses to remove a site that holds any).
import { coreNodeName } from '../../api/names.ts';
import { clusterDomainOf } from '../../resources/metadata.ts';
import { nodeHost, podForNode } from '../pod-facts.ts';
import type { Snapshot } from '../snapshot.ts';
import { normal, type RolloutAction } from './types.ts';

/** One removal of a stopped core whose StatefulSet no longer runs its ordinal, or undefined. */
export function forgetRetiredCores(s: Snapshot): RolloutAction | undefined {
  if (!s.nodes || s.ds?.active) return undefined;
  if (!s.nodes.some((n) => (n.role ?? 'core') === 'core' && n.node_status === 'running')) return undefined;
  const domain = clusterDomainOf(s.emqx);
  for (const n of s.nodes) {
    if ((n.role ?? 'core') !== 'core' || n.node_status !== 'stopped' || podForNode(n, s.pods)) continue;
    const podName = nodeHost(n.node).split('.')[0] ?? '';
    const m = /^(.+)-(\d+)$/.exec(podName);
    if (!m || coreNodeName(s.emqx, podName, domain) !== n.node) continue;
    const set = s.statefulSets.find((x) => x.metadata?.name === m[1]);
    if (!set) continue;
    const replicas = set.spec?.replicas ?? 0;
    if (Number(m[2]) < replicas) continue;
    return {
      kind: 'removeNode',
      node: n.node,
      leave: true,
      events: [
        normal(
          'RetiredCoreRemoved',
          `${n.node} was listed as a stopped cluster member although StatefulSet ${m[1]} runs ${replicas} replica(s) and its pod is gone: removed from the cluster (its PVC is kept as the set's retention policy says)`,
        ),
      ],
    };
  }
  return undefined;
}
