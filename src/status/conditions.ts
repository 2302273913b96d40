// Status conditions of an EMQX resource. Each condition is computed by its own small pure function from an
// observation of the cluster; `mergeCondition` keeps lastTransitionTime unless the status flips.
import { CONDITION_TYPES, type Condition, type EMQXConditionType } from '../api/types.ts';
import { redactText } from '../observability/redact.ts';

/**
 * Longest condition message, in characters. Messages may carry text from elsewhere (an EMQX error answer, a parse
 * error): they are redacted and cut so that status stays small and readable.
 */
export const MAX_CONDITION_MESSAGE = 1024;

/** Redacts secrets (registered values, `password = x` shapes) and cuts to MAX_CONDITION_MESSAGE characters. */
export function conditionMessage(text: string): string {
  const clean = redactText(text);
  if (clean.length <= MAX_CONDITION_MESSAGE) return clean;
  const keep = MAX_CONDITION_MESSAGE - 40;
  return `${clean.slice(0, keep)}… (${clean.length - keep} more characters)`;
}

/** What the controller saw of one role (core or replicant) in this pass. */
export interface RoleObservation {
  /** Replicas the spec asks for. */
  desired: number;
  /** Pods that exist for this role, on any revision. */
  pods: number;
  /** Pods that are Ready (containers ready) on any revision. */
  readyPods: number;
  /** EMQX nodes of this role reported `running` by the cluster and matched to a pod of the update revision. */
  runningUpdated: number;
  /** Pods on the update revision. */
  updatedPods: number;
  /** Pods on older revisions still present. */
  oldPods: number;
  /** A rollout, scale-down or drain is in progress for this role. */
  progressing: boolean;
  /** Short human description of what is going on (e.g. "replacing emqx-core-1"). */
  activity?: string;
}

export interface StatusObservation {
  generation: number;
  paused: boolean;
  /** True once the operator has created the objects the cluster is made of. */
  initialized: boolean;
  core: RoleObservation;
  /** Undefined when the spec has no replicants and none are left. */
  replicant?: RoleObservation;
  /** Config: undefined when unchanged since last pass is unknown; see configApplied. */
  config: ConfigObservation;
  /** The EMQX API could not be reached: the node counts come from Kubernetes only. */
  apiUnreachable?: string;
  /** spec.tls certificates: undefined without spec.tls. */
  certificates?: CertificatesObservation;
  /** Durable storage, when durable sessions are on in the config (the DurableStorage condition). */
  durableStorage?: DurableStorageObservation;
  /** Workloads this operator did not create were found (the message says which): nothing is changed. */
  foreignWorkloads?: { reason: string; message: string };
  /** The operator holds back on purpose (a Secret the cluster runs with is gone, a write is fought over): why. */
  blocked?: { reason: string; message: string };
}

/** What the operator read of the Secrets spec.tls names. */
export interface CertificatesObservation {
  /** The first problem (names the field and the Secret), when a Secret is missing or unusable. */
  error?: string;
  /** Name (listeners, dashboard), Secret and end of validity of each certificate that was read. */
  certificates: Array<{ name: string; secretName: string; notAfter: string }>;
  /** Milliseconds since the epoch, the plan's clock. */
  now: number;
  /** Warn this many milliseconds before a certificate expires. */
  warnBeforeMs: number;
}

export interface DurableStorageObservation {
  /** EMQX runs durable storage (false: it answers "Durable storage is disabled"). */
  active: boolean;
  replicationFactor: number;
  /** Why `/ds` could not be read this pass. */
  unreadable?: string;
  /**
   * The condition as last written, when `/ds` is unreadable within an EMQX API outage's grace (../controller/
   * api-outage.ts): the outage is left out of the status, so the condition stays as it was instead of Unknown.
   */
  lastKnown?: Pick<ConditionValue, 'status' | 'reason' | 'message'>;
  shards: number;
  underReplicated: number;
  transitions: number;
  sites: number;
  /** The spec asks for fewer cores than the replication factor: what is refused. */
  refusal?: string;
}

export type ConfigObservation =
  | { state: 'Applied'; message?: string }
  | { state: 'Pending'; message: string }
  | { state: 'Invalid'; message: string }
  | { state: 'Rejected'; message: string }
  | { state: 'RestartRequired'; message: string };

