// The Rebalance resource: a one-shot load rebalance of an EMQX cluster's nodes (Enterprise editions). It starts the
// rebalance on one running node (the coordinator), follows `global_status` until the rebalance is gone (Completed),
// and stops it when the resource is deleted mid-way (finalizer).
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import { FINALIZER, names } from '../api/names.ts';
import { applyRebalanceDefaults } from '../api/defaults.ts';
import type { EMQX, Rebalance, RebalanceState, RebalanceStatus } from '../api/types.ts';
import { deepEqual } from '../api/json.ts';
import { mergePatch, mergePatchStatus } from '../k8s/apply.ts';
import { kubeTime } from '../k8s/time.ts';
import type { EventRecorder } from '../k8s/events.ts';
import type { KubeClient, KubeObject } from '../k8s/rest.ts';
import { clusterDomainOf } from '../resources/metadata.ts';
import { CA_CERT_KEY, tlsSecretName } from '../resources/tls.ts';
import type { Logger } from '../observability/logger.ts';
import type { ClusterCache } from './cache.ts';
import { connect, decodeSecret, emqxAccess, supportsEvacuation, type EmqxApiFactory } from './emqx-access.ts';

export interface RebalanceDeps {
  client: KubeClient;
  cache: ClusterCache;
  events: EventRecorder;
  log: Logger;
  emqxApiFactory: EmqxApiFactory;
  now?: () => Date;
}

const REF = { apiVersion: 'apps.emqx.io/v2beta1', kind: 'Rebalance' };

