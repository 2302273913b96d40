// What a reconcile pass carries from step to step. Steps read the cache (informers), write through `kube`, talk to
// EMQX through `emqx`, and leave what they observed in `observed` for the status step at the end.
import type { V1Pod } from '@kubernetes/client-node';
import type { Role } from '../api/names.ts';
import type { EMQX, EMQXNode, EMQXStatus, NodeEvacuationStatus, UpdateProgress } from '../api/types.ts';
import type { HoconObject } from '../hocon/index.ts';
import type { EventRecorder } from '../k8s/events.ts';
import type { KubeClient } from '../k8s/rest.ts';
import type { Logger } from '../observability/logger.ts';
import type { ConfigObservation } from '../status/conditions.ts';
import type { ClusterCache } from './cache.ts';
import type { ApiNode } from './observe.ts';

/** The EMQX REST calls the controller makes (implemented by src/emqx/client.ts). */
export interface EmqxApi {
  getNodes(): Promise<ApiNode[]>;
  getNode(node: string): Promise<ApiNode | undefined>;
  getConfigsHocon(): Promise<string>;
  putConfigs(hocon: string, opts: { mode: 'merge' | 'replace'; ignoreReadonly: boolean }): Promise<void>;
  forceLeave(node: string): Promise<void>;
  evacuationStart(node: string, body: Record<string, unknown>): Promise<void>;
  evacuationStop(node: string): Promise<void>;
  globalStatus(): Promise<{
    evacuations?: NodeEvacuationStatus[];
    rebalances?: Array<Record<string, unknown>>;
  }>;
  rebalanceStart(node: string, body: Record<string, unknown>): Promise<void>;
  rebalanceStop(node: string): Promise<void>;
  /** `GET /api/v5/load_rebalance/availability_check` on one node (no auth): true on 200. */
  availabilityCheck(baseUrl: string): Promise<boolean>;
}

export type EmqxApiFactory = (targets: string[], credentials: { key: string; secret: string }) => EmqxApi;

/** How a step ends. Steps that only wait return a requeue; `halt` skips every later step except status. */
export type StepResult = void | { requeueAfterMs: number; reason: string } | { halt: string };

export interface Step {
  name: string;
  run(ctx: ReconcileContext): Promise<StepResult>;
}

export interface RoleState {
  role: Role;
  desired: number;
  /** Revision hash of the current pod template. */
  hash: string;
  /** Non-terminating pods of this role. */
  pods: V1Pod[];
  /** Pods on the current revision. */
  updated: V1Pod[];
  /** Pods on an older revision. */
  old: V1Pod[];
  /** Names of pods whose EMQX node runs in the cluster (from the API, or pod readiness when it is unreachable). */
  running: Set<string>;
  progressing: boolean;
  activity?: string;
}

export interface Observed {
  /** `GET /api/v5/nodes`, when an EMQX API answered. */
  nodes?: ApiNode[];
  apiError?: string;
  coreNodes?: EMQXNode[];
  replicantNodes?: EMQXNode[];
  evacuations?: NodeEvacuationStatus[];
  core?: RoleState;
  replicant?: RoleState;
  config: ConfigObservation;
  initialized: boolean;
  paused?: boolean;
  /** Set when workloads this operator did not create were found (./foreign-workloads.ts): the message. */
  foreignWorkloads?: string;
  /** The status this pass computed (and wrote, when it differed). */
  status?: EMQXStatus;
  update?: UpdateProgress;
  /** Pods the readiness gate was set True on in this pass (or already was). */
  serving?: Set<string>;
  /** Base URLs of ready core pods, oldest first (EMQX API targets). */
  apiTargets: string[];
}

export interface ReconcileContext {
  namespace: string;
  name: string;
  /** The resource as stored (status included). */
  raw: EMQX;
  /** The resource with defaults applied. */
  emqx: EMQX;
  conf: HoconObject;
  cache: ClusterCache;
  client: KubeClient;
  events: EventRecorder;
  log: Logger;
  emqxApi?: EmqxApi;
  emqxApiFactory: EmqxApiFactory;
  observed: Observed;
  now: () => Date;
}
