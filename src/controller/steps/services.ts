// The dashboard Service (core nodes) and the listeners Service (replicants once any is ready, else cores). Listener
// ports are read back from the running cluster, so listeners added at runtime are exposed too; when EMQX cannot be
// asked, the Service is left as it is (no churn), or created from spec.config.data.
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import { names } from '../../api/names.ts';
import { parseHocon } from '../../hocon/index.ts';
import {
  configuredListenerPorts,
  dashboardService,
  listenerPorts,
  listenersService,
} from '../../resources/index.ts';
import type { Step } from '../context.ts';
import { podReady } from '../observe.ts';
import { applyIfChanged } from '../write.ts';

export const ensureServices: Step = {
  name: 'ensureServices',
  async run(ctx) {
    const dashboard = dashboardService(ctx.emqx, ctx.conf);
    if (dashboard) {
      const live = ctx.cache.get<V1Service>('Service', ctx.namespace, names.dashboardService(ctx.emqx));
      await applyIfChanged(ctx, dashboard, live);
    }

    const liveListeners = ctx.cache.get<V1Service>(
      'Service',
      ctx.namespace,
      names.listenersService(ctx.emqx),
    );
    let ports: V1ServicePort[] | undefined;
    if (ctx.emqxApi && ctx.observed.nodes) {
      try {
        ports = listenerPorts(parseHocon(await ctx.emqxApi.getConfigsHocon()));
      } catch (err) {
        ctx.log.warn('cannot read listeners from EMQX', { error: (err as Error).message });
      }
    }
    if (!ports) {
      if (liveListeners) return; // keep what is there rather than guess
      ports = configuredListenerPorts(ctx.conf);
    }
    // The pods the readiness gate lets serve in this pass (the informer cache may not show the gate yet).
    const serving = ctx.observed.serving;
    const replicantsServing = (ctx.observed.replicant?.pods ?? []).some((p) =>
      serving ? serving.has(p.metadata!.name!) : podReady(p),
    );
    ctx.log.debug('listeners service', {
      ports: ports.map((p) => p.port),
      target: replicantsServing ? 'replicant' : 'core',
      serving: serving ? [...serving] : undefined,
    });
    const svc = listenersService(ctx.emqx, ctx.conf, {
      ports,
      targetRole: replicantsServing ? 'replicant' : 'core',
    });
    if (svc) await applyIfChanged(ctx, svc, liveListeners);
  },
};
