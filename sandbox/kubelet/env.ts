// Resolves a container's environment the way a kubelet does: `envFrom` first (in order, with prefix), then `env`
// (in order, later entries win), `$(VAR)` expansion against what is defined so far, `valueFrom` of fields, resource
// limits, Secret keys and ConfigMap keys. A missing non-optional Secret/ConfigMap/key is an error: the kubelet
// then reports the container as waiting with reason CreateContainerConfigError and retries later.
import type { V1ConfigMap, V1Container, V1Pod, V1Secret } from '@kubernetes/client-node';
import { parseQuantity } from '../../src/k8s/needs-apply.ts';

export interface EnvSources {
  secret(namespace: string, name: string): V1Secret | undefined;
  configMap(namespace: string, name: string): V1ConfigMap | undefined;
}

export interface NodeResources {
  cpu: string;
  memory: string;
  'ephemeral-storage': string;
}

export const DEFAULT_NODE_RESOURCES: NodeResources = {
  cpu: '8',
  memory: '32Gi',
  'ephemeral-storage': '100Gi',
};

export type EnvResult =
  | { ok: true; env: Record<string, string> }
  | { ok: false; reason: 'CreateContainerConfigError'; message: string };

/**
 * Expands `$(NAME)` references with `lookup`; `$$` is an escaped `$`. References that `lookup` cannot resolve, and
 * a `$(` without its `)`, stay as they are (Kubernetes semantics).
 */
