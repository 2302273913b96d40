// Plan: a pure function from the snapshot and the time of the pass to everything the pass will write — the
// desired objects (the same list `render` prints: buildAll, fed with what only a running operator knows), the
// config push, at most one rollout action, the readiness-gate changes, the status and the Events. No I/O, no
// clock reads, no module state: every decision here has a millisecond unit test (plan.test.ts, rollout/*.test.ts).
import type { V1ConfigMap, V1Pod, V1Service } from '@kubernetes/client-node';
import { ANNOTATION_APPLIED_CONFIG, ANNOTATION_DRAINING, CONDITION_ON_SERVING, names } from '../api/names.ts';
import type { EMQXStatus } from '../api/types.ts';
import { configuredListenerPorts, hotConfig, nodeCookie } from '../emqx/config.ts';
import { getPath, printHocon, type HoconObject } from '../hocon/index.ts';
import {
  buildAll,
  tlsCertificates,
  type BuiltObject,
  type LoadBalancerAddresses,
} from '../resources/index.ts';
import { fnv1a32, hashObject } from '../resources/hash.ts';
import { ANNOTATION_RESTART_CONFIG_HASH } from '../resources/metadata.ts';
import { OPERATOR_API_KEY_NAME, resolveBootstrapApiKeys } from '../resources/secrets.ts';
import { conditionMessage, type ConfigObservation } from '../status/conditions.ts';
import {
  foreignWorkloadsMessage,
  goOperatorRunning,
  goOperatorRunningMessage,
  REASON_FOREIGN_WORKLOADS,
  REASON_GO_OPERATOR_RUNNING,
  writtenAfterTakeover,
} from './foreign-workloads.ts';
import { foreignSets } from './rollout/takeover.ts';
import { unwantedChildren, type Deletion } from './prune.ts';
import { REASON_WRITE_CONFLICT, writeHoldMessage, type WriteHold } from './write-fights.ts';
import type { ApiOutageVerdict } from './api-outage.ts';
import { containersReady, podCondition } from './pod-facts.ts';
import { planRollout, replicantsMayStart, type RolloutDecision } from './rollout/index.ts';
import { scaleTarget, type PlannedEvent, type ScaleTarget } from './rollout/types.ts';
import { liveChild, type Snapshot } from './snapshot.ts';
import { buildStatus, conditionEvents, type StatusDecisions } from './status.ts';

export const REASON_NODE_COOKIE_MISSING = 'NodeCookieSecretMissing';

/** Pods of this cluster exist (or its sets say they run some): the nodes run with the cookie they started with. */
export function clusterRuns(s: Snapshot): boolean {
  return (
    s.pods.length > 0 || [...s.statefulSets, ...s.replicaSets].some((set) => (set.status?.replicas ?? 0) > 0)
  );
}

/**
 * Why the plan must hold: the node-cookie Secret exists neither in the cache nor on the API server, pods run, and
 * the config sets no `node.cookie` (which would say the value). The running nodes keep the cookie in their
 * environment only; the operator has no way to read it back (that would take exec into a pod), so it asks.
 */
export function nodeCookieHold(
  s: Snapshot,
  conf: HoconObject,
): { reason: string; message: string } | undefined {
  if (s.secrets.cookieExists || !clusterRuns(s)) return undefined;
  if (nodeCookie(conf) !== undefined) return undefined;
  const secret = names.nodeCookieSecret(s.emqx);
  return {
    reason: REASON_NODE_COOKIE_MISSING,
    message: `Secret ${secret} (key node_cookie) is missing while the cluster's pods run; a new cookie would split the cluster, so nothing is changed: create it again with the cookie the nodes run with (printenv EMQX_NODE__COOKIE in a running EMQX container), or set node.cookie in spec.config.data to that value`,
  };
}

/** A readiness-gate change on one pod. */
export interface PodServing {
  pod: string;
  status: 'True' | 'False';
}

export interface ConfigPush {
  hocon: string;
  mode: 'merge' | 'replace';
  /** Recorded once EMQX accepted it. */
  event: PlannedEvent;
}

