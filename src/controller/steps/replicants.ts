// The replicant ReplicaSet of the current revision, created only once the core nodes are ready (replicants attach
// to running cores of the same version). Older revisions are drained by the rollout step.
import type { V1ReplicaSet } from '@kubernetes/client-node';
import { names } from '../../api/names.ts';
import { replicantReplicaSet } from '../../resources/index.ts';
import type { ReconcileContext, Step } from '../context.ts';
import { scaleSet } from '../scale.ts';
import { holdingLastOldCore } from './rollout.ts';
import { applyIfChanged } from '../write.ts';

/**
 * New replicants can start once the cores of the new revision run: all of them, or all but the one old core kept
 * for the old replicants during an in-place upgrade (see holdingLastOldCore).
 */
export function coresReady(ctx: ReconcileContext): boolean {
  const core = ctx.observed.core!;
  const running = core.updated.filter((p) => core.running.has(p.metadata!.name!)).length;
  if (core.desired > 0 && running >= core.desired) return true;
  return running >= 1 && running >= core.desired - 1 && holdingLastOldCore(ctx);
}

export const ensureReplicants: Step = {
  name: 'ensureReplicants',
  async run(ctx) {
    const state = ctx.observed.replicant!;
    const sets = ctx.cache.ownedBy<V1ReplicaSet>('ReplicaSet', ctx.namespace, ctx.name);
    if (!ctx.emqx.spec.replicantTemplate) {
      for (const rs of sets) await scaleSet(ctx, rs, 0);
      return;
    }
    const name = names.replicantReplicaSet(ctx.emqx, state.hash);
    const live = sets.find((s) => s.metadata?.name === name);
    if (!live && !coresReady(ctx)) {
      state.activity = 'waiting for the core nodes before creating replicants';
      return { requeueAfterMs: 5000, reason: state.activity };
    }
    const desired = replicantReplicaSet(ctx.emqx, ctx.conf, { hash: state.hash })!;
    await applyIfChanged(ctx, desired, live);
  },
};
