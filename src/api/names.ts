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
export const FIELD_MANAGER = 'emqx-operator';
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
};

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
