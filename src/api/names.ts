// Names, labels and annotations shared by the builders and the controller. Everything the operator names is
// derived here, so a child's name never drifts between the code that creates it and the code that looks it up.
import type { EMQX } from './types.ts';

export const LABEL_INSTANCE = 'apps.emqx.io/instance';
export const LABEL_MANAGED_BY = 'apps.emqx.io/managed-by';
export const LABEL_DB_ROLE = 'apps.emqx.io/db-role';
export const LABEL_POD_TEMPLATE_HASH = 'apps.emqx.io/pod-template-hash';
export const MANAGED_BY = 'emqx-operator';

/** Readiness gate the operator sets on pods whose EMQX node is running in the cluster. */
export const CONDITION_ON_SERVING = 'apps.emqx.io/on-serving';
/** `"true"` stops all writes for the resource. */
export const ANNOTATION_PAUSED = 'apps.emqx.io/reconcile-paused';
/** `"true"`: take over the workloads another operator (the Go emqx-operator) left for this resource. */
export const ANNOTATION_TAKEOVER = 'apps.emqx.io/takeover';
/** The one field manager of every write the operator makes (server-side apply, patches, scale). */
export const FIELD_MANAGER = 'emqx-operator';
/** On the ConfigMap: hash of the runtime-changeable config EMQX last accepted (see controller config sync). */
export const ANNOTATION_APPLIED_CONFIG = 'apps.emqx.io/applied-config-hash';
/** On the pod template: hash of the config EMQX cannot change at runtime (see restartRequiredConfig). */
export const ANNOTATION_RESTART_CONFIG_HASH = 'apps.emqx.io/restart-config-hash';
/** On a pod the operator is draining (value: when it started); the pod stops serving. */
export const ANNOTATION_DRAINING = 'apps.emqx.io/draining';
/** v2beta1 objects made from v2alpha1: the v2alpha1 values the conversion would not give back (see conversion.ts). */
export const ANNOTATION_V2ALPHA1_FIELDS = 'apps.emqx.io/v2alpha1-fields';
/** v2alpha1 views of v2beta1 objects: the v2beta1 spec they stand for (see conversion.ts). */
export const ANNOTATION_V2BETA1_SPEC = 'apps.emqx.io/v2beta1-spec';
/** On Secrets `render` prints: their values are placeholders. */
export const ANNOTATION_RENDER_PLACEHOLDER = 'apps.emqx.io/render-placeholder';
/** Kubernetes' hint to the ReplicaSet controller: on scale-down, remove pods with the lowest cost first. */
export const ANNOTATION_POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
/** The deletion cost of a drained replicant: the pod its ReplicaSet removes first. */
export const LOWEST_DELETION_COST = '-99999';
export const FINALIZER = 'apps.emqx.io/finalizer';

export type Role = 'core' | 'replicant';

function name(emqx: EMQX): string {
  const n = emqx.metadata.name;
  if (!n) throw new Error('metadata.name: required');
  return n;
}

export const names = {
  nodeCookieSecret: (emqx: EMQX) => `${name(emqx)}-node-cookie`,
  bootstrapApiKeySecret: (emqx: EMQX) => `${name(emqx)}-bootstrap-api-key`,
  configMap: (emqx: EMQX) => `${name(emqx)}-configs`,
  headlessService: (emqx: EMQX) => `${name(emqx)}-headless`,
  dashboardService: (emqx: EMQX) => `${name(emqx)}-dashboard`,
  listenersService: (emqx: EMQX) => `${name(emqx)}-listeners`,
  /** In-place cores keep one StatefulSet (and so stable pod names); blue-green ones carry the revision hash. */
  coreStatefulSet: (emqx: EMQX, hash?: string) =>
    hash ? `${name(emqx)}-core-${hash}` : `${name(emqx)}-core`,
  replicantReplicaSet: (emqx: EMQX, hash: string) => `${name(emqx)}-replicant-${hash}`,
  pdb: (emqx: EMQX, role: Role) => `${name(emqx)}-${role}`,
  coreDataVolume: (emqx: EMQX) => `${name(emqx)}-core-data`,
  serviceAccount: (emqx: EMQX) => `${name(emqx)}-discovery`,
  role: (emqx: EMQX) => `${name(emqx)}-discovery`,
  roleBinding: (emqx: EMQX) => `${name(emqx)}-discovery`,
  /** The cert-manager Certificate made from spec.tls.<which>.issuerRef, and the Secret cert-manager writes. */
  tlsCertificate: (emqx: EMQX, which: 'listeners' | 'dashboard') => `${name(emqx)}-${which}-tls`,
};