function isReady(emqx: EMQX): boolean {
  return emqx.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export class RebalanceReconciler {
  private readonly d: RebalanceDeps;
  constructor(deps: RebalanceDeps) {
    this.d = deps;
  }

  private now(): string {
    return kubeTime(this.d.now?.() ?? new Date());
  }

  private async setStatus(r: Rebalance, status: RebalanceStatus): Promise<void> {
    const next = { ...r.status, ...status };
    if (deepEqual(next, r.status ?? {})) return;
    await mergePatchStatus(
      this.d.client,
      { ...REF, namespace: r.metadata.namespace, name: r.metadata.name! },
      next,
    );
  }

  private condition(type: string, status: 'True' | 'False', reason: string, message: string) {
    const now = this.now();
    return { type, status, reason, message, lastTransitionTime: now, lastUpdateTime: now };
  }

  private async fail(r: Rebalance, reason: string, message: string): Promise<void> {
    void this.d.events.warning(r, reason, message);
    await this.setStatus(r, {
      phase: 'Failed',
      conditions: [this.condition('Failed', 'True', reason, message)],
    });
  }

  private async setFinalizers(r: Rebalance, finalizers: string[]): Promise<void> {
    await mergePatch(
      this.d.client,
      { ...REF, namespace: r.metadata.namespace, name: r.metadata.name! },
      { metadata: { finalizers, resourceVersion: r.metadata.resourceVersion } },
    );
  }

  /**
   * The cluster's API, reached as the EMQX controller reaches it (src/controller/emqx-access.ts): an https-only
   * dashboard is verified against the CA of spec.tls.dashboard's Secret and the cores' names in the cluster's
   * own domain.
   */
  private async api(emqx: EMQX) {
    const ns = emqx.metadata.namespace!;
    const pods = this.d.cache.ownedBy<V1Pod>('Pod', ns, emqx.metadata.name!);
    const secret = this.d.cache.get<V1Secret>('Secret', ns, names.bootstrapApiKeySecret(emqx));
    const dashboardSecret = tlsSecretName(emqx, 'dashboard');
    const ca = dashboardSecret
      ? decodeSecret(
          await this.d.client.get<V1Secret & KubeObject>({
            apiVersion: 'v1',
            kind: 'Secret',
            namespace: ns,
            name: dashboardSecret,
          }),
          CA_CERT_KEY,
        )
      : undefined;
    return connect(
      this.d.emqxApiFactory,
      emqxAccess(pods, secret, { clusterDomain: clusterDomainOf(emqx), ...(ca !== undefined && { ca }) }),
    );
  }

  async reconcile(namespace: string, name: string): Promise<{ requeueAfterMs?: number }> {
    const stored = this.d.cache.rebalance(namespace, name);
    if (!stored) return {};
    const r = applyRebalanceDefaults(stored);
    const finalizers = r.metadata.finalizers ?? [];
    const emqx = this.d.cache.emqx(namespace, r.spec.instanceName);

    if (r.metadata.deletionTimestamp) {
      if (!finalizers.includes(FINALIZER)) return {};
      if (r.status?.phase === 'Processing' && emqx) {
        const coordinator = r.status.rebalanceStates?.[0]?.coordinator_node;
        const api = await this.api(emqx);
        if (api && coordinator) {
          try {
            await api.rebalanceStop(coordinator);
            void this.d.events.normal(
              r,
              'RebalanceStopped',
              `stopped the rebalance coordinated by ${coordinator}`,
            );
          } catch (err) {
            this.d.log.warn('cannot stop rebalance', { error: (err as Error).message });
          }
        }
      }
      await this.setFinalizers(
        r,
        finalizers.filter((f) => f !== FINALIZER),
      );
      return {};
    }
    if (!finalizers.includes(FINALIZER)) {
      await this.setFinalizers(r, [...finalizers, FINALIZER]);
      return {};
    }
    if (r.status?.phase === 'Completed' || r.status?.phase === 'Failed') return {};

    if (!emqx) {
      await this.fail(r, 'EMQXNotFound', `EMQX "${r.spec.instanceName}" not found in namespace ${namespace}`);
      return {};
    }
    if (!isReady(emqx)) {
      await this.setStatus(r, {
        conditions: [
          this.condition('Blocked', 'True', 'EMQXNotReady', `EMQX "${r.spec.instanceName}" is not Ready yet`),
        ],
      });
      return { requeueAfterMs: 10_000 };
    }
    const nodes = [...(emqx.status?.coreNodes ?? []), ...(emqx.status?.replicantNodes ?? [])].filter(
      (n) => n.node_status === 'running',
    );
    if (!supportsEvacuation(nodes[0])) {
      await this.fail(
        r,
        'NotSupported',
        `EMQX "${r.spec.instanceName}" runs ${nodes[0]?.edition ?? 'an unknown'} edition ${nodes[0]?.version ?? ''}: rebalancing needs an Enterprise edition (5.0.3 or later)`.replace(
          / +:/,
          ':',
        ),
      );
      return {};
    }
    const api = await this.api(emqx);
    if (!api) return { requeueAfterMs: 5_000 };

    if (r.status?.phase !== 'Processing') {
      const replicants = (emqx.status?.replicantNodes ?? []).filter((n) => n.node_status === 'running');
      const members = (replicants.length > 0 ? replicants : nodes).map((n) => n.name);
      const coordinator = members[0]!;
      const s = r.spec.rebalanceStrategy;
      try {
        await api.rebalanceStart(coordinator, {
          nodes: members,
          conn_evict_rate: s.connEvictRate,
          sess_evict_rate: s.sessEvictRate,
          wait_takeover: s.waitTakeover,
          wait_health_check: s.waitHealthCheck,
          abs_conn_threshold: s.absConnThreshold,
          rel_conn_threshold: Number(s.relConnThreshold),
          abs_sess_threshold: s.absSessThreshold,
          rel_sess_threshold: Number(s.relSessThreshold),
        });
      } catch (err) {
        await this.fail(
          r,
          'StartFailed',
          `starting the rebalance on ${coordinator}: ${(err as Error).message}`,
        );
        return {};
      }
      void this.d.events.normal(
        r,
        'RebalanceStarted',
        `rebalancing ${members.length} nodes, coordinator ${coordinator}`,
      );
      await this.setStatus(r, {
        phase: 'Processing',
        startedTime: this.now(),
        rebalanceStates: [{ coordinator_node: coordinator, node: coordinator, state: 'starting' }],
        conditions: [this.condition('Processing', 'True', 'RebalanceStarted', `coordinator ${coordinator}`)],
      });
      return { requeueAfterMs: 2_000 };
    }

    const coordinator = r.status.rebalanceStates?.[0]?.coordinator_node;
    const status = await api.globalStatus();
    const mine = (status.rebalances ?? []).filter(
      (x) => !coordinator || (x as { coordinator_node?: string }).coordinator_node === coordinator,
    ) as RebalanceState[];
    if (mine.length === 0) {
      void this.d.events.normal(r, 'RebalanceCompleted', 'the rebalance finished');
      await this.setStatus(r, {
        phase: 'Completed',
        completedTime: this.now(),
        rebalanceStates: [],
        conditions: [this.condition('Completed', 'True', 'RebalanceCompleted', 'the rebalance finished')],
      });
      return {};
    }
    await this.setStatus(r, { rebalanceStates: mine });
    return { requeueAfterMs: 2_000 };
  }
}
