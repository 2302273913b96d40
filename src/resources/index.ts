// Every object the operator creates for one EMQX, in a stable order: the one list, which the controller's plan
// applies (src/controller/plan.ts) and `render` prints. Pure: secrets and (optionally) the listener ports,
// revision hashes and what only a running operator knows come from the caller.
import type {
  V1ConfigMap,
  V1PodDisruptionBudget,
  V1ReplicaSet,
  V1Secret,
  V1Service,
  V1ServicePort,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { ANNOTATION_APPLIED_CONFIG, type Role } from '../api/names.ts';
import type { EMQX } from '../api/types.ts';
import { deletePath, type HoconObject } from '../hocon/index.ts';
import { configuredListenerPorts } from '../emqx/config.ts';
import { tlsCertificates, type Certificate, type LoadBalancerAddresses } from './certificate.ts';
import { configMap } from './configmap.ts';
import { podDisruptionBudget } from './pdb.ts';
import { podTemplate, hashPodTemplate } from './pod-template.ts';
import { discoveryRbac } from './rbac.ts';
import type { DiscoveryRbacObject } from './rbac.ts';
import { replicantReplicaSet } from './replicaset.ts';
import { bootstrapApiKeySecret, licenseSecret, nodeCookieSecret } from './secrets.ts';
import type { ApiKey } from './secrets.ts';
import { dashboardService, headlessService, listenersService } from './services.ts';
import { coreStatefulSet } from './statefulset.ts';

export type BuiltObject =
  | DiscoveryRbacObject
  | V1Secret
  | V1ConfigMap
  | V1Service
  | V1StatefulSet
  | V1ReplicaSet
  | V1PodDisruptionBudget
  | Certificate;

export interface BuildInputs {
  /** The node cookie to use when the config sets none (generated once by the controller, then read back). */
  cookie: string;
  /** The operator's own API key (`emqx-operator-controller` and its generated secret). */
  operatorKey: ApiKey;
  /** User API keys, secretRef ones already resolved (resolveBootstrapApiKeys). */
  userKeys: ApiKey[];
  /** Listener ports for the listeners Service; default configuredListenerPorts(conf). */
  listenerPorts?: V1ServicePort[];
  /** Which pods the listeners Service selects; default `replicant` when replicants are wanted, else `core`. */
  listenersTargetRole?: Role;
  /** Revision hashes; default hashPodTemplate of the current template with the status's collisionCount. */
  coreHash?: string;
  replicantHash?: string;
  // What only a running operator knows (render leaves these out):
  /** The cluster already runs with `cookie`: it wins over a node.cookie in the config (a new one would split it). */
  keepCookie?: boolean;
  /** Replicas of the core StatefulSet while a scale-down holds it; default the spec's. */
  coreReplicas?: number;
  /** False leaves the replicant ReplicaSet out (its cores are not running yet); default true. */
  replicantSet?: boolean;
  /** False leaves the listeners Service out (its ports are unknown: the live one is kept); default true. */
  listenersService?: boolean;
  /** Hash of the runtime config EMQX accepted, recorded on the ConfigMap (apps.emqx.io/applied-config-hash). */
  appliedConfigHash?: string;
  /** The listeners Service's LoadBalancer address, for the cert-manager Certificate of spec.tls.listeners. */
  listenersLoadBalancer?: LoadBalancerAddresses;
}

/** The revision hash of a role's current pod template (with that role's collisionCount from the status). */
export function currentHash(emqx: EMQX, conf: HoconObject, role: Role): string {
  const collisions =
    role === 'core'
      ? emqx.status?.coreNodesStatus?.collisionCount
      : emqx.status?.replicantNodesStatus?.collisionCount;
  return hashPodTemplate(podTemplate(emqx, conf, role), collisions);
}

/**
 * Everything, in this order: cert-manager Certificates (spec.tls issuerRef), discovery RBAC (ServiceAccount, Role, RoleBinding; k8s discovery only), Secrets
 * (node cookie, bootstrap API keys, licence when configured), ConfigMap, headless Service, core StatefulSet,
 * replicant ReplicaSet (when there is a replicantTemplate), PDBs (core, replicant), dashboard Service and listeners
 * Service (unless disabled). Takes an EMQX that went through applyDefaults.
 */
export function buildAll(emqx: EMQX, conf: HoconObject, inputs: BuildInputs): BuiltObject[] {
  const out: BuiltObject[] = [];
  out.push(...tlsCertificates(emqx, inputs.listenersLoadBalancer));
  out.push(...discoveryRbac(emqx, conf));
  out.push(
    nodeCookieSecret(emqx, inputs.keepCookie ? deletePath(conf, 'node.cookie') : conf, {
      cookie: inputs.cookie,
    }),
  );
  out.push(bootstrapApiKeySecret(emqx, { operatorKey: inputs.operatorKey, userKeys: inputs.userKeys }));
  const license = licenseSecret(emqx, conf);
  if (license) out.push(license);
  const cm = configMap(emqx, conf);
  if (inputs.appliedConfigHash !== undefined) {
    cm.metadata = {
      ...cm.metadata,
      annotations: { ...cm.metadata?.annotations, [ANNOTATION_APPLIED_CONFIG]: inputs.appliedConfigHash },
    };
  }
  out.push(cm);
  out.push(headlessService(emqx));
  const sts = coreStatefulSet(emqx, conf, { hash: inputs.coreHash ?? currentHash(emqx, conf, 'core') });
  if (inputs.coreReplicas !== undefined) sts.spec!.replicas = inputs.coreReplicas;
  out.push(sts);
  if (emqx.spec.replicantTemplate && inputs.replicantSet !== false) {
    const rs = replicantReplicaSet(emqx, conf, {
      hash: inputs.replicantHash ?? currentHash(emqx, conf, 'replicant'),
    });
    if (rs) out.push(rs);
  }
  for (const role of ['core', 'replicant'] as const) {
    const pdb = podDisruptionBudget(emqx, role);
    if (pdb) out.push(pdb);
  }
  const dashboard = dashboardService(emqx, conf);
  if (dashboard) out.push(dashboard);
  const listeners = listenersService(emqx, conf, {
    ports: inputs.listenerPorts ?? configuredListenerPorts(conf),
    targetRole:
      inputs.listenersTargetRole ??
      ((emqx.spec.replicantTemplate?.spec?.replicas ?? 0) > 0 ? 'replicant' : 'core'),
  });
  if (listeners && inputs.listenersService !== false) out.push(listeners);
  return out;
}

export * from './certificate.ts';
export * from './configmap.ts';
export * from './hash.ts';
export * from './limits.ts';
export * from './metadata.ts';
export * from './pdb.ts';
export * from './pod-template.ts';
export * from './rbac.ts';
export * from './replicaset.ts';
export * from './secrets.ts';
export * from './services.ts';
export * from './statefulset.ts';
export * from './tls.ts';
