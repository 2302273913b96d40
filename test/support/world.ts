// Hand-built snapshots for the planner's unit tests: a few lines describe a cluster (sets, pods, what EMQX says),
// `world()` turns them into the Snapshot the controller's observe phase would have built. No cache, no API.
import type { V1Pod, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';
import {
  ANNOTATION_DRAINING,
  CONDITION_ON_SERVING,
  FIELD_MANAGER,
  LABEL_DB_ROLE,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_POD_TEMPLATE_HASH,
  MANAGED_BY,
  coreNodeName,
  names,
  replicantNodeName,
} from '../../src/api/names.ts';
import type { EMQXSpec, EMQXStatus, NodeEvacuationStatus } from '../../src/api/types.ts';
import type { OwnedKind } from '../../src/controller/cache.ts';
import { capabilitiesOf, podApiUrl } from '../../src/controller/emqx-access.ts';
import { statusNodes, type ApiNode } from '../../src/controller/pod-facts.ts';
import type { DsObservation, DsState } from '../../src/controller/durable-storage.ts';
import { ANNOTATION_GO_LAST_APPLIED } from '../../src/controller/foreign-workloads.ts';
import { foreignWorkloadsOf, roleView, type Snapshot } from '../../src/controller/snapshot.ts';
import type { KubeObject } from '../../src/k8s/rest.ts';
import { makeEmqx } from './emqx-fixture.ts';

export const NEW = 'new';
export const OLD = 'old';

export interface PodSpec {
  /** Pod name. */
  name: string;
  rev: string;
  /** EMQX reports the node running (default true). */
  running?: boolean;
  /** Containers ready (default true). */
  ready?: boolean;
  terminating?: boolean;
  /** Value of the draining annotation. */
  draining?: string;
  /** Connections (sessions and live) on the node. */
  clients?: number;
  /** The readiness gate is True (default: when running). */
  serving?: boolean;
  ip?: string;
  createdAt?: string;
  extraAnnotations?: Record<string, string>;
  /** The pod template's readiness gate (apps.emqx.io/on-serving) is in the pod's spec. */
  readinessGate?: boolean;
}

export interface SetSpec {
  name: string;
  rev: string;
  replicas: number;
  /** status.replicas (default: replicas). */
  statusReplicas?: number;
  createdAt?: string;
  whenScaled?: 'Retain' | 'Delete';
  whenDeleted?: 'Retain' | 'Delete';
  /**
   * Written by another operator (the Go one): its last-applied annotation and its field manager only (its PVC
   * retention policy is the one the API server defaults, Retain).
   */
  foreign?: boolean;
  /** Name of its volume claim template (StatefulSet). */
  claimTemplate?: string;
}

export interface WorldSpec {
  spec?: Partial<EMQXSpec>;
  cores?: PodSpec[];
  replicants?: PodSpec[];
  statefulSets?: SetSpec[];
  replicaSets?: SetSpec[];
  edition?: 'Enterprise' | 'Opensource';
  version?: string;
  /** False: the EMQX API did not answer (no node list). */
  api?: boolean;
  evacuations?: Array<Pick<NodeEvacuationStatus, 'node' | 'state'>>;
  previousStatus?: EMQXStatus;
  /** Revision hashes the roles should be on (default NEW). */
  coreHash?: string;
  replicantHash?: string;
  availability?: Record<string, boolean>;
  /** Durable storage (durable sessions on): see `dsWorld`. */
  ds?: DsState;
  /** PersistentVolumeClaims (names). */
  pvcs?: string[];
  /** The takeover annotation is set. */
  takeover?: boolean;
  goOperatorLeases?: Snapshot['goOperatorLeases'];
  /**
   * Core pod names (or whole node names, with `@`) EMQX lists as stopped members whose pods do not exist (crashed
   * or scaled away without leaving).
   */
  stoppedCores?: string[];
}

const T0 = '2026-01-01T00:00:00Z';

function podOf(role: 'core' | 'replicant', p: PodSpec, index: number): V1Pod {
  const ip = p.ip ?? `127.1.${role === 'core' ? 0 : 1}.${index + 2}`;
  const ready = p.ready ?? true;
  const serving = p.serving ?? p.running ?? true;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: 'ns1',
      uid: `uid-${p.name}`,
      creationTimestamp: (p.createdAt ?? T0) as unknown as Date,
      labels: {
        [LABEL_INSTANCE]: 'emqx',
        [LABEL_MANAGED_BY]: MANAGED_BY,
        [LABEL_DB_ROLE]: role,
        [LABEL_POD_TEMPLATE_HASH]: p.rev,
      },
      annotations: {
        ...(p.draining !== undefined && { [ANNOTATION_DRAINING]: p.draining }),
        ...p.extraAnnotations,
      },
      ...(p.terminating && { deletionTimestamp: T0 as unknown as Date }),
    },
    spec: {
      containers: [{ name: 'emqx', image: 'emqx', ports: [{ name: 'dashboard', containerPort: 18083 }] }],
      ...(p.readinessGate && { readinessGates: [{ conditionType: CONDITION_ON_SERVING }] }),
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [
        { type: 'ContainersReady', status: ready ? 'True' : 'False' },
        { type: 'Ready', status: ready && serving ? 'True' : 'False' },
        { type: CONDITION_ON_SERVING, status: serving ? 'True' : 'False' },
      ],
    },
  };
}

