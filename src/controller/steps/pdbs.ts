import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { names } from '../../api/names.ts';
import { podDisruptionBudget } from '../../resources/index.ts';
import type { Step } from '../context.ts';
import { applyIfChanged } from '../write.ts';

export const ensurePdbs: Step = {
  name: 'ensurePdbs',
  async run(ctx) {
    for (const role of ['core', 'replicant'] as const) {
      const pdb = podDisruptionBudget(ctx.emqx, role);
      if (!pdb) continue;
      const live = ctx.cache.get<V1PodDisruptionBudget>(
        'PodDisruptionBudget',
        ctx.namespace,
        names.pdb(ctx.emqx, role),
      );
      await applyIfChanged(ctx, pdb, live);
    }
  },
};