export interface Plan {
  /** Why nothing but the readiness gates and the status is written this pass. */
  halted?: 'paused' | 'invalid config' | 'invalid certificate' | 'foreign workloads' | 'node cookie missing';
  /** The desired objects, in apply order (server-side apply, skipped when the live object already matches). */
  objects: BuiltObject[];
  /**
   * Names of the key Secrets among `objects` that this pass did not find (snapshot `secrets.missing`): act writes
   * them create-only, so a Secret of that name the pass did not see is never overwritten (a refusal sends the next
   * pass to read it).
   */
  createOnly?: string[];
  /** Push the runtime part of the config first; the ConfigMap in `objects` is applied only if EMQX accepts it. */
  configPush?: ConfigPush;
  rollout: RolloutDecision;
  /** Children the spec no longer asks for (./prune.ts), deleted after every apply of the pass. */
  deletions?: Deletion[];
  /** ReplicaSets to scale to zero when the spec wants no replicants. */
  scales: ScaleTarget[];
  serving: PodServing[];
  /** What the status reports, should every write succeed. */
  decisions: StatusDecisions;
  status: EMQXStatus;
  /** Events to record (spec problems; the rollout action's own are recorded once it is done), and those of the status change. */
  events: PlannedEvent[];
  statusEvents: PlannedEvent[];
  /** Come back after this long at the latest (from the status and the waits below). */
  requeueAfterMs: number;
  /** Things in progress that want an earlier look (ms). */
  waits: number[];
  intervals: PlanOptions;
  /** Spreads the Ready re-check of many resources (jitterOf). */
  jitter: number;
}

export interface PlanOptions {
  /** Re-check interval while the cluster is not Ready. Default 5 s. */
  notReadyIntervalMs?: number;
  /** Safety-net re-check once Ready. Default 30 s. */
  readyIntervalMs?: number;
  /** An object fought over by another writer (./write-fights.ts): left out of the writes until the hold ends. */
  writeHold?: WriteHold;
  /** What to say of an EMQX API failure this pass (./api-outage.ts): hidden within its grace, or its Event. */
  apiOutage?: ApiOutageVerdict;
}

/** Readiness gate `apps.emqx.io/on-serving` of a pod, as the plan wants it. */
export function wantServing(s: Snapshot, pod: V1Pod, running: ReadonlySet<string>): boolean {
  if (pod.metadata?.annotations?.[ANNOTATION_DRAINING]) return false;
  if (!containersReady(pod)) return false;
  // Once serving, a pod keeps serving until drained or its own probe fails: a node missing from one answer of
  // the API (an unreachable target, a replicant between cores) does not pull it out of the Services.
  if (podCondition(pod, CONDITION_ON_SERVING)?.status === 'True') return true;
  if (!running.has(pod.metadata!.name!)) return false;
  return s.availability.get(pod.metadata!.name!) ?? true;
}

function servingPlan(s: Snapshot): { changes: PodServing[]; serving: Set<string> } {
  const serving = new Set<string>();
  const changes: PodServing[] = [];
  for (const view of [s.core, s.replicant]) {
    for (const pod of view.pods) {
      const want = wantServing(s, pod, view.running) ? 'True' : 'False';
      if (want === 'True') serving.add(pod.metadata!.name!);
      // A gate condition a pod does not have counts as False (Kubernetes' rule for readiness gates): a new pod is
      // not patched to False before it may serve, only once to True.
      const current = podCondition(pod, CONDITION_ON_SERVING)?.status;
      if (current !== want && !(want === 'False' && current === undefined))
        changes.push({ pod: pod.metadata!.name!, status: want });
    }
  }
  return { changes, serving };
}

/** Pods not yet carrying the restart-required config of their role's current template. */
export function restartPending(s: Snapshot): number {
  const want = (view: Snapshot['core']) =>
    view.updated[0]?.metadata?.annotations?.[ANNOTATION_RESTART_CONFIG_HASH];
  let n = 0;
  for (const view of [s.core, s.replicant]) {
    const target = want(view);
    if (target === undefined) continue;
    n += view.pods.filter((p) => p.metadata?.annotations?.[ANNOTATION_RESTART_CONFIG_HASH] !== target).length;
  }
  return n;
}

