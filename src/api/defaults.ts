// Defaults the operator applies at reconcile time. `applyDefaults` is pure (it never touches its argument),
// idempotent (applying it twice gives the same object as applying it once) and only fills what the user left out:
// a value the user wrote is never replaced.
//
// Which defaults live where:
// - The CRD schema (./schema.ts) carries only scalar defaults that are safe for the API server to write into the
//   stored object: clusterDomain, revisionHistoryLimit, config.mode, updateStrategy scalars, evacuation rates,
//   core.type / replicant.type, service template `enabled`, dataVolume, PVC retention policy, Rebalance
//   instanceKind and strategy scalars. These are repeated here so that `render` (no API server) sees the same
//   values.
// - Everything structured is applied here only, never stored: template replicas (so `kubectl scale` and an HPA
//   stay the only writers of replicant replicas, and an absent replicantTemplate stays absent), the default PVC
//   spec, pod and container security contexts (merged under user values), default probes and the merge of the
//   legacy `toleRations` into `tolerations`.
import { deepEqual, isObj } from './json.ts';
import type {
  V1PersistentVolumeClaimSpec,
  V1PodSecurityContext,
  V1Probe,
  V1SecurityContext,
  V1Toleration,
} from '@kubernetes/client-node';
import type {
  CoreTemplateSpec,
  EMQX,
  EMQXReplicaTemplateSpec,
  EvacuationStrategy,
  Rebalance,
  RebalanceStrategy,
  ServiceTemplate,
  UpdateStrategy,
} from './types.ts';

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
export const DEFAULT_REVISION_HISTORY_LIMIT = 3;
export const DEFAULT_CONFIG_MODE = 'Merge';
export const DEFAULT_CORE_REPLICAS = 2;
export const DEFAULT_REPLICANT_REPLICAS = 2;
export const DEFAULT_INITIAL_DELAY_SECONDS = 10;
export const DEFAULT_EVACUATION_STRATEGY: Readonly<Required<EvacuationStrategy>> = Object.freeze({
  waitTakeover: 10,
  connEvictRate: 1000,
  sessEvictRate: 1000,
  waitHealthCheck: 60,
});
export const DEFAULT_DATA_VOLUME_STORAGE = '500Mi';
export const DEFAULT_UID = 1000;

/** Rebalance strategy defaults (connEvictRate is required and has none). */
export const DEFAULT_REBALANCE_STRATEGY: Readonly<Omit<Required<RebalanceStrategy>, 'connEvictRate'>> =
  Object.freeze({
    sessEvictRate: 500,
    waitTakeover: 60,
    waitHealthCheck: 60,
    absConnThreshold: 1000,
    relConnThreshold: '1.1',
    absSessThreshold: 1000,
    relSessThreshold: '1.1',
  });

/** The PVC spec used for core data when the user gives none. */
export function defaultVolumeClaimSpec(): V1PersistentVolumeClaimSpec {
  return {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: DEFAULT_DATA_VOLUME_STORAGE } },
  };
}

export function defaultPodSecurityContext(): V1PodSecurityContext {
  return {
    runAsUser: DEFAULT_UID,
    runAsGroup: DEFAULT_UID,
    fsGroup: DEFAULT_UID,
    fsGroupChangePolicy: 'Always',
    supplementalGroups: [DEFAULT_UID],
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function defaultContainerSecurityContext(): V1SecurityContext {
  return {
    runAsUser: DEFAULT_UID,
    runAsGroup: DEFAULT_UID,
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  };
}

/** GET /status on the `dashboard` container port; 60 s initial delay, every 30 s, 3 failures. */
export function defaultLivenessProbe(): V1Probe {
  return {
    httpGet: { path: '/status', port: 'dashboard' },
    initialDelaySeconds: 60,
    periodSeconds: 30,
    failureThreshold: 3,
  };
}

/** GET /status on the `dashboard` container port; 10 s initial delay, every 5 s, 12 failures. */
export function defaultReadinessProbe(): V1Probe {
  return {
    httpGet: { path: '/status', port: 'dashboard' },
    initialDelaySeconds: 10,
    periodSeconds: 5,
    failureThreshold: 12,
  };
}

/** `defaults` with every key the user set replaced by the user value (one level deep). */
function mergeUnder<T extends object>(defaults: T, user: T | undefined): T {
  if (!user) return defaults;
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, v] of Object.entries(user)) if (v !== undefined) out[k] = v;
  return out as T;
}

