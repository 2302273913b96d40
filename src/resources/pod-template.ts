// The pod template of core and replicant nodes, and its revision hash.
//
// Env: the operator's variables come first, in a fixed order, then the user's. A user variable with the same name
// as an operator one REPLACES it in place (so `$(VAR)` references of later variables still resolve), and the
// user's other variables follow in their own order; a name the user repeats keeps its last value. Names are unique
// in the result, which server-side apply requires (env is a map keyed by name).
//
// Container ports: the user's, then `dashboard` (and `dashboard-https`) unless a user port has that name or
// containerPort. Volume mounts: the operator's, except those whose mountPath a user mount takes over; volumes the
// operator no longer mounts are dropped. A user volume named like one of the operator's is an error.
import type {
  V1Container,
  V1ContainerPort,
  V1EnvVar,
  V1PodSpec,
  V1PodTemplateSpec,
  V1Probe,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { CONDITION_ON_SERVING, LABEL_POD_TEMPLATE_HASH, names, roleLabels } from '../api/names.ts';
import type { Role } from '../api/names.ts';
import type { CoreTemplateSpec, EMQX, EMQXReplicaTemplateSpec, TemplateMetadata } from '../api/types.ts';
import type { HoconObject } from '../hocon/index.ts';
import {
  dashboardPorts,
  discoveryStrategy,
  k8sApiServer,
  licenseKey,
  restartRequiredConfig,
} from '../emqx/config.ts';
import { hashObject } from './hash.ts';
import { ANNOTATION_RESTART_CONFIG_HASH, clusterDomainOf, mergeLabels, namespaceOf } from './metadata.ts';
import { BOOTSTRAP_API_KEY_KEY, LICENSE_KEY_KEY, NODE_COOKIE_KEY, licenseSecretName } from './secrets.ts';
import { CONFIG_FILE_KEY } from './configmap.ts';
import { tlsVolumes } from './tls.ts';

export const CONTAINER_NAME = 'emqx';
export const DATA_DIR = '/opt/emqx/data';
export const LOG_DIR = '/opt/emqx/log';
export const CONFIG_FILE_PATH = '/opt/emqx/etc/emqx.conf';
export const BOOTSTRAP_FILE_PATH = '/opt/emqx/data/bootstrap_api_key';
export const DEFAULT_K8S_APISERVER = 'https://kubernetes.default.svc:443';

/** Volume names the operator uses in the pod (the core data volume is names.coreDataVolume). */
export const VOLUME_BOOTSTRAP_API_KEY = 'bootstrap-api-key';
export const VOLUME_CONFIG = 'emqx-config';
export const VOLUME_LOG = 'emqx-log';
export const VOLUME_REPLICANT_DATA = 'emqx-data';

function templateOf(
  emqx: EMQX,
  role: Role,
): { metadata: TemplateMetadata; spec: EMQXReplicaTemplateSpec & CoreTemplateSpec; path: string } {
  const t = role === 'core' ? emqx.spec.coreTemplate : emqx.spec.replicantTemplate;
  if (role === 'replicant' && !t)
    throw new Error('spec.replicantTemplate: not set, the cluster has no replicants');
  return {
    metadata: t?.metadata ?? {},
    spec: (t?.spec ?? {}) as CoreTemplateSpec,
    path: `spec.${role}Template.spec`,
  };
}

/** `<name>-headless.<ns>.svc.<clusterDomain>`: the DNS name peers resolve (SRV) to find the cores. */
export function headlessDnsName(emqx: EMQX): string {
  return `${names.headlessService(emqx)}.${namespaceOf(emqx)}.svc.${clusterDomainOf(emqx)}`;
}

/** The name of the data volume mounted at /opt/emqx/data. */
export function dataVolumeName(emqx: EMQX, role: Role): string {
  return role === 'core' ? names.coreDataVolume(emqx) : VOLUME_REPLICANT_DATA;
}

/** True when core data lives on a PVC (the default) rather than an emptyDir. */
export function coreUsesPvc(emqx: EMQX): boolean {
  return (emqx.spec.coreTemplate?.spec?.dataVolume ?? 'PersistentVolumeClaim') === 'PersistentVolumeClaim';
}

/** The operator's env for a role, before the user's. */
export function operatorEnv(emqx: EMQX, conf: HoconObject, role: Role): V1EnvVar[] {
  const env: V1EnvVar[] = [];
  const dnsName = headlessDnsName(emqx);
  if (role === 'core')
    env.push({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
  if (discoveryStrategy(conf) === 'k8s') {
    env.push(
      { name: 'EMQX_CLUSTER__DISCOVERY_STRATEGY', value: 'k8s' },
      // Quoted: the value is read as HOCON, and an unquoted `//` would start a comment.
      {
        name: 'EMQX_CLUSTER__K8S__APISERVER',
        value: JSON.stringify(k8sApiServer(conf) ?? DEFAULT_K8S_APISERVER),
      },
      { name: 'EMQX_CLUSTER__K8S__SERVICE_NAME', value: names.headlessService(emqx) },
      { name: 'EMQX_CLUSTER__K8S__ADDRESS_TYPE', value: 'hostname' },
      { name: 'EMQX_CLUSTER__K8S__NAMESPACE', value: namespaceOf(emqx) },
      { name: 'EMQX_CLUSTER__K8S__SUFFIX', value: `svc.${clusterDomainOf(emqx)}` },
    );
    if (role === 'core') env.push({ name: 'EMQX_HOST', value: `$(POD_NAME).${dnsName}` });
  } else {
    env.push(
      { name: 'EMQX_CLUSTER__DISCOVERY_STRATEGY', value: 'dns' },
      { name: 'EMQX_CLUSTER__DNS__RECORD_TYPE', value: 'srv' },
      { name: 'EMQX_CLUSTER__DNS__NAME', value: dnsName },
    );
    if (role === 'core') env.push({ name: 'EMQX_HOST', value: '$(POD_NAME).$(EMQX_CLUSTER__DNS__NAME)' });
  }
  if (role === 'replicant')
    env.push({ name: 'EMQX_HOST', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
  env.push(
    { name: 'EMQX_NODE__DATA_DIR', value: 'data' },
    { name: 'EMQX_NODE__ROLE', value: role },
    {
      name: 'EMQX_NODE__COOKIE',
      valueFrom: { secretKeyRef: { name: names.nodeCookieSecret(emqx), key: NODE_COOKIE_KEY } },
    },
    { name: 'EMQX_API_KEY__BOOTSTRAP_FILE', value: JSON.stringify(BOOTSTRAP_FILE_PATH) },
  );
  const dp = dashboardPorts(conf);
  if (dp.http !== undefined)
    env.push({ name: 'EMQX_DASHBOARD__LISTENERS__HTTP__BIND', value: String(dp.http) });
  if (dp.https !== undefined)
    env.push({ name: 'EMQX_DASHBOARD__LISTENERS__HTTPS__BIND', value: String(dp.https) });
  if (licenseKey(conf) !== undefined) {
    env.push({
      name: 'EMQX_LICENSE__KEY',
      valueFrom: { secretKeyRef: { name: licenseSecretName(emqx), key: LICENSE_KEY_KEY } },
    });
  }
  return env;
}

/** Operator env with the user's merged in (see the header comment for the rules). */
export function mergeEnv(operator: V1EnvVar[], user: V1EnvVar[] | undefined): V1EnvVar[] {
  const userByName = new Map<string, V1EnvVar>();
  for (const e of user ?? []) userByName.set(e.name, e);
  const out = operator.map((e) => structuredClone(userByName.get(e.name) ?? e));
  const seen = new Set(operator.map((e) => e.name));
  for (const e of user ?? []) {
    if (seen.has(e.name)) continue;
    seen.add(e.name);
    out.push(structuredClone(userByName.get(e.name)!));
  }
  return out;
}

function containerPorts(conf: HoconObject, user: V1ContainerPort[] | undefined): V1ContainerPort[] {
  const dp = dashboardPorts(conf);
  const ours: V1ContainerPort[] = [];
  if (dp.http !== undefined) ours.push({ name: 'dashboard', containerPort: dp.http, protocol: 'TCP' });
  if (dp.https !== undefined) {
    ours.push({
      name: dp.http !== undefined ? 'dashboard-https' : 'dashboard',
      containerPort: dp.https,
      protocol: 'TCP',
    });
  }
  const mine = user ?? [];
  const kept = ours.filter(
    (o) =>
      !mine.some(
        (u) =>
          (u.name !== undefined && u.name === o.name) ||
          (u.containerPort === o.containerPort && (u.protocol ?? 'TCP') === 'TCP'),
      ),
  );
  return [...mine.map((p) => ({ ...p })), ...kept];
}

/** When the dashboard serves only HTTPS, probes on the `dashboard` port without a scheme must speak HTTPS. */
function adjustProbe(probe: V1Probe | undefined, httpsOnly: boolean): V1Probe | undefined {
  if (!probe) return undefined;
  const p = structuredClone(probe);
  if (httpsOnly && p.httpGet && p.httpGet.port === 'dashboard' && p.httpGet.scheme === undefined) {
    p.httpGet.scheme = 'HTTPS';
  }
  return p;
}

function operatorVolumes(emqx: EMQX, role: Role): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const dataName = dataVolumeName(emqx, role);
  const volumes: V1Volume[] = [
    { name: VOLUME_BOOTSTRAP_API_KEY, secret: { secretName: names.bootstrapApiKeySecret(emqx) } },
    { name: VOLUME_CONFIG, configMap: { name: names.configMap(emqx) } },
    { name: VOLUME_LOG, emptyDir: {} },
  ];
  // Core data on a PVC comes from the StatefulSet's volumeClaimTemplates, not from a pod volume.
  if (role === 'replicant' || !coreUsesPvc(emqx)) volumes.push({ name: dataName, emptyDir: {} });
  const mounts: V1VolumeMount[] = [
    // The data mount comes before the bootstrap file mounted inside it.
    { name: dataName, mountPath: DATA_DIR },
    { name: VOLUME_LOG, mountPath: LOG_DIR },
    { name: VOLUME_CONFIG, mountPath: CONFIG_FILE_PATH, subPath: CONFIG_FILE_KEY, readOnly: true },
    {
      name: VOLUME_BOOTSTRAP_API_KEY,
      mountPath: BOOTSTRAP_FILE_PATH,
      subPath: BOOTSTRAP_API_KEY_KEY,
      readOnly: true,
    },
  ];
  const tls = tlsVolumes(emqx);
  volumes.push(...tls.volumes);
  mounts.push(...tls.mounts);
  return { volumes, mounts };
}

/** Drops undefined members so that the object prints and hashes the same however it was assembled. */
function compact<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out as T;
}

/**
 * The pod template of one role, without the `pod-template-hash` label (the StatefulSet and ReplicaSet builders
 * add it; hashPodTemplate ignores it). Takes an EMQX that went through applyDefaults. Throws when a user volume
 * takes one of the operator's volume names, or for `replicant` when there is no replicantTemplate.
 */
export function podTemplate(emqx: EMQX, conf: HoconObject, role: Role): V1PodTemplateSpec {
  const { metadata, spec: t, path } = templateOf(emqx, role);
  const dp = dashboardPorts(conf);
  const httpsOnly = dp.http === undefined && dp.https !== undefined;

  const ours = operatorVolumes(emqx, role);
  const userMounts = t.extraVolumeMounts ?? [];
  const mounts = [
    ...ours.mounts.filter((m) => !userMounts.some((u) => u.mountPath === m.mountPath)),
    ...userMounts.map((m) => ({ ...m })),
  ];
  const mounted = new Set(mounts.map((m) => m.name));
  const volumes = ours.volumes.filter((v) => mounted.has(v.name));
  const reserved = new Set([...ours.volumes.map((v) => v.name), dataVolumeName(emqx, role)]);
  (t.extraVolumes ?? []).forEach((v, i) => {
    if (reserved.has(v.name)) {
      throw new Error(
        `${path}.extraVolumes[${i}].name: "${v.name}" is the name of a volume the operator mounts`,
      );
    }
    volumes.push(structuredClone(v));
  });

  const container: V1Container = compact({
    name: CONTAINER_NAME,
    image: emqx.spec.image,
    imagePullPolicy: emqx.spec.imagePullPolicy,
    command: t.command ? [...t.command] : undefined,
    args: t.args ? [...t.args] : undefined,
    ports: containerPorts(conf, t.ports),
    env: mergeEnv(operatorEnv(emqx, conf, role), t.env),
    envFrom: t.envFrom ? structuredClone(t.envFrom) : undefined,
    resources: t.resources ? structuredClone(t.resources) : undefined,
    securityContext: t.containerSecurityContext ? structuredClone(t.containerSecurityContext) : undefined,
    livenessProbe: adjustProbe(t.livenessProbe, httpsOnly),
    readinessProbe: adjustProbe(t.readinessProbe, httpsOnly),
    startupProbe: adjustProbe(t.startupProbe, httpsOnly),
    lifecycle: t.lifecycle ? structuredClone(t.lifecycle) : undefined,
    volumeMounts: mounts,
  });

  const serviceAccountName =
    emqx.spec.serviceAccountName ??
    (discoveryStrategy(conf) === 'k8s' ? names.serviceAccount(emqx) : undefined);

  const podSpec: V1PodSpec = compact({
    readinessGates: [{ conditionType: CONDITION_ON_SERVING }],
    serviceAccountName,
    imagePullSecrets: emqx.spec.imagePullSecrets ? structuredClone(emqx.spec.imagePullSecrets) : undefined,
    securityContext: t.podSecurityContext ? structuredClone(t.podSecurityContext) : undefined,
    affinity: t.affinity ? structuredClone(t.affinity) : undefined,
    tolerations: t.tolerations ? structuredClone(t.tolerations) : undefined,
    topologySpreadConstraints: t.topologySpreadConstraints
      ? structuredClone(t.topologySpreadConstraints)
      : undefined,
    nodeSelector: t.nodeSelector ? { ...t.nodeSelector } : undefined,
    nodeName: t.nodeName,
    priorityClassName: t.priorityClassName,
    terminationGracePeriodSeconds: t.terminationGracePeriodSeconds,
    initContainers: t.initContainers ? structuredClone(t.initContainers) : undefined,
    containers: [container, ...structuredClone(t.extraContainers ?? [])],
    volumes,
  });

  return {
    metadata: {
      labels: mergeLabels(metadata.labels, roleLabels(emqx, role)),
      annotations: {
        ...metadata.annotations,
        [ANNOTATION_RESTART_CONFIG_HASH]: hashObject(restartRequiredConfig(conf)),
      },
    },
    spec: podSpec,
  };
}

/**
 * The revision hash of a pod template: FNV-1a 32 over its canonical JSON (sorted keys; the pod-template-hash
 * label itself ignored), with `collisionCount` mixed in when non-zero; `[a-z0-9]`, at most 10 characters.
 */
export function hashPodTemplate(template: V1PodTemplateSpec, collisionCount?: number): string {
  const copy = structuredClone(template);
  if (copy.metadata?.labels) delete copy.metadata.labels[LABEL_POD_TEMPLATE_HASH];
  return hashObject(copy, collisionCount);
}

/** The pod template with its hash label set (what the StatefulSet or ReplicaSet carries). */
export function podTemplateWithHash(template: V1PodTemplateSpec, hash: string): V1PodTemplateSpec {
  const copy = structuredClone(template);
  copy.metadata = { ...copy.metadata, labels: { ...copy.metadata?.labels, [LABEL_POD_TEMPLATE_HASH]: hash } };
  return copy;
}
