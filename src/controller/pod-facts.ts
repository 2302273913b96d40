// Pure facts about pods and EMQX nodes: pod readiness, revisions, and matching the EMQX API's node list to
// pods. No I/O here, so every rule is unit-tested.
import { compareText } from './order.ts';
import type { V1Pod, V1PodCondition } from '@kubernetes/client-node';
import {
  ANNOTATION_DRAINING,
  CONDITION_ON_SERVING,
  LABEL_DB_ROLE,
  LABEL_POD_TEMPLATE_HASH,
  type Role,
} from '../api/names.ts';
import type { EMQXNode } from '../api/types.ts';

/** The fields of `GET /api/v5/nodes` the operator reads. */
export interface ApiNode {
  node: string;
  node_status: string;
  role?: string;
  version?: string;
  edition?: string;
  otp_release?: string;
  uptime?: number;
  connections?: number;
  live_connections?: number;
}

export function podCondition(pod: V1Pod, type: string): V1PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

export function isTerminating(pod: V1Pod): boolean {
  return Boolean(pod.metadata?.deletionTimestamp);
}

/** Every container passes its readiness probe (what the operator needs before it talks to the node). */
export function containersReady(pod: V1Pod): boolean {
  return (
    !isTerminating(pod) &&
    pod.status?.phase === 'Running' &&
    podCondition(pod, 'ContainersReady')?.status === 'True'
  );
}

/** The pod is Ready, readiness gates included, i.e. it receives Service traffic. */
export function podReady(pod: V1Pod): boolean {
  return !isTerminating(pod) && podCondition(pod, 'Ready')?.status === 'True';
}

export function onServing(pod: V1Pod): boolean {
  return podCondition(pod, CONDITION_ON_SERVING)?.status === 'True';
}

/**
 * The pod passes its readiness probe but its `on-serving` readiness gate is not set yet: the one pass that may set
 * it (plan's `wantServing`, which still asks EMQX whether the node runs in the cluster) is urgent, since the pod
 * takes no traffic until then. The manager queues such a pass with priority; a draining pod never qualifies.
 */
export function awaitsServingGate(pod: V1Pod): boolean {
  return (
    podRole(pod) !== undefined &&
    !pod.metadata?.annotations?.[ANNOTATION_DRAINING] &&
    containersReady(pod) &&
    !onServing(pod)
  );
}

export function podRole(pod: V1Pod): Role | undefined {
  const r = pod.metadata?.labels?.[LABEL_DB_ROLE];
  return r === 'core' || r === 'replicant' ? r : undefined;
}

/** The revision a pod runs: its `apps.emqx.io/pod-template-hash` label (hashPodTemplate of its template). */
export function podRevision(pod: V1Pod): string | undefined {
  return pod.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH];
}

export function podCreated(pod: V1Pod): number {
  const t = pod.metadata?.creationTimestamp;
  return t ? new Date(t as unknown as string).getTime() : 0;
}

/** Oldest first, then by name: the order in which pods are tried as EMQX API targets. */
export function byAge(a: V1Pod, b: V1Pod): number {
  return podCreated(a) - podCreated(b) || compareText(a.metadata?.name ?? '', b.metadata?.name ?? '');
}

/** The host part of an EMQX node name: `emqx@host` → `host`. */
export function nodeHost(node: string): string {
  const at = node.indexOf('@');
  const host = at >= 0 ? node.slice(at + 1) : node;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Finds the pod an EMQX node runs in. Core nodes are named after the pod's stable DNS name (host starts with
 * `<pod>.`); replicant nodes after the pod IP.
 */
export function podForNode(node: ApiNode, pods: readonly V1Pod[]): V1Pod | undefined {
  const host = nodeHost(node.node);
  const role = node.role;
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '';
    if (
      role !== 'replicant' &&
      podRole(pod) !== 'replicant' &&
      (host === name || host.startsWith(`${name}.`))
    )
      return pod;
    if (
      role !== 'core' &&
      pod.status?.podIP &&
      (pod.status.podIPs?.some((ip) => ip.ip === host) || pod.status.podIP === host)
    )
      return pod;
  }
  return undefined;
}

/** Converts the API's node list into status entries, matched to pods, sorted by name. */
export function statusNodes(nodes: ApiNode[], pods: V1Pod[], role: Role): EMQXNode[] {
  return nodes
    .filter((n) => (n.role ?? 'core') === role)
    .map((n) => {
      const pod = podForNode(n, pods);
      const entry: EMQXNode = {
        name: n.node,
        node: n.node,
        node_status: n.node_status,
        role,
        ...(n.otp_release !== undefined && { otp_release: n.otp_release }),
        ...(n.version !== undefined && { version: n.version }),
        ...(n.edition !== undefined && { edition: n.edition }),
        ...(pod?.metadata?.name !== undefined && { podName: pod.metadata.name }),
        ...(pod?.metadata?.uid !== undefined && { podUID: pod.metadata.uid }),
        ...(pod?.metadata?.ownerReferences?.[0]?.uid !== undefined && {
          controllerUID: pod.metadata.ownerReferences[0].uid,
        }),
        ...(n.connections !== undefined && { connections: n.connections }),
        ...(n.live_connections !== undefined && { live_connections: n.live_connections }),
        ...(n.uptime !== undefined && { uptime: n.uptime }),
      };
      return entry;
    })
    .sort((a, b) => compareText(a.name, b.name));
}

/** Pods whose EMQX node the cluster reports as running. */
export function runningPods(nodes: ApiNode[], pods: V1Pod[]): Set<string> {
  const names = new Set<string>();
  for (const n of nodes) {
    if (n.node_status !== 'running') continue;
    const pod = podForNode(n, pods);
    if (pod?.metadata?.name) names.add(pod.metadata.name);
  }
  return names;
}

/** Compares dotted versions numerically ("5.10.0" > "5.9.1"); non-numeric parts compare as strings. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = Number(x);
    const ny = Number(y);
    const d = Number.isNaN(nx) || Number.isNaN(ny) ? compareText(x, y) : nx - ny;
    if (d !== 0) return d;
  }
  return 0;
}