function isEmptyObject(v: unknown): boolean {
  return isObj(v) && Object.keys(v).every((k) => v[k] === undefined);
}

/**
 * The pod and EMQX-container security contexts: the hardened defaults merged key by key under the user's values,
 * except where the user's values say otherwise, as with the Go operator:
 * - an explicit empty `podSecurityContext: {}` or `containerSecurityContext: {}` opts out of that level's
 *   defaults entirely;
 * - `runAsUser: 0` at a level drops that level's default runAsNonRoot (the kubelet refuses the pair), and so does
 *   an init or extra container running as root for the pod level (runAsNonRoot there applies to every container);
 * - runAsUser / runAsGroup / runAsNonRoot the user set on the pod are not shadowed by the container defaults.
 * A runAsNonRoot the user wrote is always kept.
 */
export function securityContexts(
  spec: EMQXReplicaTemplateSpec,
): Pick<EMQXReplicaTemplateSpec, 'podSecurityContext' | 'containerSecurityContext'> {
  const userPod = spec.podSecurityContext;
  const userContainer = spec.containerSecurityContext;
  const rootSidecar = [...(spec.initContainers ?? []), ...(spec.extraContainers ?? [])].some(
    (c) => c.securityContext?.runAsUser === 0,
  );

  let pod: V1PodSecurityContext;
  if (isEmptyObject(userPod)) pod = {};
  else {
    pod = mergeUnder(defaultPodSecurityContext(), userPod);
    if (userPod?.runAsNonRoot === undefined && (pod.runAsUser === 0 || rootSidecar)) delete pod.runAsNonRoot;
  }

  let container: V1SecurityContext;
  if (isEmptyObject(userContainer)) container = {};
  else {
    const defaults = defaultContainerSecurityContext();
    for (const k of ['runAsUser', 'runAsGroup', 'runAsNonRoot'] as const)
      if (userPod?.[k] !== undefined) delete defaults[k];
    container = mergeUnder(defaults, userContainer);
    const effectiveUser = container.runAsUser ?? pod.runAsUser;
    if (userContainer?.runAsNonRoot === undefined && effectiveUser === 0) delete container.runAsNonRoot;
  }
  return { podSecurityContext: pod, containerSecurityContext: container };
}

function defaultTemplateSpec<T extends EMQXReplicaTemplateSpec>(spec: T, replicas: number): T {
  const out: T = { ...spec };
  out.replicas ??= replicas;
  Object.assign(out, securityContexts(spec));
  out.livenessProbe ??= defaultLivenessProbe();
  out.readinessProbe ??= defaultReadinessProbe();
  if (spec.toleRations !== undefined) {
    const merged: V1Toleration[] = [...(spec.tolerations ?? [])];
    for (const t of spec.toleRations) if (!merged.some((m) => deepEqual(m, t))) merged.push(t);
    out.tolerations = merged;
    delete out.toleRations;
  }
  return out;
}

