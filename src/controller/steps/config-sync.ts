// Keeps the running cluster's configuration in line with spec.config.data.
//  - The part EMQX can change at runtime is pushed with `PUT /api/v5/configs` (mode from spec.config.mode,
//    ignore_readonly=true) whenever it changed since the last successful push; the hash of what was pushed is kept
//    on the ConfigMap (annotation apps.emqx.io/applied-config-hash).
//  - The ConfigMap (what nodes read when they start) is only rewritten after EMQX accepted the push, so a config
//    EMQX rejects never reaches a restarting node. With no running core to push to, it is written at once: nodes
//    read it when they start.
//  - The part EMQX cannot change at runtime rolls the pods (its hash is a pod-template annotation); until every
//    pod carries it, ConfigApplied says a restart is pending.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { names } from '../../api/names.ts';
import { printHocon } from '../../hocon/index.ts';
import { ANNOTATION_RESTART_CONFIG_HASH, configMap, hashObject, hotConfig } from '../../resources/index.ts';
import type { ReconcileContext, Step } from '../context.ts';
import { applyIfChanged } from '../write.ts';

export const ANNOTATION_APPLIED_CONFIG = 'apps.emqx.io/applied-config-hash';

function withAppliedHash(cm: V1ConfigMap, hash: string): V1ConfigMap {
  return {
    ...cm,
    metadata: {
      ...cm.metadata,
      annotations: { ...cm.metadata?.annotations, [ANNOTATION_APPLIED_CONFIG]: hash },
    },
  };
}

function restartPending(ctx: ReconcileContext): number {
  const pods = [...(ctx.observed.core?.pods ?? []), ...(ctx.observed.replicant?.pods ?? [])];
  const want = new Map<string, string | undefined>();
  return pods.filter((p) => {
    const role = p.metadata?.labels?.['apps.emqx.io/db-role'] ?? '';
    if (!want.has(role)) {
      const state = role === 'core' ? ctx.observed.core : ctx.observed.replicant;
      const sample = state?.updated[0];
      want.set(role, sample?.metadata?.annotations?.[ANNOTATION_RESTART_CONFIG_HASH]);
    }
    const target = want.get(role);
    return target !== undefined && p.metadata?.annotations?.[ANNOTATION_RESTART_CONFIG_HASH] !== target;
  }).length;
}

export const syncConfig: Step = {
  name: 'syncConfig',
  async run(ctx) {
    const desired = configMap(ctx.emqx, ctx.conf);
    const hot = hotConfig(ctx.conf);
    const hash = hashObject(hot);
    const live = ctx.cache.get<V1ConfigMap>('ConfigMap', ctx.namespace, names.configMap(ctx.emqx));
    const applied = live?.metadata?.annotations?.[ANNOTATION_APPLIED_CONFIG];
    const api = ctx.observed.nodes ? ctx.emqxApi : undefined;

    if (!live || applied === hash || !api) {
      // New cluster, nothing new to push, or nobody to push to: the file is what nodes will read.
      await applyIfChanged(ctx, withAppliedHash(desired, hash), live);
      ctx.observed.config = { state: 'Applied' };
    } else {
      try {
        await api.putConfigs(printHocon(hot), {
          mode: ctx.emqx.spec.config?.mode === 'Replace' ? 'replace' : 'merge',
          ignoreReadonly: true,
        });
        await applyIfChanged(ctx, withAppliedHash(desired, hash), live);
        ctx.observed.config = { state: 'Applied' };
        void ctx.events.normal(
          ctx.raw,
          'ConfigUpdated',
          'spec.config.data was applied to the running cluster',
        );
      } catch (err) {
        const e = err as Error & { status?: number };
        if (e.status === 400) {
          const message = `EMQX rejected spec.config.data: ${e.message}`;
          ctx.observed.config = { state: 'Rejected', message };
          void ctx.events.warning(ctx.raw, 'ConfigRejected', message);
          return;
        }
        ctx.observed.config = {
          state: 'Pending',
          message: `cannot reach EMQX to apply the config: ${e.message}`,
        };
        return { requeueAfterMs: 5000, reason: 'config push failed' };
      }
    }
    const pending = restartPending(ctx);
    if (pending > 0) {
      ctx.observed.config = {
        state: 'RestartRequired',
        message: `node, cluster, rpc or dashboard listener settings changed: they take effect as ${pending} pod(s) are replaced`,
      };
    }
  },
};
