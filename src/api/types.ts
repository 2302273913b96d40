// TypeScript shapes of the apps.emqx.io custom resources. The OpenAPI schema in ./schema.ts is the source of truth
// for validation and for the CRDs; these interfaces describe the same objects for the compiler, and a test checks
// that the two agree on the set of fields.
import type {
  V1Affinity,
  V1Container,
  V1ContainerPort,
  V1EnvFromSource,
  V1EnvVar,
  V1Lifecycle,
  V1LocalObjectReference,
  V1ObjectMeta,
  V1PersistentVolumeClaimSpec,
  V1PodSecurityContext,
  V1Probe,
  V1ResourceRequirements,
  V1SecurityContext,
  V1ServiceSpec,
  V1Toleration,
  V1TopologySpreadConstraint,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';

export const API_GROUP = 'apps.emqx.io';
export const STORAGE_VERSION = 'v2beta1';
export const EMQX_API_VERSION = `${API_GROUP}/v2beta1` as const;
export const EMQX_V2ALPHA1_API_VERSION = `${API_GROUP}/v2alpha1` as const;

export type IntOrString = number | string;

/** Metadata a template may carry onto the objects built from it. */
export interface TemplateMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Accepted and ignored (the Go operator's samples set it); the operator names its objects itself. */
  name?: string;
  /** Accepted and ignored: objects are always created in the EMQX resource's namespace. */
  namespace?: string;
  /** Accepted and ignored. */
  finalizers?: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// EMQX (apps.emqx.io/v2beta1)
// ---------------------------------------------------------------------------------------------------------------

export interface EMQX {
  apiVersion: typeof EMQX_API_VERSION;
  kind: 'EMQX';
  metadata: V1ObjectMeta;
  spec: EMQXSpec;
  status?: EMQXStatus;
}

export interface EMQXSpec {
  /** EMQX image, e.g. `emqx/emqx:5.8.3` or `emqx/emqx-enterprise:5.10.0`. */
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  imagePullSecrets?: V1LocalObjectReference[];
  serviceAccountName?: string;
  /** Extra API keys loaded at boot (create-only, like EMQX's bootstrap file). */
  bootstrapAPIKeys?: BootstrapAPIKey[];
  config?: EMQXConfig;
  /** Kubernetes cluster DNS domain. Default `cluster.local`. */
  clusterDomain?: string;
  /** How many superseded StatefulSets/ReplicaSets to keep. Default 3. */
  revisionHistoryLimit?: number;
  updateStrategy?: UpdateStrategy;
  /** Core nodes (StatefulSet). Default one replica... see defaults.ts for the numbers. */
  coreTemplate?: CoreTemplate;
  /** Replicant nodes (ReplicaSet). Absent: no replicants. */
  replicantTemplate?: ReplicantTemplate;
  dashboardServiceTemplate?: ServiceTemplate;
  listenersServiceTemplate?: ServiceTemplate;
  /** Certificates of the TLS listeners (ssl, wss) and of the dashboard's https listener, from Secrets. */
  tls?: TLSSpec;
}

/**
 * Where the certificates come from. The operator mounts each Secret into the pods (a directory mount, so the
 * kubelet updates the files when the Secret changes) and writes the `ssl_options` file paths into the config.
 */
export interface TLSSpec {
  /** The certificate of every enabled `ssl` and `wss` listener (EMQX's built-in ones included). */
  listeners?: TLSListenersCertificate;
  /** The certificate of the dashboard's https listener; the operator then calls the EMQX API over HTTPS. */
  dashboard?: TLSCertificate;
}

/**
 * One certificate: a Secret the user keeps (`secretName`), or a cert-manager `Certificate` the operator creates
 * (`issuerRef`), whose Secret `<name>-listeners-tls` / `<name>-dashboard-tls` is then used the same way. Exactly
 * one of the two.
 */
export interface TLSCertificate {
  /** A `kubernetes.io/tls` Secret in the resource's namespace: `tls.crt` (chain, leaf first), `tls.key`. */
  secretName?: string;
  /** A cert-manager Issuer or ClusterIssuer: the operator creates a `Certificate` (cert-manager.io/v1) from it. */
  issuerRef?: IssuerReference;
  /** With issuerRef: DNS names to add to those the operator derives from the Services (e.g. an external name). */
  extraDNSNames?: string[];
}

/** cert-manager's ObjectReference to an issuer. */
export interface IssuerReference {
  name: string;
  /** `Issuer` (this namespace, the default) or `ClusterIssuer`, or an external issuer's kind. */
  kind?: string;
  /** Default `cert-manager.io`. */
  group?: string;
}

/** The certificate of one named listener, instead of spec.tls.listeners' default. */
export interface TLSListenerCertificate {
  /** `ssl:<name>` or `wss:<name>`, an enabled listener of spec.config.data (or EMQX's `ssl:default`/`wss:default`). */
  listener: string;
  /** A `kubernetes.io/tls` Secret in the resource's namespace: `tls.crt`, `tls.key`. */
  secretName: string;
}

export interface TLSListenersCertificate extends TLSCertificate {
  /** Listeners with a certificate of their own; the others take the default (secretName or issuerRef). */
  perListener?: TLSListenerCertificate[];
  /**
   * Client certificates: a Secret whose `ca.crt` holds the CAs that sign them. With it, the listeners ask for a
   * client certificate (`verify = verify_peer`).
   */
  clientCA?: {
    secretName: string;
    /** Refuse clients without a certificate (`fail_if_no_peer_cert`). Default true. */
    required?: boolean;
  };
}

export interface SecretKeyReference {
  secretName: string;
  secretKey: string;
}

export interface BootstrapAPIKey {
  /** Key name, `^[a-zA-Z\d_-]+$`. Exclusive with secretRef. */
  key?: string;
  /** Secret, 3 to 128 characters. Exclusive with secretRef. */
  secret?: string;
  /** Key and secret read from Secrets instead of the resource. */
  secretRef?: {
    key: SecretKeyReference;
    secret: SecretKeyReference;
  };
}

export interface EMQXConfig {
  /** How `data` is pushed to a running cluster through `PUT /api/v5/configs`. Default Merge. */
  mode?: 'Merge' | 'Replace';
  /** EMQX configuration in HOCON. */
  data?: string;
}

export interface EvacuationStrategy {
  /** Seconds to wait for clients to take over sessions. Default 10. */
  waitTakeover?: number;
  /** Connections evicted per second. Default 1000. */
  connEvictRate?: number;
  /** Sessions evicted per second. Default 1000. */
  sessEvictRate?: number;
  /** Seconds to wait for the load balancer to notice the node is evacuating. Default 60. */
  waitHealthCheck?: number;
}

export interface UpdateStrategy {
  /** Kept for compatibility with the Go operator; the only value is Recreate. */
  type?: 'Recreate';
  /** Seconds to wait after the new nodes are available before draining old ones. Default 10. */
  initialDelaySeconds?: number;
  evacuationStrategy?: EvacuationStrategy;
  /** How core nodes are replaced on a pod-template change. */
  core?: {
    /**
     * InPlace (default): one StatefulSet whose pods are replaced one at a time, highest ordinal first, keeping
     * their names and PVCs. BlueGreen: a new StatefulSet joins and the old one is drained.
     */
    type?: 'InPlace' | 'BlueGreen';
  };
  /** How replicant nodes are replaced. BlueGreen: a new ReplicaSet, then old nodes drained one at a time. */
  replicant?: {
    type?: 'BlueGreen';
  };
}

/** Pod-level settings shared by core and replicant templates. */
export interface EMQXReplicaTemplateSpec {
  replicas?: number;
  /** PodDisruptionBudget minAvailable. Exclusive with maxUnavailable. */
  minAvailable?: IntOrString;
  /** PodDisruptionBudget maxUnavailable. Exclusive with minAvailable. */
  maxUnavailable?: IntOrString;
  command?: string[];
  args?: string[];
  ports?: V1ContainerPort[];
  env?: V1EnvVar[];
  envFrom?: V1EnvFromSource[];
  resources?: V1ResourceRequirements;
  podSecurityContext?: V1PodSecurityContext;
  containerSecurityContext?: V1SecurityContext;
  initContainers?: V1Container[];
  extraContainers?: V1Container[];
  extraVolumes?: V1Volume[];
  extraVolumeMounts?: V1VolumeMount[];
  affinity?: V1Affinity;
  tolerations?: V1Toleration[];
  /** Legacy spelling accepted by the Go operator; merged into tolerations. */
  toleRations?: V1Toleration[];
  topologySpreadConstraints?: V1TopologySpreadConstraint[];
  nodeSelector?: Record<string, string>;
  nodeName?: string;
  priorityClassName?: string;
  terminationGracePeriodSeconds?: number;
  livenessProbe?: V1Probe;
  readinessProbe?: V1Probe;
  startupProbe?: V1Probe;
  lifecycle?: V1Lifecycle;
}

export interface CoreTemplateSpec extends EMQXReplicaTemplateSpec {
  /** The PVC spec for each core's `/opt/emqx/data`. Default: ReadWriteOnce, 500Mi, default storage class. */
  volumeClaimTemplates?: V1PersistentVolumeClaimSpec;
  /**
   * Where core data lives. PersistentVolumeClaim (default) keeps the cluster database across restarts; EmptyDir
   * loses it whenever a pod is replaced and must be chosen explicitly.
   */
  dataVolume?: 'PersistentVolumeClaim' | 'EmptyDir';
  /** What happens to core PVCs when cores are scaled down or the EMQX resource is deleted. Default Retain/Retain. */
  persistentVolumeClaimRetentionPolicy?: {
    whenDeleted?: 'Retain' | 'Delete';
    whenScaled?: 'Retain' | 'Delete';
  };
}

export type ReplicantTemplateSpec = EMQXReplicaTemplateSpec;

export interface CoreTemplate {
  metadata?: TemplateMetadata;
  spec?: CoreTemplateSpec;
}

export interface ReplicantTemplate {
  metadata?: TemplateMetadata;
  spec?: ReplicantTemplateSpec;
}

export interface ServiceTemplate {
  /** Default true. */
  enabled?: boolean;
  metadata?: TemplateMetadata;
  spec?: V1ServiceSpec;
}

// ---------------------------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------------------------

export const CONDITION_TYPES = [
  'Initialized',
  'CoreNodesProgressing',
  'CoreNodesReady',
  'ReplicantNodesProgressing',
  'ReplicantNodesReady',
  'Available',
  'Ready',
  'ConfigApplied',
  'CertificatesReady',
  'Paused',
  'DurableStorage',
] as const;
export type EMQXConditionType = (typeof CONDITION_TYPES)[number];

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** One EMQX node as reported by `GET /api/v5/nodes`, matched to its pod. */
export interface EMQXNode {
  name: string;
  /** The same as name, under the key the Go operator writes; status tooling written for it reads `node`. */
  node?: string;
  node_status: string;
  otp_release?: string;
  role: 'core' | 'replicant';
  version?: string;
  edition?: string;
  podName?: string;
  podUID?: string;
  controllerUID?: string;
  /** Sessions, including disconnected persistent ones. */
  connections?: number;
  /** Connected clients. */
  live_connections?: number;
  /** Milliseconds. */
  uptime?: number;
}

export interface EMQXNodesStatus {
  replicas: number;
  readyReplicas: number;
  currentRevision?: string;
  currentReplicas?: number;
  updateRevision?: string;
  updateReplicas?: number;
  collisionCount?: number;
}

export interface NodeEvacuationStatus {
  node: string;
  state: string;
  session_recipients?: string[];
  session_goal?: number;
  session_eviction_rate?: number;
  connection_goal?: number;
  connection_eviction_rate?: number;
  stats?: {
    initial_sessions?: number;
    current_sessions?: number;
    initial_connected?: number;
    current_connected?: number;
  };
}

/** Progress of a pod-template rollout, as recorded by the operator (crash-safe: it resumes from here). */
export interface UpdateProgress {
  /** Idle | UpdatingCores | UpdatingReplicants | DrainingReplicants | DrainingCores | ScalingDownCores */
  phase: string;
  /** The node currently being drained, left or replaced. */
  node?: string;
  message?: string;
}

export interface EMQXStatus {
  /**
   * One word for `kubectl get emqx`: the most advanced lifecycle condition that holds (Initialized,
   * CoreNodesProgressing, CoreNodesReady, ReplicantNodesProgressing, ReplicantNodesReady, Available, Ready), or
   * Paused, or ForeignWorkloads (workloads this operator did not create were found).
   */
  phase?: string;
  observedGeneration?: number;
  conditions?: Condition[];
  coreNodes?: EMQXNode[];
  replicantNodes?: EMQXNode[];
  coreNodesStatus?: EMQXNodesStatus;
  replicantNodesStatus?: EMQXNodesStatus;
  nodeEvacuationsStatus?: NodeEvacuationStatus[];
  /** `ready/desired` core nodes, for `kubectl get`. */
  cores?: string;
  /** `ready/desired` replicant nodes, for `kubectl get`. */
  replicants?: string;
  /** Scale subresource status path: desired replicants. */
  replicantReplicas?: number;
  /** Scale subresource label selector path. */
  replicantSelector?: string;
  update?: UpdateProgress;
  /** The certificates spec.tls names, as the operator last read them (no key material). */
  certificates?: CertificateStatus[];
  /** Durable storage replication (only when durable sessions are on in spec.config.data). */
  durableStorage?: DurableStorageStatus;
}

export interface CertificateStatus {
  /** `listeners` (the default of every ssl/wss listener), `dashboard`, or one listener's (`ssl:internal`). */
  name: string;
  secretName: string;
  /** Hex serial number of the leaf certificate. */
  serial: string;
  /** RFC 3339. */
  notAfter: string;
}

/** Durable storage as the operator last saw it (EMQX `/api/v5/ds/*`). */
export interface DurableStorageStatus {
  /** durable_storage.messages.replication_factor (EMQX default 3). */
  replicationFactor: number;
  /** Sites (one per core node that ran with durable storage), with the shard replicas each holds. */
  sites: Array<{ site: string; node: string; up: boolean; shards: number }>;
  /** Shards over every DS database. */
  shards: number;
  /** Shards with fewer replicas up than the replication factor (or than the sites assigned, when fewer). */
  underReplicatedShards: number;
  /** Shards with a replica transition (joining or leaving) in progress. */
  transitions: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Rebalance (apps.emqx.io/v2beta1)
// ---------------------------------------------------------------------------------------------------------------

export interface Rebalance {
  apiVersion: typeof EMQX_API_VERSION;
  kind: 'Rebalance';
  metadata: V1ObjectMeta;
  spec: RebalanceSpec;
  status?: RebalanceStatus;
}

export interface RebalanceSpec {
  /** Default EMQX; an empty value means EMQX too. */
  instanceKind?: 'EMQX' | '';
  instanceName: string;
  rebalanceStrategy: RebalanceStrategy;
}

export interface RebalanceStrategy {
  connEvictRate: number;
  sessEvictRate?: number;
  waitTakeover?: number;
  waitHealthCheck?: number;
  absConnThreshold?: number;
  /** A float written as a string, e.g. "1.1". */
  relConnThreshold?: string;
  absSessThreshold?: number;
  relSessThreshold?: string;
}

export interface RebalanceState {
  state?: string;
  node?: string;
  coordinator_node?: string;
  donors?: string[];
  recipients?: string[];
  connection_eviction_rate?: number;
  session_eviction_rate?: number;
}

export interface RebalanceStatus {
  phase?: 'Processing' | 'Completed' | 'Failed';
  conditions?: Array<Condition & { lastUpdateTime?: string }>;
  rebalanceStates?: RebalanceState[];
  startedTime?: string;
  completedTime?: string;
  observedGeneration?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// EMQX (apps.emqx.io/v2alpha1), the shape of the first 2.0 releases. Accepted and converted to v2beta1.
// ---------------------------------------------------------------------------------------------------------------

/**
 * apps.emqx.io/v2alpha1 as the Go operator released it (2.0.0 on): v2beta1's spec with `bootstrapConfig` instead of
 * `config.data`, replicas defaulting to 3, and Service-typed service templates (apiVersion and kind allowed).
 */
export interface EMQXV2Alpha1Released {
  apiVersion: typeof EMQX_V2ALPHA1_API_VERSION;
  kind: 'EMQX';
  metadata: V1ObjectMeta;
  spec: Omit<EMQXSpec, 'config' | 'dashboardServiceTemplate' | 'listenersServiceTemplate'> & {
    bootstrapConfig?: string;
    config?: { mode?: 'Merge' | 'Replace' };
    dashboardServiceTemplate?: ServiceTemplate & { apiVersion?: string; kind?: string };
    listenersServiceTemplate?: ServiceTemplate & { apiVersion?: string; kind?: string };
  };
  status?: Record<string, unknown>;
}

/** apps.emqx.io/v2alpha1 as its schema takes it: either shape (./schema.ts RULE_V2ALPHA1_SHAPE keeps them apart). */
export interface EMQXV2Alpha1Any {
  apiVersion: typeof EMQX_V2ALPHA1_API_VERSION;
  kind: 'EMQX';
  metadata: V1ObjectMeta;
  spec: Partial<EMQXV2Alpha1Released['spec']> & {
    emqxTemplate?: EMQXV2Alpha1Spec['emqxTemplate'];
    persistent?: V1PersistentVolumeClaimSpec;
  };
  status?: Record<string, unknown>;
}

/** apps.emqx.io/v2alpha1 in its early shape (spec.emqxTemplate). */
export interface EMQXV2Alpha1 {
  apiVersion: typeof EMQX_V2ALPHA1_API_VERSION;
  kind: 'EMQX';
  metadata: V1ObjectMeta;
  spec: EMQXV2Alpha1Spec;
  status?: Record<string, unknown>;
}

export interface EMQXV2Alpha1Spec {
  emqxTemplate: {
    image: string;
    imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
    imagePullSecrets?: V1LocalObjectReference[];
    /** HOCON, becomes spec.config.data. */
    bootstrapConfig?: string;
    bootstrapAPIKeys?: BootstrapAPIKey[];
    env?: V1EnvVar[];
    args?: string[];
    resources?: V1ResourceRequirements;
    securityContext?: V1PodSecurityContext;
    extraVolumes?: V1Volume[];
    extraVolumeMounts?: V1VolumeMount[];
    readinessProbe?: V1Probe;
    livenessProbe?: V1Probe;
    startupProbe?: V1Probe;
  };
  coreTemplate?: {
    metadata?: TemplateMetadata;
    spec?: {
      /** Default 3. */
      replicas?: number;
      nodeSelector?: Record<string, string>;
      affinity?: V1Affinity;
      tolerations?: V1Toleration[];
    };
  };
  replicantTemplate?: {
    metadata?: TemplateMetadata;
    spec?: {
      /** Default 3. */
      replicas?: number;
      nodeSelector?: Record<string, string>;
      affinity?: V1Affinity;
      tolerations?: V1Toleration[];
    };
  };
  /** PVC spec for core data. */
  persistent?: V1PersistentVolumeClaimSpec;
  dashboardServiceTemplate?: { metadata?: TemplateMetadata; spec?: V1ServiceSpec };
  listenersServiceTemplate?: { metadata?: TemplateMetadata; spec?: V1ServiceSpec };
}