/** The ConfigApplied observation once the config push (if any) went as `pushed` says. */
export function configObservation(
  s: Snapshot,
  pushed: { ok: true } | { ok: false; rejected: boolean; message: string },
): ConfigObservation {
  if (!pushed.ok) {
    return pushed.rejected
      ? { state: 'Rejected', message: `EMQX rejected spec.config.data: ${pushed.message}` }
      : { state: 'Pending', message: `cannot reach EMQX to apply the config: ${pushed.message}` };
  }
  const pending = restartPending(s);
  if (pending > 0) {
    return {
      state: 'RestartRequired',
      message: `node, cluster, rpc or dashboard listener settings changed: they take effect as ${pending} pod(s) are replaced`,
    };
  }
  return { state: 'Applied' };
}

/**
 * A number in [0, 1) that is the same for the same resource and instant and spreads evenly across resources: the
 * jitter of the Ready re-check, so that many clusters reconciled together do not keep polling EMQX in lock-step.
 */
export function jitterOf(key: string, now: Date): number {
  return fnv1a32(new TextEncoder().encode(`${key}@${now.getTime()}`)) / 2 ** 32;
}

/**
 * When to look again: the earliest wait, else the interval (5 s while not Ready; 30 s once Ready, ±10 % by
 * `jitter`).
 */
export function requeueFor(
  status: EMQXStatus,
  waits: readonly number[],
  opts: PlanOptions,
  jitter: number = 0.5,
): number {
  const ready = status.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  const base = ready
    ? Math.round((opts.readyIntervalMs ?? 30_000) * (0.9 + 0.2 * jitter))
    : (opts.notReadyIntervalMs ?? 5_000);
  return Math.min(base, ...waits);
}

/**
 * A Normal Event for each certificate whose serial differs from the one the last status recorded (a renewal or a
 * replaced Secret): what the nodes now serve to new connections, with its serial and end of validity.
 */
export function certificateEvents(s: Snapshot): PlannedEvent[] {
  const before = new Map((s.previousStatus?.certificates ?? []).map((c) => [c.name, c]));
  const out: PlannedEvent[] = [];
  for (const c of s.tls?.certificates ?? []) {
    const prev = before.get(c.name);
    if (!prev || prev.serial === c.serial) continue;
    out.push({
      type: 'Normal',
      reason: 'CertificateRotated',
      message: `the ${c.name} certificate (Secret "${c.secretName}") is now serial ${c.serial}, valid until ${c.notAfter}; nodes serve it to new connections, established ones are kept`,
    });
  }
  return out;
}

/**
 * Why foreign workloads stop this pass (Ready's reason and message), or undefined: none, or a takeover the user
 * asked for with the Go operator stopped (its Lease no longer renewed), which the rollout then carries out.
 */
export function foreignWorkloadsHold(
  s: Snapshot,
  now: Date,
): { reason: string; message: string } | undefined {
  if (s.foreignWorkloads.length === 0) return undefined;
  if (!s.takeover)
    return { reason: REASON_FOREIGN_WORKLOADS, message: foreignWorkloadsMessage(s.name, s.foreignWorkloads) };
  const running =
    goOperatorRunning(s.goOperatorLeases ?? { ok: false, error: 'not read' }, now) ??
    writtenAfterTakeover([
      ...foreignSets(s, 'StatefulSet').map((x) => ({ ...x, kind: 'StatefulSet' })),
      ...foreignSets(s, 'ReplicaSet').map((x) => ({ ...x, kind: 'ReplicaSet' })),
    ]);
  if (running)
    return {
      reason: REASON_GO_OPERATOR_RUNNING,
      message: goOperatorRunningMessage(running, s.foreignWorkloads),
    };
  return undefined;
}