function defaultCoreSpec(spec: CoreTemplateSpec): CoreTemplateSpec {
  const out = defaultTemplateSpec(spec, DEFAULT_CORE_REPLICAS);
  out.dataVolume ??= 'PersistentVolumeClaim';
  out.persistentVolumeClaimRetentionPolicy = mergeUnder(
    { whenDeleted: 'Retain', whenScaled: 'Retain' },
    spec.persistentVolumeClaimRetentionPolicy,
  );
  if (out.dataVolume === 'PersistentVolumeClaim') {
    const pvc = spec.volumeClaimTemplates;
    if (!pvc) {
      out.volumeClaimTemplates = defaultVolumeClaimSpec();
    } else {
      // A partial PVC spec (say, only storageClassName) would be refused by the API server without these two.
      const filled: V1PersistentVolumeClaimSpec = { ...pvc };
      if (!filled.accessModes || filled.accessModes.length === 0) filled.accessModes = ['ReadWriteOnce'];
      if (filled.resources?.requests?.storage === undefined) {
        filled.resources = {
          ...filled.resources,
          requests: { ...filled.resources?.requests, storage: DEFAULT_DATA_VOLUME_STORAGE },
        };
      }
      out.volumeClaimTemplates = filled;
    }
  }
  return out;
}

function defaultUpdateStrategy(us: UpdateStrategy | undefined): UpdateStrategy {
  return {
    ...us,
    type: us?.type ?? 'Recreate',
    initialDelaySeconds: us?.initialDelaySeconds ?? DEFAULT_INITIAL_DELAY_SECONDS,
    evacuationStrategy: mergeUnder({ ...DEFAULT_EVACUATION_STRATEGY }, us?.evacuationStrategy),
    core: { ...us?.core, type: us?.core?.type ?? 'InPlace' },
    replicant: { ...us?.replicant, type: us?.replicant?.type ?? 'BlueGreen' },
  };
}

function defaultServiceTemplate(t: ServiceTemplate | undefined): ServiceTemplate {
  return { ...t, enabled: t?.enabled ?? true };
}

/**
 * The EMQX resource with every operator default filled in. Pure and idempotent; user values always win. An absent
 * `replicantTemplate` stays absent (the cluster has no replicants); an absent `coreTemplate` becomes two cores.
 */
export function applyDefaults(emqx: EMQX): EMQX {
  const src = structuredClone(emqx);
  const spec = { ...src.spec };
  spec.clusterDomain ??= DEFAULT_CLUSTER_DOMAIN;
  spec.revisionHistoryLimit ??= DEFAULT_REVISION_HISTORY_LIMIT;
  spec.config = { ...spec.config, mode: spec.config?.mode ?? DEFAULT_CONFIG_MODE };
  spec.updateStrategy = defaultUpdateStrategy(spec.updateStrategy);
  spec.coreTemplate = {
    ...spec.coreTemplate,
    spec: defaultCoreSpec(spec.coreTemplate?.spec ?? {}),
  };
  if (spec.replicantTemplate) {
    spec.replicantTemplate = {
      ...spec.replicantTemplate,
      spec: defaultTemplateSpec(spec.replicantTemplate.spec ?? {}, DEFAULT_REPLICANT_REPLICAS),
    };
  }
  spec.dashboardServiceTemplate = defaultServiceTemplate(spec.dashboardServiceTemplate);
  spec.listenersServiceTemplate = defaultServiceTemplate(spec.listenersServiceTemplate);
  for (const t of [
    spec.coreTemplate,
    spec.replicantTemplate,
    spec.dashboardServiceTemplate,
    spec.listenersServiceTemplate,
  ]) {
    // `annotations:` written with no value (the Go operator's full sample) is null: nothing.
    const m = t?.metadata as Record<string, unknown> | undefined;
    for (const k of ['labels', 'annotations']) if (m && m[k] === null) delete m[k];
  }
  return { ...src, spec };
}

/** The Rebalance with its defaults filled in (instanceKind EMQX and the strategy's optional numbers). Pure, idempotent. */
export function applyRebalanceDefaults(rebalance: Rebalance): Rebalance {
  const src = structuredClone(rebalance);
  return {
    ...src,
    spec: {
      ...src.spec,
      // An empty instanceKind means EMQX, as in the Go operator.
      instanceKind: src.spec.instanceKind || 'EMQX',
      rebalanceStrategy: mergeUnder(
        { ...DEFAULT_REBALANCE_STRATEGY } as RebalanceStrategy,
        src.spec.rebalanceStrategy,
      ),
    },
  };
}
