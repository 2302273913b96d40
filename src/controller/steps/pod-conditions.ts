// Sets the `apps.emqx.io/on-serving` readiness gate: True on pods whose EMQX node runs in the cluster (and, on
// editions with node evacuation, passes the availability check), False on pods being drained. Services select by
// role labels only, so this gate is what moves traffic between old and new nodes.
import type { V1Pod } from '@kubernetes/client-node';
import { CONDITION_ON_SERVING } from '../../api/names.ts';
import { patchPodStatus } from '../../k8s/apply.ts';
import type { ReconcileContext, Step } from '../context.ts';
import { containersReady, isTerminating, podCondition, supportsEvacuation } from '../observe.ts';

/** Pods the operator is draining carry this annotation; they stop serving. */
export const ANNOTATION_DRAINING = 'apps.emqx.io/draining';

function podUrl(pod: V1Pod): string {
  const port =
    pod.spec?.containers?.flatMap((c) => c.ports ?? []).find((p) => p.name === 'dashboard')?.containerPort ??
    18083;
  return `http://${pod.status?.podIP}:${port}`;
}

/**
 * A pod starts serving once its node runs in the cluster (and passes the availability check where there is one).
 * It then keeps serving until the operator drains it or its own readiness probe fails: a node missing from one
 * answer of the EMQX API (an unreachable target, a replicant between cores during an upgrade) does not pull it
 * out of the Services, which is what made the Go operator's pods flap.
 */
async function wantServing(ctx: ReconcileContext, pod: V1Pod, running: Set<string>): Promise<boolean> {
  if (pod.metadata?.annotations?.[ANNOTATION_DRAINING]) return false;
  if (!containersReady(pod)) return false;
  if (podCondition(pod, CONDITION_ON_SERVING)?.status === 'True') return true;
  if (!running.has(pod.metadata!.name!)) return false;
  const node = ctx.observed.nodes?.find((n) => n.node_status === 'running');
  if (ctx.emqxApi && supportsEvacuation(node) && podCondition(pod, CONDITION_ON_SERVING)?.status !== 'True') {
    try {
      return await ctx.emqxApi.availabilityCheck(podUrl(pod));
    } catch {
      return false;
    }
  }
  return true;
}

export const updatePodConditions: Step = {
  name: 'updatePodConditions',
  async run(ctx) {
    const serving = new Set<string>();
    ctx.observed.serving = serving;
    for (const state of [ctx.observed.core, ctx.observed.replicant]) {
      if (!state) continue;
      for (const pod of state.pods) {
        if (isTerminating(pod)) continue;
        const want = (await wantServing(ctx, pod, state.running)) ? 'True' : 'False';
        if (want === 'True') serving.add(pod.metadata!.name!);
        const current = podCondition(pod, CONDITION_ON_SERVING);
        if (current?.status === want) continue;
        await patchPodStatus(
          ctx.client,
          { namespace: ctx.namespace, name: pod.metadata!.name! },
          {
            conditions: [
              {
                type: CONDITION_ON_SERVING,
                status: want,
                lastTransitionTime: ctx
                  .now()
                  .toISOString()
                  .replace(/\.\d{3}Z$/, 'Z'),
                reason: want === 'True' ? 'NodeServing' : 'NodeNotServing',
                message:
                  want === 'True'
                    ? 'the EMQX node runs in the cluster'
                    : 'the EMQX node is not running in the cluster, or is being drained',
              },
            ],
          },
        );
      }
    }
  },
};
