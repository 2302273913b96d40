// Rollouts and scale-down: replaces outdated pods and drains old revisions without dropping clients or losing
// data. (Filled in by the upgrade work; for now old replicant revisions are retired once the new one serves.)
import type { V1ReplicaSet } from '@kubernetes/client-node';
import type { Step } from '../context.ts';
import { LABEL_POD_TEMPLATE_HASH } from '../../api/names.ts';
import { scaleSet } from '../scale.ts';

export const rollout: Step = {
  name: 'rollout',
  async run(ctx) {
    const repl = ctx.observed.replicant;
    if (!repl || !ctx.emqx.spec.replicantTemplate) return;
    const serving = repl.updated.filter((p) => repl.running.has(p.metadata!.name!)).length;
    if (serving < repl.desired) return;
    for (const rs of ctx.cache.ownedBy<V1ReplicaSet>('ReplicaSet', ctx.namespace, ctx.name)) {
      if (rs.spec?.selector?.matchLabels?.[LABEL_POD_TEMPLATE_HASH] !== repl.hash) await scaleSet(ctx, rs, 0);
    }
  },
};
