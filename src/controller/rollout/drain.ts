// Moving the clients off a node before it goes, shared by every strategy that removes or replaces a node.
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_DRAINING } from '../../api/names.ts';
import { supportsEvacuation } from '../emqx-access.ts';
import { containersReady } from '../pod-facts.ts';
import {
  apiNode,
  evacuationOf,
  normal,
  podRef,
  type Progress,
  type RolloutAction,
  type RolloutInput,
} from './types.ts';

export type DrainVerdict = { done: true } | { done: false; action?: RolloutAction };

/**
 * Whether the clients of `node` (in `pod`) are gone. Done once nothing is left to move: the node does not run,
 * has no clients, its evacuation reached `prohibiting`, or the edition has no evacuation and waitTakeover seconds
 * passed since the pod stopped serving. Otherwise the action that moves them (or none, while they move).
 * `targets` are the nodes clients should move to.
 */
export function drain(
  { s, now }: RolloutInput,
  progress: Progress,
  pod: V1Pod,
  node: string,
  targets: string[],
): DrainVerdict {
  if (!s.nodes) {
    // The EMQX API did not answer: whether the node has clients is unknown. A pod that serves is not removed
    // blind; one that does not (not Ready) has nothing to move, so a broken cluster can still be repaired.
    if (!containersReady(pod)) return { done: true };
    progress.set(progress.phase ?? 'Draining', node, `waiting for the EMQX API before draining ${node}`);
    return { done: false };
  }
  const info = apiNode(s, node);
  if (!info || info.node_status !== 'running') return { done: true }; // not running: nothing to move
  const strategy = s.emqx.spec.updateStrategy?.evacuationStrategy ?? {};
  const waitTakeover = strategy.waitTakeover ?? 10;
  const evac = evacuationOf(s, node);
  if (evac) {
    if (evac.state === 'prohibiting') return { done: true };
    progress.set(progress.phase ?? 'Draining', node, `evacuating ${node}: ${evac.state}`);
    return { done: false };
  }
  const sessions = info.connections ?? 0;
  const live = info.live_connections ?? sessions;
  if (sessions === 0 && live === 0) return { done: true };
  const draining = pod.metadata?.annotations?.[ANNOTATION_DRAINING];
  if (supportsEvacuation(info) && targets.length > 0) {
    progress.set(progress.phase ?? 'Draining', node, `evacuating ${node}`);
    return {
      done: false,
      action: {
        kind: 'evacuate',
        node,
        pod: podRef(pod),
        body: {
          conn_evict_rate: strategy.connEvictRate ?? 1000,
          sess_evict_rate: strategy.sessEvictRate ?? 1000,
          wait_takeover: waitTakeover,
          wait_health_check: strategy.waitHealthCheck ?? 60,
          migrate_to: targets,
        },
        ...(!draining && { markDraining: now.toISOString() }),
        events: [
          normal(
            'NodeEvacuationStarted',
            `evacuating ${live} connections and ${sessions} sessions from ${node} to ${targets.length} node(s)`,
          ),
        ],
      },
    };
  }
  // No evacuation on this edition: stop routing new clients to the pod and give sessions time to be taken over.
  if (!draining) {
    return {
      done: false,
      action: {
        kind: 'markDraining',
        node,
        pod: podRef(pod),
        since: now.toISOString(),
        events: [
          normal(
            'NodeDraining',
            `${node} stops serving; waiting ${waitTakeover}s for clients to reconnect elsewhere`,
          ),
        ],
      },
    };
  }
  const waited = (now.getTime() - Date.parse(draining)) / 1000;
  if (waited < waitTakeover) {
    progress.set(progress.phase ?? 'Draining', node, `waiting for takeover from ${node}`);
    return { done: false };
  }
  return { done: true };
}
