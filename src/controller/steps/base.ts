// Objects that only depend on the spec: discovery RBAC (k8s discovery only) and the headless Service.
import type { V1Service } from '@kubernetes/client-node';
import { names } from '../../api/names.ts';
import { discoveryRbac, headlessService } from '../../resources/index.ts';
import type { OwnedKind } from '../cache.ts';
import type { Step } from '../context.ts';
import { applyIfChanged } from '../write.ts';

export const ensureBaseObjects: Step = {
  name: 'ensureBaseObjects',
  async run(ctx) {
    for (const obj of discoveryRbac(ctx.emqx, ctx.conf)) {
      const live = ctx.cache.get<typeof obj>(obj.kind as OwnedKind, ctx.namespace, obj.metadata!.name!);
      await applyIfChanged(ctx, obj, live);
    }
    const svc = headlessService(ctx.emqx);
    await applyIfChanged(
      ctx,
      svc,
      ctx.cache.get<V1Service>('Service', ctx.namespace, names.headlessService(ctx.emqx)),
    );
  },
};