export function expand(value: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c !== '$' || i + 1 >= value.length) {
      out += c;
      continue;
    }
    const next = value[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      const close = value.indexOf(')', i + 2);
      if (close === -1) {
        out += value.slice(i);
        break;
      }
      const name = value.slice(i + 2, close);
      const resolved = lookup(name);
      out += resolved ?? `$(${name})`;
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

/** The value of a downward-API field path for env vars, or undefined if the path is not supported. */
export function fieldValue(pod: V1Pod, fieldPath: string): string | undefined {
  const meta = pod.metadata ?? {};
  const sub = /^metadata\.(labels|annotations)\[['"](.+)['"]\]$/.exec(fieldPath);
  if (sub) {
    const map = sub[1] === 'labels' ? meta.labels : meta.annotations;
    return map?.[sub[2]] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
      return pod.status?.podIP ?? '';
    case 'status.podIPs':
      return (pod.status?.podIPs ?? []).map((p) => p.ip).join(',');
    case 'status.hostIP':
      return pod.status?.hostIP ?? '';
    case 'status.hostIPs':
      return (pod.status?.hostIPs ?? []).map((p) => p.ip).join(',');
    default:
      return undefined;
  }
}

/** Kubernetes quantities ("500m", "1Gi", "2e3") are parsed by the operator's own helper. */
export { parseQuantity };

function resourceValue(
  pod: V1Pod,
  container: V1Container,
  ref: { containerName?: string; resource: string; divisor?: string | number },
  node: NodeResources,
): string | undefined {
  const target = ref.containerName
    ? [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find(
        (c) => c.name === ref.containerName,
      )
    : container;
  if (!target) return undefined;
  const [kind, resource] = ref.resource.split('.', 2) as ['limits' | 'requests', keyof NodeResources];
  if ((kind !== 'limits' && kind !== 'requests') || !(resource in node)) return undefined;
  const set = target.resources?.[kind]?.[resource];
  // Unset limits read as the node's allocatable; unset requests as 0 (cpu requests default to the limit).
  const fallback = kind === 'limits' ? node[resource] : (target.resources?.limits?.[resource] ?? '0');
  const value = parseQuantity(set ?? fallback) ?? 0;
  const divisor = parseQuantity(ref.divisor ?? 1) || 1;
  return String(Math.ceil(value / divisor));
}

function decode(secret: V1Secret, key: string): string | undefined {
  const b64 = secret.data?.[key];
  if (b64 !== undefined) return Buffer.from(b64, 'base64').toString('utf8');
  return secret.stringData?.[key];
}

/** Resolves the full environment of `container` in `pod`. */
export function resolveEnv(
  pod: V1Pod,
  container: V1Container,
  sources: EnvSources,
  node: NodeResources = DEFAULT_NODE_RESOURCES,
): EnvResult {
  const ns = pod.metadata?.namespace ?? 'default';
  const env: Record<string, string> = {};
  const fail = (message: string): EnvResult => ({ ok: false, reason: 'CreateContainerConfigError', message });

  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    let entries: Array<[string, string]> = [];
    if (from.configMapRef) {
      const cm = sources.configMap(ns, from.configMapRef.name ?? '');
      if (!cm) {
        if (from.configMapRef.optional) continue;
        return fail(`configmap "${from.configMapRef.name}" not found`);
      }
      entries = Object.entries(cm.data ?? {});
    } else if (from.secretRef) {
      const secret = sources.secret(ns, from.secretRef.name ?? '');
      if (!secret) {
        if (from.secretRef.optional) continue;
        return fail(`secret "${from.secretRef.name}" not found`);
      }
      const keys = new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})]);
      entries = [...keys].map((k) => [k, decode(secret, k) ?? '']);
    }
    for (const [k, v] of entries) {
      const name = prefix + k;
      if (name === '' || name.includes('=')) continue; // the kubelet skips names it cannot set
      env[name] = v;
    }
  }

  for (const e of container.env ?? []) {
    if (!e.valueFrom) {
      env[e.name] = expand(e.value ?? '', (n) => env[n]);
      continue;
    }
    const vf = e.valueFrom;
    if (vf.fieldRef) {
      const v = fieldValue(pod, vf.fieldRef.fieldPath);
      if (v === undefined) return fail(`env ${e.name}: unsupported fieldRef ${vf.fieldRef.fieldPath}`);
      env[e.name] = v;
    } else if (vf.resourceFieldRef) {
      const v = resourceValue(pod, container, vf.resourceFieldRef, node);
      if (v === undefined)
        return fail(`env ${e.name}: unsupported resourceFieldRef ${vf.resourceFieldRef.resource}`);
      env[e.name] = v;
    } else if (vf.secretKeyRef) {
      const ref = vf.secretKeyRef;
      const secret = sources.secret(ns, ref.name ?? '');
      if (!secret) {
        if (ref.optional) continue;
        return fail(`secret "${ref.name}" not found`);
      }
      const v = decode(secret, ref.key);
      if (v === undefined) {
        if (ref.optional) continue;
        return fail(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name}`);
      }
      env[e.name] = v;
    } else if (vf.configMapKeyRef) {
      const ref = vf.configMapKeyRef;
      const cm = sources.configMap(ns, ref.name ?? '');
      if (!cm) {
        if (ref.optional) continue;
        return fail(`configmap "${ref.name}" not found`);
      }
      const v = cm.data?.[ref.key];
      if (v === undefined) {
        if (ref.optional) continue;
        return fail(`couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}`);
      }
      env[e.name] = v;
    } else {
      return fail(`env ${e.name}: unsupported valueFrom`);
    }
  }
  // The container runtime (containerd) sets HOSTNAME to the pod's hostname unless the spec sets it.
  env.HOSTNAME ??= (pod.spec?.hostname ?? pod.metadata?.name ?? '').slice(0, 63);
  return { ok: true, env };
}

/** The namespaces/names of Secrets and ConfigMaps a pod's env refers to (to retry when one of them appears). */
export function envReferences(pod: V1Pod): { secrets: Set<string>; configMaps: Set<string> } {
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const f of c.envFrom ?? []) {
      if (f.secretRef?.name) secrets.add(f.secretRef.name);
      if (f.configMapRef?.name) configMaps.add(f.configMapRef.name);
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name);
      if (e.valueFrom?.configMapKeyRef?.name) configMaps.add(e.valueFrom.configMapKeyRef.name);
    }
  }
  return { secrets, configMaps };
}