// Name lengths. The EMQX name prefixes every child's name, and some children's names end up where limits are tighter
// than their own: in a pod label (StatefulSets) or in the names of generated pods (ReplicaSets).

/** Longest revision hash in a child's name: hashObject prints a 32-bit hash in decimal, at most 10 digits. */
export const MAX_REVISION_HASH_LENGTH = 10;
/**
 * Longest StatefulSet name: the StatefulSet controller labels every pod `controller-revision-hash: <name>-<hash>`,
 * its own hash has at most 10 characters, and a label value at most 63.
 */
export const MAX_STATEFULSET_NAME = 63 - 1 - 10;
/**
 * Longest ReplicaSet name whose pods keep it whole in their names: the pods get `generateName: <name>-`, of which
 * the API server keeps at most 58 characters before it appends 5 random ones (so that the pod name, which is also
 * the pod's hostname, fits a 63-character DNS label). A longer name is cut, and the pod names lose the hash.
 */
export const MAX_REPLICASET_NAME = 58 - 1;
/**
 * Longest EMQX name, so that every name the operator derives from it is valid with the longest revision hash:
 * - a blue-green core StatefulSet `<name>-core-<hash>` within MAX_STATEFULSET_NAME: 52 - 6 - 10 = 36;
 * - a replicant ReplicaSet `<name>-replicant-<hash>` within MAX_REPLICASET_NAME: 57 - 11 - 10 = 36;
 * - the in-place core StatefulSet `<name>-core` (47), the Services `<name>-dashboard`, `<name>-listeners` and
 *   `<name>-headless` (DNS-1035 labels of at most 63: 53) and the claim template `<name>-core-data` (a DNS label:
 *   53) would allow longer names.
 */
export const MAX_EMQX_NAME = Math.min(
  MAX_STATEFULSET_NAME - '-core-'.length - MAX_REVISION_HASH_LENGTH,
  MAX_REPLICASET_NAME - '-replicant-'.length - MAX_REVISION_HASH_LENGTH,
  MAX_STATEFULSET_NAME - '-core'.length,
  63 - '-dashboard'.length,
  63 - '-listeners'.length,
  63 - '-headless'.length,
  63 - '-core-data'.length,
);

/** Labels every child object carries. */
export function instanceLabels(emqx: EMQX): Record<string, string> {
  return { [LABEL_INSTANCE]: name(emqx), [LABEL_MANAGED_BY]: MANAGED_BY };
}

/** Labels that select the pods of one role (no revision hash: Services and PDBs span revisions). */
export function roleLabels(emqx: EMQX, role: Role): Record<string, string> {
  return { ...instanceLabels(emqx), [LABEL_DB_ROLE]: role };
}

/** The user-visible EMQX node name of a core pod. */
export function coreNodeName(emqx: EMQX, podName: string, clusterDomain: string): string {
  return `emqx@${podName}.${names.headlessService(emqx)}.${emqx.metadata.namespace ?? 'default'}.svc.${clusterDomain}`;
}

/** The user-visible EMQX node name of a replicant pod. */
export function replicantNodeName(podIP: string): string {
  return podIP.includes(':') ? `emqx@[${podIP}]` : `emqx@${podIP}`;
}
