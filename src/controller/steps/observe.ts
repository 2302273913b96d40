// Observes the cluster: which pods exist on which revision, and what EMQX itself says about its nodes. The EMQX API
// is asked through any ready core (oldest first, falling back to the next), so one dead pod never blinds the
// operator; when no core answers, pod readiness stands in for node status and the status says so.
import type { V1Pod, V1ReplicaSet, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import { LABEL_POD_TEMPLATE_HASH, names, type Role } from '../../api/names.ts';
import { currentHash } from '../../resources/index.ts';
import type { ReconcileContext, RoleState, Step } from '../context.ts';
import {
  byAge,
  containersReady,
  isTerminating,
  podRole,
  podTemplateHash,
  runningPods,
  statusNodes,
  supportsEvacuation,
} from '../observe.ts';
import { operatorCredentials, operatorKeyFrom } from './secrets.ts';

function dashboardPortOf(pod: V1Pod): number {
  for (const c of pod.spec?.containers ?? []) {
    const p = c.ports?.find((port) => port.name === 'dashboard');
    if (p) return p.containerPort;
  }
  return 18083;
}

export function apiTargets(pods: V1Pod[]): string[] {
  return pods
    .filter((p) => podRole(p) === 'core' && containersReady(p) && p.status?.podIP)
    .sort(byAge)
    .map((p) => {
      const ip = p.status!.podIP!;
      return `http://${ip.includes(':') ? `[${ip}]` : ip}:${dashboardPortOf(p)}`;
    });
}

/** The revision hash the role should be on: from the config when it parsed, else from the newest set. */
function wantedHash(ctx: ReconcileContext, role: Role): string {
  const hasTemplate = role === 'core' || ctx.emqx.spec.replicantTemplate !== undefined;
  if (ctx.observed.config.state !== 'Invalid' && hasTemplate) return currentHash(ctx.emqx, ctx.conf, role);
  const sets =
    role === 'core'
      ? ctx.cache.ownedBy<V1StatefulSet>('StatefulSet', ctx.namespace, ctx.name)
      : ctx.cache.ownedBy<V1ReplicaSet>('ReplicaSet', ctx.namespace, ctx.name);
  const newest = [...sets].sort((a, b) =>
    String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')),
  )[0];
  return newest?.spec?.template?.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH] ?? '';
}

function roleState(ctx: ReconcileContext, role: Role, pods: V1Pod[], running: Set<string>): RoleState {
  const hash = wantedHash(ctx, role);
  const mine = pods.filter((p) => podRole(p) === role && !isTerminating(p));
  const desired =
    role === 'core'
      ? (ctx.emqx.spec.coreTemplate?.spec?.replicas ?? 0)
      : (ctx.emqx.spec.replicantTemplate?.spec?.replicas ?? 0);
  const updated = mine.filter((p) => podTemplateHash(p) === hash);
  const old = mine.filter((p) => podTemplateHash(p) !== hash);
  return {
    role,
    desired,
    hash,
    pods: mine,
    updated,
    old,
    // A node counts once EMQX reports it running AND its pod passes its readiness probe, i.e. it can serve.
    running: new Set(
      mine.filter((p) => running.has(p.metadata!.name!) && containersReady(p)).map((p) => p.metadata!.name!),
    ),
    progressing: false,
  };
}

export const observeCluster: Step = {
  name: 'observeCluster',
  async run(ctx) {
    const pods = ctx.cache.ownedBy<V1Pod>('Pod', ctx.namespace, ctx.name);
    const targets = apiTargets(pods);
    ctx.observed.apiTargets = targets;
    const creds =
      operatorCredentials.get(ctx) ??
      operatorKeyFrom(
        ctx.cache.get<V1Secret>('Secret', ctx.namespace, names.bootstrapApiKeySecret(ctx.emqx)),
      );
    if (targets.length > 0 && creds) {
      ctx.emqxApi = ctx.emqxApiFactory(targets, creds);
      try {
        ctx.observed.nodes = await ctx.emqxApi.getNodes();
      } catch (err) {
        ctx.observed.apiError = (err as Error).message;
        ctx.log.warn('EMQX API unreachable', { error: ctx.observed.apiError, targets: targets.length });
        void ctx.events.warning(ctx.raw, 'FailedToGetNodeStatuses', `EMQX API: ${ctx.observed.apiError}`);
      }
    } else {
      ctx.observed.apiError =
        targets.length === 0 ? 'no ready core pod to ask' : 'operator API key not found';
    }

    const nodes = ctx.observed.nodes;
    let running: Set<string>;
    if (nodes) {
      running = runningPods(nodes, pods);
      ctx.observed.coreNodes = statusNodes(nodes, pods, 'core');
      ctx.observed.replicantNodes = statusNodes(nodes, pods, 'replicant');
      const sample = nodes.find((n) => n.node_status === 'running');
      if (ctx.emqxApi && supportsEvacuation(sample)) {
        try {
          ctx.observed.evacuations = (await ctx.emqxApi.globalStatus()).evacuations ?? [];
        } catch (err) {
          ctx.log.warn('cannot read evacuation status', { error: (err as Error).message });
        }
      }
    } else {
      // No API: a pod whose /status probe passes stands in for a running node.
      running = new Set(pods.filter(containersReady).map((p) => p.metadata!.name!));
    }
    ctx.observed.core = roleState(ctx, 'core', pods, running);
    ctx.observed.replicant = roleState(ctx, 'replicant', pods, running);
  },
};
