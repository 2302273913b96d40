// The replicant ReplicaSet of the current revision, created only once the core nodes are ready (replicants attach
// to running cores of the same version). Older revisions are drained by the rollout step.
import type { V1ReplicaSet } from '@kubernetes/client-node';
import { names } from '../../api/names.ts';
import { replicantReplicaSet } from '../../resources/index.ts';
import type { ReconcileContext, Step } from '../context.ts';
import { scaleSet } from '../scale.ts';
import { applyIfChanged } from '../write.ts';

export function coresReady(ctx: ReconcileContext): boolean {
  const core = ctx.observed.core!;
  return (
    core.updated.filter((p) => core.running.has(p.metadata!.name!)).length >= core.desired && core.desired > 0
  );
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