/** The addresses the cloud gave the live listeners Service (for the cert-manager Certificate's names). */
export function listenersLoadBalancer(s: Snapshot): LoadBalancerAddresses {
  const svc = liveChild<V1Service>(s, 'Service', names.listenersService(s.emqx));
  const ingress = svc?.status?.loadBalancer?.ingress ?? [];
  return {
    hostnames: ingress.flatMap((i) => (i.hostname ? [i.hostname] : [])),
    ips: ingress.flatMap((i) => (i.ip ? [i.ip] : [])),
  };
}

/** The plan of one pass. */
export function plan(s: Snapshot, now: Date, opts: PlanOptions = {}): Plan {
  const events: PlannedEvent[] = certificateEvents(s);
  if (opts.apiOutage?.event) events.push(opts.apiOutage.event);
  const jitter = jitterOf(`${s.namespace}/${s.name}`, now);
  const finish = (
    p: Omit<Plan, 'status' | 'statusEvents' | 'requeueAfterMs' | 'waits' | 'intervals' | 'jitter'>,
    planWaits: number[],
  ): Plan => {
    // an EMQX API failure within its grace: left out of the status, looked at again soon
    const hidden = opts.apiOutage?.hidden === true;
    const decisions = hidden ? { ...p.decisions, apiErrorHidden: true } : p.decisions;
    const retry = opts.apiOutage?.retryMs;
    const waits = retry !== undefined ? [...planWaits, retry] : planWaits;
    const status = buildStatus(s, decisions, now);
    const missing = new Set(s.secrets.missing ?? []);
    const createOnly = p.objects
      .filter((o) => o.kind === 'Secret' && missing.has(o.metadata!.name!))
      .map((o) => o.metadata!.name!);
    return {
      ...p,
      ...(createOnly.length > 0 && { createOnly }),
      decisions,
      status,
      statusEvents: conditionEvents(s.previousStatus, status),
      requeueAfterMs: requeueFor(status, waits, opts, jitter),
      waits,
      intervals: opts,
      jitter,
    };
  };
  const initialized = s.statefulSets.length > 0;

  if (s.paused) {
    return finish(
      {
        halted: 'paused',
        objects: [],
        rollout: { activity: {} },
        scales: [],
        serving: [],
        decisions: { config: { state: 'Applied' }, initialized, activity: {}, progressing: {} },
        events,
      },
      [],
    );
  }
  const foreignHold = foreignWorkloadsHold(s, now);
  if (foreignHold) {
    // Workloads of another operator (the Go emqx-operator) under this resource, and no takeover (or the Go
    // operator still runs): nothing is written but the status, not even the readiness gates of its pods. One
    // Event says so: the status write announces Ready flipping from True; in any other case it is said here,
    // once (the previous Ready already carrying the reason: said before).
    const ready = s.previousStatus?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.reason !== foreignHold.reason && ready?.status !== 'True')
      events.push({ type: 'Warning', reason: foreignHold.reason, message: foreignHold.message });
    return finish(
      {
        halted: 'foreign workloads',
        objects: [],
        rollout: { activity: {} },
        scales: [],
        serving: [],
        decisions: {
          config: { state: 'Applied' },
          initialized,
          activity: {},
          progressing: {},
          foreignWorkloads: foreignHold,
        },
        events,
      },
      [],
    );
  }
  const { changes: serving, serving: servingPods } = servingPlan(s);
  if (!s.config.ok) {
    // Invalid HOCON changes nothing: the condition carries the line and column, and an Event says so.
    events.push({
      type: 'Warning',
      reason: 'InvalidConfig',
      message: `${s.config.error}; nothing was changed`,
    });
    return finish(
      {
        halted: 'invalid config',
        objects: [],
        rollout: { activity: {} },
        scales: [],
        serving,
        decisions: {
          config: { state: 'Invalid', message: s.config.error },
          initialized,
          activity: {},
          progressing: {},
        },
        events,
      },
      [],
    );
  }
  if (s.tls?.error !== undefined) {
    // A TLS Secret that is missing or unusable changes nothing either: pods started with it would not serve. The
    // cert-manager Certificates are still written (cert-manager cannot issue a Secret for one that does not exist).
    events.push({
      type: 'Warning',
      reason: 'InvalidCertificate',
      message: `${s.tls.error}; nothing was changed`,
    });
    return finish(
      {
        halted: 'invalid certificate',
        objects: s.tls.certificateKindUnserved ? [] : tlsCertificates(s.emqx, listenersLoadBalancer(s)),
        rollout: { activity: {} },
        scales: [],
        serving,
        decisions: {
          config: { state: 'Pending', message: `waiting for a usable certificate: ${s.tls.error}` },
          initialized,
          activity: {},
          progressing: {},
        },
        events,
      },
      [],
    );
  }
  const conf: HoconObject = s.config.conf;
  const emqx = s.emqx;
  const waits: number[] = [];

  const cookieHold = nodeCookieHold(s, conf);
  if (cookieHold) {
    // The cookie Secret is gone under running pods and nothing says which value they run with: a new cookie would
    // split the cluster (new pods could not join the old ones), and any rollout would start pods that cannot even
    // read it. Nothing is written but the readiness gates and the status until the Secret is back.
    if (s.previousStatus?.conditions?.find((c) => c.type === 'Ready')?.reason !== cookieHold.reason)
      events.push({ type: 'Warning', ...cookieHold });
    return finish(
      {
        halted: 'node cookie missing',
        objects: [],
        rollout: { activity: {} },
        scales: [],
        serving,
        decisions: {
          config: { state: 'Pending', message: `waiting for Secret ${names.nodeCookieSecret(emqx)}` },
          initialized,
          activity: {},
          progressing: {},
          blocked: cookieHold,
        },
        events,
      },
      [10_000],
    );
  }

  // Secrets: the cookie of a running cluster never changes; the operator's key is generated once.
  if (s.secrets.cookieExists) {
    const configured = getPath(conf, 'node.cookie');
    if (typeof configured === 'string' && configured !== s.secrets.cookie) {
      events.push({
        type: 'Warning',
        reason: 'CookieChangeIgnored',
        message: `node.cookie in spec.config.data differs from Secret ${names.nodeCookieSecret(emqx)}; the cookie of a running cluster is never changed`,
      });
    }
  }
  if (s.secrets.cookieRestored) {
    events.push({
      type: 'Warning',
      reason: 'NodeCookieSecretRestored',
      message: `Secret ${names.nodeCookieSecret(emqx)} was deleted; it is created again with the cookie the operator read from it before`,
    });
  }
  if (s.secrets.operatorSecretRestored) {
    events.push({
      type: 'Warning',
      reason: 'BootstrapAPIKeySecretRestored',
      message: `Secret ${names.bootstrapApiKeySecret(emqx)} was deleted; it is created again with the API keys the operator read from it before`,
    });
  }
  if (s.secrets.operatorSecretGenerated && clusterRuns(s)) {
    events.push({
      type: 'Warning',
      reason: 'BootstrapAPIKeySecretRecreated',
      message: `Secret ${names.bootstrapApiKeySecret(emqx)} was not found and is created again with a new operator API key; nodes read it when they start, so the operator's EMQX API calls fail until a node restarts`,
    });
  }
  const { keys: userKeys, issues } = resolveBootstrapApiKeys(emqx, s.secrets.userSecrets);
  for (const issue of issues) {
    events.push({
      type: 'Warning',
      reason: 'InvalidBootstrapAPIKey',
      message: `${issue.path}: ${issue.message}`,
    });
  }

  // Config: the runtime part is pushed to EMQX when it changed since the last accepted push; the ConfigMap (what
  // nodes read when they start) follows only once EMQX accepted it. No running cluster: the file is written.
  const hot = hotConfig(conf);
  const hotHash = hashObject(hot);
  const liveCm = liveChild<V1ConfigMap>(s, 'ConfigMap', names.configMap(emqx));
  const applied = liveCm?.metadata?.annotations?.[ANNOTATION_APPLIED_CONFIG];
  const configPush: ConfigPush | undefined =
    liveCm && applied !== hotHash && s.nodes
      ? {
          hocon: printHocon(hot),
          mode: emqx.spec.config?.mode === 'Replace' ? 'replace' : 'merge',
          event: {
            type: 'Normal',
            reason: 'ConfigUpdated',
            message: 'spec.config.data was applied to the running cluster',
          },
        }
      : undefined;

  // Rollout: at most one action.
  const rollout = planRollout(s, now);
  if (rollout.requeue) waits.push(rollout.requeue.afterMs);
  const activity = { ...rollout.activity };
  const progressing = {
    core: rollout.activity.core !== undefined,
    replicant: rollout.activity.replicant !== undefined,
  };

  // Replicants: the ReplicaSet of the current revision. On a new cluster it is created with the cores (replicants
  // retry joining until a core runs); on an upgrade only once the core nodes of the new revision run (replicants
  // attach to running cores of their own version). No replicants wanted: every ReplicaSet goes to zero.
  const scales: ScaleTarget[] = [];
  let replicantSet = true;
  if (!emqx.spec.replicantTemplate) {
    for (const rs of s.replicaSets) if ((rs.spec?.replicas ?? 0) !== 0) scales.push(scaleTarget(rs, 0));
  } else {
    const exists =
      liveChild(s, 'ReplicaSet', names.replicantReplicaSet(emqx, s.replicant.hash)) !== undefined;
    if (!exists && !replicantsMayStart(s)) {
      replicantSet = false;
      activity.replicant = 'waiting for the core nodes before creating replicants';
      waits.push(5000);
    }
  }

  // Listeners: ports from the running cluster (listeners added at runtime are exposed too); when EMQX cannot be
  // asked, the live Service stays as it is, or is created from the config. It selects replicants once one serves.
  const liveListeners = liveChild<V1Service>(s, 'Service', names.listenersService(emqx));
  const listenersService = s.listenerPorts !== undefined || !liveListeners;
  const replicantsServing = s.replicant.pods.some((p) => servingPods.has(p.metadata!.name!));

  const objects = buildAll(emqx, conf, {
    cookie: s.secrets.cookie,
    keepCookie: s.secrets.cookieExists,
    operatorKey: { key: OPERATOR_API_KEY_NAME, secret: s.secrets.operatorSecret },
    userKeys,
    coreHash: s.core.hash,
    replicantHash: s.replicant.hash,
    ...(rollout.coreReplicas !== undefined && { coreReplicas: rollout.coreReplicas }),
    replicantSet,
    listenersService,
    listenerPorts: s.listenerPorts ? [...s.listenerPorts] : configuredListenerPorts(conf),
    listenersTargetRole: replicantsServing ? 'replicant' : 'core',
    appliedConfigHash: hotHash,
    listenersLoadBalancer: listenersLoadBalancer(s),
  });

  const deletions = unwantedChildren(s, objects);

  // A write fight: the object is not written until the hold ends; Ready names it, an Event says so once per hold.
  const hold = opts.writeHold && now.getTime() < opts.writeHold.until ? opts.writeHold : undefined;
  const blocked = hold && { reason: REASON_WRITE_CONFLICT, message: writeHoldMessage(hold) };
  if (hold && blocked) {
    waits.push(hold.until - now.getTime());
    const ready = s.previousStatus?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.message !== conditionMessage(blocked.message)) events.push({ type: 'Warning', ...blocked });
  }

  return finish(
    {
      objects: hold ? objects.filter((o) => `${o.kind}/${o.metadata?.name}` !== hold.object) : objects,
      ...(deletions.length > 0 && { deletions }),
      // a held ConfigMap holds its push too (the push is recorded on it: it would be pushed again every pass)
      ...(configPush && hold?.object !== `ConfigMap/${names.configMap(emqx)}` && { configPush }),
      rollout,
      scales,
      serving,
      decisions: {
        config: configObservation(s, { ok: true }),
        initialized: true,
        activity,
        progressing,
        ...(rollout.update && { update: rollout.update }),
        ...(blocked && { blocked }),
      },
      events,
    },
    waits,
  );
}