export type ConditionStatus = Condition['status'];

export interface ConditionValue {
  type: EMQXConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
}

function cond(type: EMQXConditionType, ok: boolean, reason: string, message: string): ConditionValue {
  return { type, status: ok ? 'True' : 'False', reason, message: conditionMessage(message) };
}

function roleSummary(role: RoleObservation, label: string, apiUnreachable?: string): string {
  const parts = [`${role.runningUpdated}/${role.desired} ${label} nodes running on the current revision`];
  if (role.oldPods > 0) parts.push(`${role.oldPods} on an old revision`);
  if (role.activity) parts.push(role.activity);
  // a node whose API fails, times out or answers nonsense: the counts come from Kubernetes, and the status says why
  if (apiUnreachable) parts.push(`EMQX API unusable (${apiUnreachable}): node states from Kubernetes only`);
  return parts.join(', ');
}

export function initialized(o: StatusObservation): ConditionValue {
  return o.initialized
    ? cond('Initialized', true, 'ResourcesCreated', 'the operator created the cluster resources')
    : cond('Initialized', false, 'CreatingResources', 'creating the cluster resources');
}

export function coreNodesProgressing(o: StatusObservation): ConditionValue {
  const c = o.core;
  const done = !c.progressing && c.runningUpdated >= c.desired && c.oldPods === 0 && c.pods === c.desired;
  return done
    ? cond('CoreNodesProgressing', false, 'CoreNodesUpToDate', roleSummary(c, 'core', o.apiUnreachable))
    : cond(
        'CoreNodesProgressing',
        true,
        c.oldPods > 0 ? 'UpdatingCoreNodes' : 'ScalingCoreNodes',
        roleSummary(c, 'core', o.apiUnreachable),
      );
}

export function coreNodesReady(o: StatusObservation): ConditionValue {
  const c = o.core;
  const ok = c.desired > 0 && c.runningUpdated >= c.desired;
  return cond(
    'CoreNodesReady',
    ok,
    ok ? 'AllCoreNodesRunning' : 'CoreNodesNotReady',
    roleSummary(c, 'core', o.apiUnreachable),
  );
}

export function replicantNodesProgressing(o: StatusObservation): ConditionValue {
  const r = o.replicant;
  if (!r) return cond('ReplicantNodesProgressing', false, 'NoReplicants', 'the spec has no replicant nodes');
  const done = !r.progressing && r.runningUpdated >= r.desired && r.oldPods === 0 && r.pods === r.desired;
  return done
    ? cond(
        'ReplicantNodesProgressing',
        false,
        'ReplicantNodesUpToDate',
        roleSummary(r, 'replicant', o.apiUnreachable),
      )
    : cond(
        'ReplicantNodesProgressing',
        true,
        r.oldPods > 0 ? 'UpdatingReplicantNodes' : 'ScalingReplicantNodes',
        roleSummary(r, 'replicant', o.apiUnreachable),
      );
}

export function replicantNodesReady(o: StatusObservation): ConditionValue {
  const r = o.replicant;
  if (!r) return cond('ReplicantNodesReady', true, 'NoReplicants', 'the spec has no replicant nodes');
  const ok = r.runningUpdated >= r.desired;
  return cond(
    'ReplicantNodesReady',
    ok,
    ok ? 'AllReplicantNodesRunning' : 'ReplicantNodesNotReady',
    roleSummary(r, 'replicant', o.apiUnreachable),
  );
}

/** The cluster serves: every desired node of both roles runs on the current revision. */
export function available(o: StatusObservation): ConditionValue {
  const core = coreNodesReady(o).status === 'True';
  const repl = replicantNodesReady(o).status === 'True';
  if (core && repl) return cond('Available', true, 'ClusterAvailable', 'all desired EMQX nodes are running');
  const missing = [!core && 'core', !repl && 'replicant'].filter(Boolean).join(' and ');
  return cond('Available', false, 'NodesNotReady', `waiting for ${missing} nodes`);
}