function setOf(kind: 'StatefulSet' | 'ReplicaSet', s: SetSpec): V1StatefulSet | V1ReplicaSet {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: {
      name: s.name,
      namespace: 'ns1',
      uid: `uid-${s.name}`,
      creationTimestamp: (s.createdAt ?? T0) as unknown as Date,
      labels: { [LABEL_INSTANCE]: 'emqx', [LABEL_MANAGED_BY]: MANAGED_BY },
      ...(s.foreign
        ? {
            annotations: { [ANNOTATION_GO_LAST_APPLIED]: '{}' },
            managedFields: [{ manager: 'manager', operation: 'Update', apiVersion: 'apps/v1' }],
          }
        : { managedFields: [{ manager: FIELD_MANAGER, operation: 'Apply', apiVersion: 'apps/v1' }] }),
    },
    spec: {
      replicas: s.replicas,
      selector: { matchLabels: { [LABEL_POD_TEMPLATE_HASH]: s.rev } },
      template: { metadata: { labels: { [LABEL_POD_TEMPLATE_HASH]: s.rev } } },
      ...(s.claimTemplate && { volumeClaimTemplates: [{ metadata: { name: s.claimTemplate } }] }),
      ...(kind === 'StatefulSet' && {
        persistentVolumeClaimRetentionPolicy: {
          whenScaled: s.whenScaled ?? 'Retain',
          whenDeleted: s.whenDeleted ?? 'Retain',
        },
      }),
      serviceName: 'emqx-headless',
    } as V1StatefulSet['spec'] & V1ReplicaSet['spec'],
    status: { replicas: s.statusReplicas ?? s.replicas },
  } as V1StatefulSet | V1ReplicaSet;
}

