// The core StatefulSet. Scale-up is immediate; rollouts and scale-down are handled by the rollout steps, which
// decide the replica count to apply while they work (ctx.observed.core.progressing).
import type { V1StatefulSet } from '@kubernetes/client-node';
import { KubeApiError } from '../../k8s/rest.ts';
import { coreStatefulSet } from '../../resources/index.ts';
import type { ReconcileContext, Step } from '../context.ts';
import { applyIfChanged } from '../write.ts';

/** Replicas to apply to the current core StatefulSet; a rollout step may hold it (see rollout.ts). */
export const coreReplicasOverride = new WeakMap<ReconcileContext, number>();

export const ensureCores: Step = {
  name: 'ensureCores',
  async run(ctx) {
    const state = ctx.observed.core!;
    const desired = coreStatefulSet(ctx.emqx, ctx.conf, { hash: state.hash });
    const override = coreReplicasOverride.get(ctx);
    if (override !== undefined) desired.spec!.replicas = override;
    const live = ctx.cache.get<V1StatefulSet>('StatefulSet', ctx.namespace, desired.metadata!.name!);
    try {
      await applyIfChanged(ctx, desired, live);
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 422) {
        void ctx.events.warning(ctx.raw, 'CoreStatefulSetRejected', err.message);
        ctx.observed.core!.activity = `the API server refused the core StatefulSet: ${err.message}`;
        return;
      }
      throw err;
    }
    ctx.observed.initialized = true;
  },
};