/** Everything converged: available, no rollout or drain in progress, the latest spec observed. */
export function ready(o: StatusObservation): ConditionValue {
  if (o.paused) return cond('Ready', false, 'ReconcilePaused', 'reconciliation is paused');
  if (o.foreignWorkloads) return cond('Ready', false, o.foreignWorkloads.reason, o.foreignWorkloads.message);
  if (o.blocked) return cond('Ready', false, o.blocked.reason, o.blocked.message);
  if (available(o).status !== 'True') return cond('Ready', false, 'NotAvailable', available(o).message);
  if (coreNodesProgressing(o).status === 'True')
    return cond('Ready', false, 'CoreNodesProgressing', coreNodesProgressing(o).message);
  if (replicantNodesProgressing(o).status === 'True')
    return cond('Ready', false, 'ReplicantNodesProgressing', replicantNodesProgressing(o).message);
  // a config the parser or EMQX refused is part of the spec the cluster does not match
  if (o.config.state === 'Invalid' || o.config.state === 'Rejected')
    return cond('Ready', false, configApplied(o).reason, configApplied(o).message);
  return cond('Ready', true, 'ClusterReady', 'the EMQX cluster matches the spec');
}

export function configApplied(o: StatusObservation): ConditionValue {
  const c = o.config;
  switch (c.state) {
    case 'Applied':
      return cond('ConfigApplied', true, 'ConfigApplied', c.message ?? 'spec.config.data is applied');
    case 'Pending':
      return cond('ConfigApplied', false, 'ConfigPending', c.message);
    case 'Invalid':
      return cond('ConfigApplied', false, 'InvalidConfig', c.message);
    case 'Rejected':
      return cond('ConfigApplied', false, 'ConfigRejected', c.message);
    case 'RestartRequired':
      return cond('ConfigApplied', false, 'RestartRequired', c.message);
  }
}

/**
 * CertificatesReady, only with spec.tls: False when a Secret is missing or unusable (InvalidCertificate), when a
 * certificate has expired (CertificateExpired) or expires within the warning window (CertificateExpiringSoon).
 */
export function certificatesReady(o: StatusObservation): ConditionValue | undefined {
  const c = o.certificates;
  if (!c) return undefined;
  if (c.error) return cond('CertificatesReady', false, 'InvalidCertificate', c.error);
  const sorted = [...c.certificates].sort((a, b) => Date.parse(a.notAfter) - Date.parse(b.notAfter));
  const first = sorted[0];
  if (first) {
    const left = Date.parse(first.notAfter) - c.now;
    const what = `the ${first.name} certificate (Secret "${first.secretName}")`;
    if (left <= 0)
      return cond('CertificatesReady', false, 'CertificateExpired', `${what} expired at ${first.notAfter}`);
    if (left <= c.warnBeforeMs) {
      return cond(
        'CertificatesReady',
        false,
        'CertificateExpiringSoon',
        `${what} expires at ${first.notAfter}`,
      );
    }
  }
  const list = sorted.map((x) => `${x.name} until ${x.notAfter}`).join(', ');
  return cond(
    'CertificatesReady',
    true,
    'CertificatesValid',
    list ? `valid: ${list}` : 'no certificate to check',
  );
}

export function pausedCondition(o: StatusObservation): ConditionValue {
  return o.paused
    ? cond(
        'Paused',
        true,
        'ReconcilePaused',
        'annotation apps.emqx.io/reconcile-paused is "true": no changes are made',
      )
    : cond('Paused', false, 'ReconcileActive', 'the operator reconciles this resource');
}

/**
 * DurableStorage (only with durable sessions on): True when every shard has its replicas up (transitions may run);
 * False when shards are under-replicated, EMQX does not run durable storage, or the spec is refused for asking
 * fewer cores than the replication factor; Unknown when `/ds` could not be read, unless an EMQX API outage is still
 * within its grace (`lastKnown`: the value last written stays).
 */