/** A Snapshot of the EMQX `emqx` in `ns1`, as observe would have built it from the described cluster. */
export function world(w: WorldSpec): Snapshot {
  const emqx = makeEmqx({
    coreTemplate: { spec: { replicas: (w.cores ?? []).filter((c) => !c.terminating).length || 1 } },
    ...w.spec,
  });
  const cores = (w.cores ?? []).map((p, i) => podOf('core', p, i));
  const replicants = (w.replicants ?? []).map((p, i) => podOf('replicant', p, i));
  const pods = [...cores, ...replicants];
  const statefulSets = (
    w.statefulSets ?? [{ name: 'emqx-core', rev: w.coreHash ?? NEW, replicas: cores.length }]
  ).map((s) => setOf('StatefulSet', s) as V1StatefulSet);
  const replicaSets = (w.replicaSets ?? []).map((s) => setOf('ReplicaSet', s) as V1ReplicaSet);
  const edition = w.edition ?? 'Enterprise';
  const version = w.version ?? '5.8.3';
  const specs = new Map([...(w.cores ?? []), ...(w.replicants ?? [])].map((p) => [p.name, p]));
  const nodeName = (pod: V1Pod) =>
    pod.metadata!.labels![LABEL_DB_ROLE] === 'core'
      ? coreNodeName(emqx, pod.metadata!.name!, 'cluster.local')
      : replicantNodeName(pod.status!.podIP!);
  const nodes: ApiNode[] | undefined =
    w.api === false
      ? undefined
      : pods
          .filter((p) => !p.metadata!.deletionTimestamp && (specs.get(p.metadata!.name!)!.running ?? true))
          .map((p) => {
            const clients = specs.get(p.metadata!.name!)!.clients ?? 0;
            return {
              node: nodeName(p),
              node_status: 'running',
              role: p.metadata!.labels![LABEL_DB_ROLE],
              edition,
              version,
              connections: clients,
              live_connections: clients,
            };
          });
  for (const name of w.stoppedCores ?? []) {
    nodes?.push({
      node: name.includes('@') ? name : coreNodeName(emqx, name, 'cluster.local'),
      node_status: 'stopped',
      role: 'core',
      edition,
      version,
    });
  }
  const running = new Set(
    nodes
      ? pods.filter((p) => nodes.some((n) => n.node === nodeName(p))).map((p) => p.metadata!.name!)
      : pods.filter((p) => specs.get(p.metadata!.name!)!.ready ?? true).map((p) => p.metadata!.name!),
  );
  const children = new Map<OwnedKind, Map<string, KubeObject>>();
  const add = (kind: OwnedKind, objs: Array<{ metadata?: { name?: string } }>) =>
    children.set(kind, new Map(objs.map((o) => [o.metadata!.name!, o as KubeObject])));
  add('StatefulSet', statefulSets);
  add('ReplicaSet', replicaSets);
  add('Pod', pods);
  for (const k of ['Service', 'ConfigMap', 'Secret', 'PodDisruptionBudget'] as const) add(k, []);
  add(
    'PersistentVolumeClaim',
    (w.pvcs ?? []).map((n) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: n, uid: `uid-${n}` },
    })),
  );
  for (const k of ['ServiceAccount', 'Role', 'RoleBinding'] as const) add(k, []);
  const capabilities = capabilitiesOf(nodes);
  return Object.freeze({
    namespace: 'ns1',
    name: 'emqx',
    raw: { ...emqx, ...(w.previousStatus && { status: w.previousStatus }) },
    emqx,
    paused: false,
    config: { ok: true, conf: {} },
    previousStatus: w.previousStatus,
    children,
    statefulSets,
    replicaSets,
    pods,
    core: roleView(emqx, 'core', w.coreHash ?? NEW, pods, running),
    replicant: roleView(emqx, 'replicant', w.replicantHash ?? NEW, pods, running),
    foreignWorkloads: foreignWorkloadsOf(statefulSets, replicaSets),
    takeover: w.takeover ?? false,
    ...(w.goOperatorLeases && { goOperatorLeases: w.goOperatorLeases }),
    secrets: {
      cookie: 'cookie-cookie',
      cookieExists: true,
      operatorSecret: 'secret-secret',
      userSecrets: {},
    },
    access: {
      targets: cores.filter((p) => !p.metadata!.deletionTimestamp).map(podApiUrl),
      credentials: { key: 'emqx-operator-controller', secret: 'secret-secret' },
    },
    ...(nodes
      ? {
          nodes,
          coreNodes: statusNodes(nodes, pods, 'core'),
          replicantNodes: statusNodes(nodes, pods, 'replicant'),
        }
      : { apiError: 'no answer' }),
    ...(w.evacuations && { evacuations: w.evacuations }),
    capabilities,
    availability: new Map(Object.entries(w.availability ?? {})),
    ...(w.ds && { ds: w.ds }),
  } satisfies Snapshot);
}

/** The EMQX node name of core pod `pod` of the `emqx` resource in ns1. */
export function coreNode(pod: string): string {
  return `emqx@${pod}.${names.headlessService(makeEmqx())}.ns1.svc.cluster.local`;
}

/** The moment every planner test plans at. */
export const NOW = new Date('2026-01-01T01:00:00Z');

/** `seconds` before NOW, as an RFC 3339 string. */
export function ago(seconds: number): string {
  return new Date(NOW.getTime() - seconds * 1000).toISOString();
}

/**
 * Durable storage for a world: `sites` maps core pod names to their site ids (a pod listed in `down` has its
 * replicas down), each shard lists its replica sites and pending transitions (`+S` joining, `-S` leaving).
 */
export function dsWorld(opts: {
  sites: Record<string, string>;
  shards: string[][];
  down?: string[];
  factor?: number;
  explicit?: boolean;
  /** False: the API could not be read this pass. */
  readable?: boolean;
}): DsState {
  const factor = opts.factor ?? 2;
  const state: DsState = { active: true, replicationFactor: factor, factorExplicit: opts.explicit ?? true };
  if (opts.readable === false) return { ...state, error: 'no answer' };
  const downSites = new Set((opts.down ?? []).map((p) => opts.sites[p]));
  const observed: DsObservation = {
    sites: Object.entries(opts.sites).map(([pod, site]) => ({
      site,
      node: coreNode(pod),
      up: !downSites.has(site),
    })),
    dbs: [
      {
        name: 'messages',
        shards: opts.shards.map((entries, i) => ({
          id: String(i),
          replicas: entries
            .filter((e) => !e.startsWith('+') && !e.startsWith('-'))
            .map((site) => ({ site, status: downSites.has(site) ? 'down' : 'up' })),
          transitions: entries
            .filter((e) => e.startsWith('+') || e.startsWith('-'))
            .map((e) => ({ site: e.slice(1), transition: e.startsWith('+') ? 'joining' : 'leaving' })),
        })),
      },
    ],
  };
  return { ...state, observed };
}