export function durableStorage(o: StatusObservation): ConditionValue | undefined {
  const d = o.durableStorage;
  if (!d) return undefined;
  if (d.refusal) return cond('DurableStorage', false, 'ReplicationFactorNotMet', d.refusal);
  if (!d.active)
    return cond(
      'DurableStorage',
      false,
      'DurableStorageNotRunning',
      'durable sessions are on in spec.config.data but EMQX reports durable storage disabled (an Opensource edition, or nodes not restarted with it)',
    );
  if (d.unreadable !== undefined && d.lastKnown) return { type: 'DurableStorage', ...d.lastKnown };
  if (d.unreadable !== undefined)
    return {
      type: 'DurableStorage',
      status: 'Unknown',
      reason: 'DurableStorageUnknown',
      message: `cannot read durable storage state: ${d.unreadable}`,
    };
  const counts = `${d.shards} shards on ${d.sites} sites, replication factor ${d.replicationFactor}`;
  if (d.underReplicated > 0)
    return cond(
      'DurableStorage',
      false,
      'UnderReplicated',
      `${d.underReplicated} of ${counts} have fewer replicas up than they should; ${d.transitions} transitions in progress`,
    );
  if (d.transitions > 0)
    return cond(
      'DurableStorage',
      true,
      'TransitionsInProgress',
      `${counts}: ${d.transitions} shard transitions in progress`,
    );
  return cond('DurableStorage', true, 'Replicated', `${counts}: every shard fully replicated`);
}

export function computeConditions(o: StatusObservation): ConditionValue[] {
  const ds = durableStorage(o);
  return [
    initialized(o),
    coreNodesProgressing(o),
    coreNodesReady(o),
    replicantNodesProgressing(o),
    replicantNodesReady(o),
    available(o),
    ready(o),
    configApplied(o),
    ...(o.certificates ? [certificatesReady(o)!] : []),
    pausedCondition(o),
    ...(ds ? [ds] : []),
  ];
}

/**
 * The conditions to show while foreign workloads stop the operator (StatusObservation.foreignWorkloads): it observed
 * nothing, so every condition but Ready stays as it was (as the previous operator left it); Ready says why.
 */
export function foreignWorkloadsConditions(
  previous: Condition[] | undefined,
  computed: ConditionValue[],
): ConditionValue[] {
  const kept: ConditionValue[] = (previous ?? [])
    .filter((c) => c.type !== 'Ready' && (CONDITION_TYPES as readonly string[]).includes(c.type))
    .map((c) => ({
      type: c.type as EMQXConditionType,
      status: c.status,
      reason: c.reason ?? '',
      message: c.message ?? '',
    }));
  return [...kept, ...computed.filter((c) => c.type === 'Ready')];
}

/**
 * One word for `kubectl get emqx`: Ready when everything converged, else the first stage of the lifecycle
 * (Initialized → cores → replicants → Available) that is still under way.
 */
export function phase(conditions: ConditionValue[], paused: boolean): string {
  if (paused) return 'Paused';
  const readyReason = conditions.find((c) => c.type === 'Ready')?.reason;
  if (readyReason === 'ForeignWorkloads' || readyReason === 'GoOperatorRunning') return readyReason;
  const is = (type: EMQXConditionType) => conditions.find((c) => c.type === type)?.status === 'True';
  if (!is('Initialized')) return 'Initializing';
  if (is('Ready')) return 'Ready';
  if (!is('CoreNodesReady') || is('CoreNodesProgressing')) return 'CoreNodesProgressing';
  if (!is('ReplicantNodesReady') || is('ReplicantNodesProgressing')) return 'ReplicantNodesProgressing';
  return 'Available';
}

/**
 * Merges freshly computed conditions into the previous list. lastTransitionTime changes only when a condition's
 * status flips; reason and message follow the latest observation.
 */
export function mergeConditions(
  previous: Condition[] | undefined,
  next: ConditionValue[],
  now: string,
  generation: number,
): Condition[] {
  const old = new Map((previous ?? []).map((c) => [c.type, c]));
  return next.map((c) => {
    const before = old.get(c.type);
    const lastTransitionTime = before && before.status === c.status ? before.lastTransitionTime : now;
    return { ...c, lastTransitionTime, observedGeneration: generation };
  });
}

/** Conditions whose status differs between two lists (for Events). */
export function flips(previous: Condition[] | undefined, next: Condition[]): Condition[] {
  const old = new Map((previous ?? []).map((c) => [c.type, c.status]));
  return next.filter((c) => old.get(c.type) !== c.status);
}
