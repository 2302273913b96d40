// The OpenAPI v3 schemas of the apps.emqx.io resources: the single source of the CRDs (./crds.ts) and of the CLI
// validator (./validate.ts). Every field has a description (shown by `kubectl explain`). Embedded Kubernetes types
// (containers, volumes, probes, ...) use their real structural schemas, generated from the Kubernetes OpenAPI spec
// into ./k8s-schemas.json by scripts/gen-k8s-schemas.ts.
//
// Cross-field rules are CEL rules (`x-kubernetes-validations`) that the API server evaluates. Each rule is defined
// once, together with a TypeScript `check` that the CLI validator runs instead of a CEL engine; the CRD builder
// emits the rule without its check (see `toCrdSchema`).
//
// Defaults: only scalar defaults that are safe for the API server to store are in the schema (`default:`); the
// structured ones are applied by the operator (./defaults.ts). The scalars are repeated there, so `render` sees the
// same values without an API server.
import k8sSchemas from './k8s-schemas.json' with { type: 'json' };
import {
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_CONFIG_MODE,
  DEFAULT_EVACUATION_STRATEGY,
  DEFAULT_INITIAL_DELAY_SECONDS,
  DEFAULT_REBALANCE_STRATEGY,
  DEFAULT_REVISION_HISTORY_LIMIT,
} from './defaults.ts';
import { MAX_EMQX_NAME, MAX_REPLICASET_NAME, MAX_STATEFULSET_NAME } from './names.ts';
import { deepEqual, isObj, type Obj } from './json.ts';

/** A CEL validation rule with its TypeScript twin. */
export interface CelRule {
  /** The CEL expression the API server evaluates, with `self` bound to the value at this schema node. */
  rule: string;
  /** Shown when the rule is violated. */
  message: string;
  /** Path, relative to this node, of the field the error is reported on (e.g. `.maxUnavailable`). */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  /**
   * Where the CLI validator reports a violation, relative to this node, when `fieldPath` cannot say it (the API
   * server accepts no fieldPath into metadata). Not part of the CRD.
   */
  reportPath?: string;
  /**
   * A transition rule evaluated on creates too: `oldSelf` is then a CEL optional (`oldSelf.hasValue()` is false on
   * create), and the TypeScript check gets `undefined` for it.
   */
  optionalOldSelf?: boolean;
  /**
   * The same rule in TypeScript: true when the value is valid. Transition rules (those that use `oldSelf`) get the
   * old value as the second argument and are only evaluated on updates, unless `optionalOldSelf` is set.
   */
  check: (self: unknown, oldSelf?: unknown) => boolean;
}

export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps these resources use, with CEL rules carrying checks. */
export interface Schema {
  type?: SchemaType;
  description?: string;
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  pattern?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: CelRule[];
}

// ---------------------------------------------------------------------------------------------------------------
// Small constructors, so that the schemas below read like the types they describe.
// ---------------------------------------------------------------------------------------------------------------

function obj(description: string, properties: Record<string, Schema>, extra: Partial<Schema> = {}): Schema {
  return { type: 'object', description, properties, ...extra };
}
/**
 * Longest spec.config.data (v2alpha1: spec.emqxTemplate.bootstrapConfig) accepted, in characters. Real configs are a
 * few KiB; the HOCON parser is given the same bound (src/resources/config.ts).
 */
export const MAX_CONFIG_DATA_LENGTH = 256 * 1024;
/** Most core nodes a cluster may ask for (the cores hold the database; real clusters have 1 to 7). */
export const MAX_CORE_REPLICAS = 32;
/** Most replicant nodes a cluster may ask for. */
export const MAX_REPLICANT_REPLICAS = 1024;

function str(description: string, extra: Partial<Schema> = {}): Schema {
  return { type: 'string', description, ...extra };
}
function int32(description: string, extra: Partial<Schema> = {}): Schema {
  return { type: 'integer', format: 'int32', description, ...extra };
}
function int64(description: string, extra: Partial<Schema> = {}): Schema {
  return { type: 'integer', format: 'int64', description, ...extra };
}
function bool(description: string, extra: Partial<Schema> = {}): Schema {
  return { type: 'boolean', description, ...extra };
}
function arr(description: string, items: Schema, extra: Partial<Schema> = {}): Schema {
  return { type: 'array', description, items, ...extra };
}
function strMap(description: string): Schema {
  return { type: 'object', description, additionalProperties: { type: 'string' } };
}
function intOrString(description: string, extra: Partial<Schema> = {}): Schema {
  return { 'x-kubernetes-int-or-string': true, description, ...extra };
}

export type K8sTypeName = Exclude<keyof typeof k8sSchemas, '$comment'>;

/** A fresh copy of an embedded Kubernetes type's structural schema, with this field's own description. */
export function k8s(name: K8sTypeName, description?: string): Schema {
  const s = structuredClone(k8sSchemas[name]) as Schema;
  if (description !== undefined) s.description = description;
  return s;
}

/** CEL's has(self.f) for a TS value. */
function has(v: unknown, key: string): boolean {
  return isObj(v) && v[key] !== undefined && v[key] !== null;
}
// ---------------------------------------------------------------------------------------------------------------
// CEL rules
// ---------------------------------------------------------------------------------------------------------------

export const RULE_PDB_EXCLUSIVE: CelRule = {
  rule: '!(has(self.minAvailable) && has(self.maxUnavailable))',
  message: 'minAvailable and maxUnavailable are mutually exclusive: set at most one',
  fieldPath: '.maxUnavailable',
  reason: 'FieldValueForbidden',
  check: (self) => !(has(self, 'minAvailable') && has(self, 'maxUnavailable')),
};

export const RULE_BOOTSTRAP_KEY_SOURCE: CelRule = {
  rule: 'has(self.secretRef) ? !has(self.key) && !has(self.secret) : has(self.key) && has(self.secret)',
  message: 'set either key and secret, or secretRef (not both)',
  check: (self) =>
    has(self, 'secretRef')
      ? !has(self, 'key') && !has(self, 'secret')
      : has(self, 'key') && has(self, 'secret'),
};

export const RULE_BOOTSTRAP_KEYS_UNIQUE: CelRule = {
  rule: 'self.all(k, !has(k.key) || self.exists_one(j, has(j.key) && j.key == k.key))',
  message: 'bootstrap API key names must be unique',
  check: (self) => {
    const keys = (Array.isArray(self) ? self : []).filter((k) => has(k, 'key')).map((k) => (k as Obj).key);
    return new Set(keys).size === keys.length;
  },
};

export const RULE_VOLUME_CLAIM_NEEDS_PVC: CelRule = {
  rule: "!has(self.volumeClaimTemplates) || !has(self.dataVolume) || self.dataVolume == 'PersistentVolumeClaim'",
  message: 'volumeClaimTemplates is only used with dataVolume PersistentVolumeClaim',
  fieldPath: '.volumeClaimTemplates',
  reason: 'FieldValueForbidden',
  check: (self) =>
    !has(self, 'volumeClaimTemplates') ||
    !has(self, 'dataVolume') ||
    (self as Obj).dataVolume === 'PersistentVolumeClaim',
};

const EMQX_NAME_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';

/**
 * The EMQX name prefixes the names of the children (see MAX_EMQX_NAME in ./names.ts): a DNS-1035 label short enough
 * for the longest of them. Checked on create only: the name cannot change, and a resource created under an older,
 * looser limit must stay updatable (a root rule that failed on update would block even the removal of its
 * finalizer).
 */
export const RULE_EMQX_NAME: CelRule = {
  rule:
    `oldSelf.hasValue() || (self.metadata.name.size() <= ${MAX_EMQX_NAME} && ` +
    `self.metadata.name.matches('${EMQX_NAME_PATTERN}'))`,
  optionalOldSelf: true,
  message:
    `metadata.name must be at most ${MAX_EMQX_NAME} characters of lowercase letters, digits and "-", start with a ` +
    'letter and end with a letter or digit: it prefixes the blue-green core StatefulSets (<name>-core-<hash>, at most ' +
    `${MAX_STATEFULSET_NAME} characters so that the pod label controller-revision-hash fits 63) and the ` +
    `replicant ReplicaSets (<name>-replicant-<hash>, at most ${MAX_REPLICASET_NAME} so that their pod names keep ` +
    'it whole within 63)',
  reportPath: '.metadata.name',
  check: (self, oldSelf) => {
    if (oldSelf !== undefined && oldSelf !== null) return true;
    const name = isObj(self) && isObj(self.metadata) ? self.metadata.name : undefined;
    return (
      typeof name !== 'string' || (name.length <= MAX_EMQX_NAME && new RegExp(EMQX_NAME_PATTERN).test(name))
    );
  },
};

/** instanceKind: EMQX or empty (the Go operator's default too); EmqxEnterprise (EMQX 4.x) is explained. */
export const RULE_REBALANCE_INSTANCE_KIND: CelRule = {
  rule: "self == '' || self == 'EMQX'",
  message:
    'instanceKind must be EMQX (or left out): this operator rebalances EMQX 5 clusters, apps.emqx.io/v2beta1 EMQX ' +
    'resources. EmqxEnterprise named an EMQX 4.x cluster of the Go operator (v1beta4), which this operator does not ' +
    'manage; write instanceKind: EMQX and set instanceName to the EMQX resource',
  check: (self) => self === '' || self === 'EMQX',
};

export const RULE_REBALANCE_IMMUTABLE: CelRule = {
  rule: 'self == oldSelf',
  message: 'a Rebalance runs once and its spec cannot be changed; create a new Rebalance instead',
  check: (self, oldSelf) => deepEqual(self, oldSelf),
};

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------------------------

export const PATTERN_DNS_NAME = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const PATTERN_PERCENT = '^(100|[1-9]?[0-9])%$';
export const PATTERN_DECIMAL = '^[0-9]+(\\.[0-9]+)?$';
export const PATTERN_API_KEY = '^[a-zA-Z\\d_-]+$';
/** The pattern scripts/gen-k8s-schemas.ts puts on every resource.Quantity. */
export const PATTERN_QUANTITY =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** What each pattern means, for error messages. */
export const PATTERN_MEANING: Record<string, string> = {
  [PATTERN_DNS_NAME]: 'a DNS name (lowercase letters, digits, "-" and ".")',
  [PATTERN_PERCENT]: 'a percentage from "0%" to "100%" (or an integer)',
  [PATTERN_DECIMAL]: 'a decimal number written as a string, such as "1.1"',
  [PATTERN_API_KEY]: 'made of letters, digits, "_" and "-"',
  [PATTERN_QUANTITY]: 'a quantity such as 500Mi, 1Gi, 250m or 2',
};

function templateMetadata(what: string): Schema {
  return obj(`Labels and annotations added to the ${what}.`, {
    // nullable: `annotations:` with no value, as in the Go operator's full sample, is null.
    labels: {
      ...strMap(`Labels added to the ${what}. The operator's own labels take precedence.`),
      nullable: true,
    },
    annotations: { ...strMap(`Annotations added to the ${what}.`), nullable: true },
    // The Go operator's samples (emqx-full.yaml) write these; its schema took a whole ObjectMeta here.
    name: str('Accepted for compatibility with the Go operator and ignored: the operator names its objects.'),
    namespace: str(
      "Accepted for compatibility with the Go operator and ignored: objects live in the EMQX resource's namespace.",
    ),
    finalizers: stringList('Accepted for compatibility with the Go operator and ignored.'),
  });
}

function imagePullPolicy(): Schema {
  return str(
    'When the kubelet pulls the image: Always, IfNotPresent or Never. Default: the Kubernetes default.',
    {
      enum: ['Always', 'IfNotPresent', 'Never'],
    },
  );
}

function imagePullSecrets(): Schema {
  return arr('Secrets used to pull the EMQX image from a private registry.', k8s('LocalObjectReference'), {
    'x-kubernetes-list-type': 'atomic',
  });
}

function secretKeyReference(what: string): Schema {
  return obj(
    `Where the ${what} is read from: a key of a Secret in the resource's namespace.`,
    {
      secretName: str('Name of the Secret.', { minLength: 1, maxLength: 253 }),
      secretKey: str('Key within the Secret.', { minLength: 1, maxLength: 253 }),
    },
    { required: ['secretName', 'secretKey'] },
  );
}

function bootstrapAPIKeys(): Schema {
  return arr(
    'API keys created when the cluster first starts (EMQX bootstrap file). They are create-only: changing or ' +
      'removing one later does not change it in a running cluster.',
    obj(
      'One API key: either key and secret inline, or secretRef.',
      {
        key: str('The API key name: letters, digits, "_" and "-".', {
          pattern: PATTERN_API_KEY,
          minLength: 1,
          maxLength: 128,
        }),
        secret: str('The API secret, 3 to 128 characters.', { minLength: 3, maxLength: 128 }),
        secretRef: obj(
          'Key and secret read from Secrets instead of written in the resource.',
          { key: secretKeyReference('API key name'), secret: secretKeyReference('API secret') },
          { required: ['key', 'secret'] },
        ),
      },
      { 'x-kubernetes-validations': [RULE_BOOTSTRAP_KEY_SOURCE] },
    ),
    {
      maxItems: 32,
      'x-kubernetes-list-type': 'atomic',
      'x-kubernetes-validations': [RULE_BOOTSTRAP_KEYS_UNIQUE],
    },
  );
}

function containers(description: string): Schema {
  return arr(description, k8s('Container'), {
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  });
}

/** Most user environment variables per container (bounds the cost of the CEL rule over them). */
export const MAX_ENV_VARS = 256;

/**
 * The node cookie comes from the cookie Secret for every pod; a user variable in one role's template would give
 * that role another cookie and split the cluster without a word.
 */
export const RULE_ENV_NO_COOKIE: CelRule = {
  rule: "self.all(e, e.name != 'EMQX_NODE__COOKIE')",
  message:
    'EMQX_NODE__COOKIE cannot be set here: every node takes the cookie from the cookie Secret (set node.cookie ' +
    'in spec.config.data to choose it)',
  reason: 'FieldValueForbidden',
  check: (self) => !Array.isArray(self) || self.every((e) => !isObj(e) || e.name !== 'EMQX_NODE__COOKIE'),
};

/**
 * Environment variables. Atomic rather than a list-map keyed by name: the Go operator passes duplicate names on
 * (Kubernetes lets the last one win), and a list-map would refuse them at admission.
 */
function env(description: string): Schema {
  return arr(
    `${description} A name given twice is passed on once, with its last value (what the container would see).`,
    k8s('EnvVar'),
    {
      'x-kubernetes-list-type': 'atomic',
      maxItems: MAX_ENV_VARS,
      'x-kubernetes-validations': [RULE_ENV_NO_COOKIE],
    },
  );
}

function volumes(description: string): Schema {
  return arr(description, k8s('Volume'), {
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  });
}

function volumeMounts(description: string): Schema {
  return arr(description, k8s('VolumeMount'), {
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['mountPath'],
  });
}

function tolerations(description: string): Schema {
  return arr(description, k8s('Toleration'), { 'x-kubernetes-list-type': 'atomic' });
}

function stringList(description: string): Schema {
  return arr(description, { type: 'string' }, { 'x-kubernetes-list-type': 'atomic' });
}

/** The `spec` of a core or replicant template; `role` only changes the wording. */
function replicaTemplateSpecProperties(role: 'core' | 'replicant'): Record<string, Schema> {
  const pods = `${role} pods`;
  return {
    replicas:
      role === 'core'
        ? int32(
            'Number of core nodes (StatefulSet replicas). At least 1. Default 2 (applied by the operator). Core ' +
              `nodes hold the cluster database. At most ${MAX_CORE_REPLICAS}.`,
            { minimum: 1, maximum: MAX_CORE_REPLICAS },
          )
        : int32(
            'Number of replicant nodes. Default 2 when replicantTemplate is set (applied by the operator). This is ' +
              `the field \`kubectl scale emqx/<name>\` and a HorizontalPodAutoscaler change. At most ` +
              `${MAX_REPLICANT_REPLICAS}.`,
            { minimum: 0, maximum: MAX_REPLICANT_REPLICAS },
          ),
    minAvailable: intOrString(
      `PodDisruptionBudget minAvailable for the ${pods}: a number or a percentage such as "50%". Exclusive ` +
        'with maxUnavailable. Neither set: maxUnavailable 1.',
      { pattern: PATTERN_PERCENT, minimum: 0 },
    ),
    maxUnavailable: intOrString(
      `PodDisruptionBudget maxUnavailable for the ${pods}: a number or a percentage such as "25%". Exclusive ` +
        'with minAvailable.',
      { pattern: PATTERN_PERCENT, minimum: 0 },
    ),
    command: stringList('Entrypoint of the EMQX container, replacing the image ENTRYPOINT.'),
    args: stringList('Arguments of the EMQX container, replacing the image CMD.'),
    ports: arr(
      'Extra container ports of the EMQX container (listener ports are derived from the config).',
      // Container's own list items: the generator gave protocol, a list-map key, its default TCP there.
      k8s('Container').properties?.ports?.items as Schema,
      {
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['containerPort', 'protocol'],
      },
    ),
    env: env(`Extra environment variables of the EMQX container in the ${pods}.`),
    envFrom: arr(
      `Sources of environment variables of the EMQX container in the ${pods}.`,
      k8s('EnvFromSource'),
      {
        'x-kubernetes-list-type': 'atomic',
      },
    ),
    resources: k8s(
      'ResourceRequirements',
      `CPU and memory requests and limits of the EMQX container in the ${pods}.`,
    ),
    podSecurityContext: k8s(
      'PodSecurityContext',
      `Pod security context of the ${pods}. Merged over the default: uid/gid/fsGroup 1000, runAsNonRoot, ` +
        'fsGroupChangePolicy Always, supplementalGroups [1000], seccomp RuntimeDefault. An explicit {} opts out ' +
        'of the defaults; runAsUser 0 here, or an init or extra container running as root, drops the default ' +
        'runAsNonRoot (a runAsNonRoot you write is kept).',
    ),
    containerSecurityContext: k8s(
      'SecurityContext',
      'Security context of the EMQX container. Merged over the default: uid/gid 1000, runAsNonRoot, no ' +
        'privilege escalation, all capabilities dropped. An explicit {} opts out of the defaults; runAsUser 0 ' +
        '(here or on the pod) drops the default runAsNonRoot; uid, gid and runAsNonRoot set on the pod are not ' +
        'overridden by the defaults here.',
    ),
    initContainers: containers(`Init containers of the ${pods}.`),
    extraContainers: containers(`Sidecar containers added to the ${pods}.`),
    extraVolumes: volumes(`Extra volumes of the ${pods}.`),
    extraVolumeMounts: volumeMounts('Extra volume mounts of the EMQX container.'),
    affinity: k8s('Affinity', `Scheduling affinity of the ${pods}.`),
    tolerations: tolerations(`Tolerations of the ${pods}.`),
    toleRations: tolerations(
      'Deprecated spelling of tolerations, accepted for compatibility; merged into tolerations.',
    ),
    topologySpreadConstraints: arr(
      `How the ${pods} are spread across topology domains.`,
      k8s('TopologySpreadConstraint'),
      {
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['topologyKey', 'whenUnsatisfiable'],
      },
    ),
    nodeSelector: strMap(`Node labels the ${pods} must be scheduled on.`),
    nodeName: str(`Schedules the ${pods} directly onto this node, bypassing the scheduler.`),
    priorityClassName: str(`PriorityClass of the ${pods}.`),
    terminationGracePeriodSeconds: int64(`Seconds the ${pods} get to shut down gracefully.`, { minimum: 0 }),
    livenessProbe: k8s(
      'Probe',
      'Liveness probe of the EMQX container. Default: GET /status on port dashboard, 60 s initial delay, every ' +
        '30 s, 3 failures.',
    ),
    readinessProbe: k8s(
      'Probe',
      'Readiness probe of the EMQX container. Default: GET /status on port dashboard, no initial delay, every 5 s, ' +
        '12 failures (it starts once the startup probe passed).',
    ),
    startupProbe: k8s(
      'Probe',
      'Startup probe of the EMQX container: readiness and liveness probes start once it passes. Default: GET ' +
        '/status on port dashboard every second, 300 failures (5 minutes to boot).',
    ),
    lifecycle: k8s('Lifecycle', 'Lifecycle hooks of the EMQX container.'),
  };
}

/** The properties of the core template's `spec`. */
function coreTemplateSpecProperties(): Record<string, Schema> {
  return {
    ...replicaTemplateSpecProperties('core'),
    volumeClaimTemplates: k8s(
      'PersistentVolumeClaimSpec',
      "The PersistentVolumeClaim spec of each core node's data volume (/opt/emqx/data). Default: " +
        'ReadWriteOnce, 500Mi, the default StorageClass. Used only when dataVolume is PersistentVolumeClaim.',
    ),
    dataVolume: str(
      'Where core data lives. PersistentVolumeClaim keeps the cluster database across pod restarts; EmptyDir ' +
        'loses it whenever a pod is replaced and must be chosen explicitly.',
      { enum: ['PersistentVolumeClaim', 'EmptyDir'], default: 'PersistentVolumeClaim' },
    ),
    persistentVolumeClaimRetentionPolicy: obj(
      'What happens to core data PVCs when cores are scaled down or the EMQX resource is deleted.',
      {
        whenDeleted: str('Retain (default) or Delete the PVCs when the EMQX resource is deleted.', {
          enum: ['Retain', 'Delete'],
          default: 'Retain',
        }),
        whenScaled: str('Retain (default) or Delete the PVCs of core nodes removed by a scale-down.', {
          enum: ['Retain', 'Delete'],
          default: 'Retain',
        }),
      },
    ),
  };
}

function coreTemplate(): Schema {
  return obj('Core nodes: a StatefulSet of EMQX nodes that hold the cluster database. Default: 2 cores.', {
    metadata: templateMetadata('core pods'),
    spec: obj('Pod and storage settings of the core nodes.', coreTemplateSpecProperties(), {
      'x-kubernetes-validations': [RULE_PDB_EXCLUSIVE, RULE_VOLUME_CLAIM_NEEDS_PVC],
    }),
  });
}

function replicantTemplate(): Schema {
  return obj(
    'Replicant nodes: stateless EMQX nodes (a ReplicaSet) that serve clients and replicate the database from the ' +
      'cores. Absent: the cluster has no replicants.',
    {
      metadata: templateMetadata('replicant pods'),
      spec: obj(
        'Pod settings of the replicant nodes. Replicants keep no data, so there is no dataVolume.',
        replicaTemplateSpecProperties('replicant'),
        {
          'x-kubernetes-validations': [RULE_PDB_EXCLUSIVE],
        },
      ),
    },
  );
}

function serviceTemplate(what: string, withEnabled: boolean): Schema {
  const properties: Record<string, Schema> = {
    metadata: templateMetadata(`${what} Service`),
    spec: k8s(
      'ServiceSpec',
      `Spec of the ${what} Service. The operator sets the selector and derives the ports; values here are merged.`,
    ),
  };
  if (withEnabled) {
    properties.enabled = bool(`Whether the ${what} Service is created. Default true.`, { default: true });
  }
  return obj(`The ${what} Service.`, properties);
}

function configSchema(): Schema {
  return obj('EMQX configuration.', {
    mode: str(
      'How data is applied to a running cluster: Merge (default) merges it into the current configuration, ' +
        'Replace replaces the configuration.',
      { enum: ['Merge', 'Replace'], default: DEFAULT_CONFIG_MODE },
    ),
    data: str(
      "EMQX configuration in HOCON, written to the nodes' config file and applied at runtime. At most " +
        `${MAX_CONFIG_DATA_LENGTH} characters.`,
      { maxLength: MAX_CONFIG_DATA_LENGTH },
    ),
  });
}

function secretName(description: string): Schema {
  return str(description, { pattern: PATTERN_DNS_NAME, minLength: 1, maxLength: 253 });
}

export const RULE_TLS_CERTIFICATE_SOURCE: CelRule = {
  rule: 'has(self.secretName) != has(self.issuerRef)',
  message: 'set either secretName (a Secret you keep) or issuerRef (a cert-manager Certificate), not both',
  reason: 'FieldValueInvalid',
  check: (self) => has(self, 'secretName') !== has(self, 'issuerRef'),
};

export const RULE_TLS_LISTENERS_SOURCE: CelRule = {
  rule:
    '!(has(self.secretName) && has(self.issuerRef)) && (has(self.secretName) || has(self.issuerRef) || ' +
    '(has(self.perListener) && size(self.perListener) > 0))',
  message:
    'set either secretName (a Secret you keep) or issuerRef (a cert-manager Certificate), not both; or perListener alone',
  reason: 'FieldValueInvalid',
  check: (self) =>
    !(has(self, 'secretName') && has(self, 'issuerRef')) &&
    (has(self, 'secretName') ||
      has(self, 'issuerRef') ||
      (Array.isArray((self as Obj).perListener) && ((self as Obj).perListener as unknown[]).length > 0)),
};

export const RULE_TLS_EXTRA_DNS_NEEDS_ISSUER: CelRule = {
  rule: '!has(self.extraDNSNames) || has(self.issuerRef)',
  message: 'extraDNSNames is for the Certificate made from issuerRef; a Secret you keep has its own names',
  fieldPath: '.extraDNSNames',
  reason: 'FieldValueForbidden',
  check: (self) => !has(self, 'extraDNSNames') || has(self, 'issuerRef'),
};

function issuerSource(): Record<string, Schema> {
  return {
    issuerRef: obj(
      'A cert-manager issuer: the operator creates a Certificate (cert-manager.io/v1) named ' +
        '<name>-listeners-tls or <name>-dashboard-tls, owned by this resource, with the DNS names of the ' +
        "cluster's Services and pods (and the listeners LoadBalancer address once known), and uses the Secret " +
        'of the same name cert-manager writes. Exclusive with secretName.',
      {
        name: str('Name of the Issuer or ClusterIssuer.', { minLength: 1, maxLength: 253 }),
        kind: str('Issuer (in this namespace, the default) or ClusterIssuer, or an external issuer kind.', {
          minLength: 1,
          maxLength: 63,
        }),
        group: str('API group of the issuer. Default cert-manager.io.', { minLength: 1, maxLength: 253 }),
      },
      { required: ['name'] },
    ),
    extraDNSNames: arr(
      'With issuerRef: more DNS names for the Certificate (an external name clients use).',
      str('A DNS name (a leading *. for a wildcard).', {
        pattern: '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
        maxLength: 253,
      }),
      { maxItems: 32 },
    ),
  };
}

function tlsSchema(): Schema {
  return obj(
    'TLS certificates from Secrets or cert-manager. The operator mounts each Secret into the pods (updated in ' +
      'place by the kubelet when the Secret changes, which EMQX picks up without a restart) and writes the ' +
      'ssl_options file paths into the node configuration.',
    {
      listeners: obj(
        "The certificate of every enabled ssl and wss listener, EMQX's built-in ones included.",
        {
          secretName: secretName(
            'A kubernetes.io/tls Secret in this namespace: tls.crt (the chain, leaf first) and tls.key. ' +
              'Exclusive with issuerRef.',
          ),
          ...issuerSource(),
          perListener: arr(
            'Listeners with a certificate of their own (mounted from their own Secret); the other ssl and wss ' +
              'listeners take the default above, and the client CA applies to all.',
            obj(
              'The certificate of one listener.',
              {
                listener: str('ssl:<name> or wss:<name>: an enabled listener of spec.config.data.', {
                  pattern: '^(ssl|wss):[0-9a-zA-Z_-]+$',
                  maxLength: 64,
                }),
                secretName: secretName('A kubernetes.io/tls Secret in this namespace: tls.crt and tls.key.'),
              },
              { required: ['listener', 'secretName'] },
            ),
            { maxItems: 16, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['listener'] },
          ),
          clientCA: obj(
            'Client certificate verification (verify_peer) against the CAs in the ca.crt of a Secret.',
            {
              secretName: secretName('A Secret in this namespace whose ca.crt holds the client CAs.'),
              required: bool(
                'Refuse clients that present no certificate (fail_if_no_peer_cert). Default true.',
              ),
            },
            { required: ['secretName'] },
          ),
        },
        { 'x-kubernetes-validations': [RULE_TLS_LISTENERS_SOURCE, RULE_TLS_EXTRA_DNS_NEEDS_ISSUER] },
      ),
      dashboard: obj(
        'The certificate of the dashboard https listener. The operator then calls the EMQX API over HTTPS and ' +
          'verifies it against the ca.crt of this Secret (or the system CAs when it has none).',
        {
          secretName: secretName(
            'A kubernetes.io/tls Secret in this namespace: tls.crt, tls.key and optionally ca.crt. Exclusive ' +
              'with issuerRef.',
          ),
          ...issuerSource(),
        },
        { 'x-kubernetes-validations': [RULE_TLS_CERTIFICATE_SOURCE, RULE_TLS_EXTRA_DNS_NEEDS_ISSUER] },
      ),
    },
  );
}

function updateStrategy(): Schema {
  return obj('How the operator rolls out changes to the pod templates.', {
    type: str('Kept for compatibility with the Go operator; the only value is Recreate.', {
      enum: ['Recreate'],
      default: 'Recreate',
    }),
    initialDelaySeconds: int32(
      'Seconds to wait after new nodes are ready before draining old ones. Default 10.',
      {
        minimum: 0,
        default: DEFAULT_INITIAL_DELAY_SECONDS,
      },
    ),
    evacuationStrategy: obj('How clients are moved off a node before it is removed.', {
      waitTakeover: int32('Seconds to wait for clients to take over their sessions. Default 10.', {
        minimum: 0,
        default: DEFAULT_EVACUATION_STRATEGY.waitTakeover,
      }),
      connEvictRate: int32('Connections evicted per second. Default 1000.', {
        minimum: 1,
        default: DEFAULT_EVACUATION_STRATEGY.connEvictRate,
      }),
      sessEvictRate: int32('Sessions evicted per second. Default 1000.', {
        minimum: 1,
        default: DEFAULT_EVACUATION_STRATEGY.sessEvictRate,
      }),
      waitHealthCheck: int32(
        'Seconds to wait for load balancers to notice that a node is evacuating before evicting. Default 60.',
        { minimum: 0, default: DEFAULT_EVACUATION_STRATEGY.waitHealthCheck },
      ),
    }),
    core: obj('How core nodes are replaced when their pod template changes.', {
      type: str(
        'InPlace (default): pods of one StatefulSet are replaced one at a time, highest ordinal first, keeping ' +
          'their names and PVCs. BlueGreen: a new StatefulSet joins the cluster and the old one is drained.',
        { enum: ['InPlace', 'BlueGreen'], default: 'InPlace' },
      ),
    }),
    replicant: obj('How replicant nodes are replaced when their pod template changes.', {
      type: str('BlueGreen (the only value): a new ReplicaSet, then old nodes drained one at a time.', {
        enum: ['BlueGreen'],
        default: 'BlueGreen',
      }),
    }),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------------------------

function conditionSchema(withLastUpdateTime: boolean): Schema {
  const properties: Record<string, Schema> = {
    type: str('Condition type, e.g. Ready.', { maxLength: 316 }),
    status: str('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
    reason: str('One CamelCase word saying why the condition is in its state.', { maxLength: 1024 }),
    message: str('Human-readable details.', { maxLength: 32768 }),
    lastTransitionTime: str('When the status last changed.', { format: 'date-time' }),
    observedGeneration: int64('The metadata.generation the condition was computed for.', { minimum: 0 }),
  };
  if (withLastUpdateTime)
    properties.lastUpdateTime = str('When the condition was last updated.', { format: 'date-time' });
  return obj('A status condition.', properties, { required: ['type', 'status'] });
}

function conditions(withLastUpdateTime = false): Schema {
  return arr('Latest observations of the resource state.', conditionSchema(withLastUpdateTime), {
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });
}

function emqxNode(): Schema {
  return obj('One EMQX node, as reported by the EMQX API and matched to its pod.', {
    name: str('EMQX node name, e.g. emqx@10.0.0.5.'),
    node: str('The same EMQX node name, under the key the Go operator writes (its status tooling reads it).'),
    node_status: str('running or stopped.'),
    otp_release: str('Erlang/OTP release of the node.'),
    role: str('core or replicant.'),
    version: str('EMQX version of the node.'),
    edition: str('EMQX edition (Opensource or Enterprise).'),
    podName: str('Name of the pod running the node.'),
    podUID: str('UID of the pod running the node.'),
    controllerUID: str('UID of the StatefulSet or ReplicaSet that owns the pod.'),
    connections: int64('Sessions on the node, including disconnected persistent ones.'),
    live_connections: int64('Connected clients on the node.'),
    uptime: int64('Node uptime in milliseconds.'),
  });
}

function nodesStatus(what: string): Schema {
  return obj(`Replica counts and revisions of the ${what}.`, {
    replicas: int32(`Desired ${what}.`),
    readyReplicas: int32(`Ready ${what}.`),
    currentRevision: str('Pod-template revision of the running nodes.'),
    currentReplicas: int32('Nodes at the current revision.'),
    updateRevision: str('Pod-template revision being rolled out.'),
    updateReplicas: int32('Nodes at the update revision.'),
    collisionCount: int32('Hash collisions met while naming revisions.'),
  });
}

function emqxStatus(): Schema {
  return obj('Observed state of the EMQX cluster, written by the operator.', {
    phase: str(
      'The most advanced lifecycle condition that holds (Initialized, CoreNodesProgressing, CoreNodesReady, ' +
        'ReplicantNodesProgressing, ReplicantNodesReady, Available, Ready), or Paused, or ForeignWorkloads ' +
        '(workloads this operator did not create were found: nothing is changed; see the Ready condition).',
    ),
    observedGeneration: int64('The metadata.generation this status describes.'),
    conditions: conditions(),
    coreNodes: arr('Core nodes of the cluster.', emqxNode(), { 'x-kubernetes-list-type': 'atomic' }),
    replicantNodes: arr('Replicant nodes of the cluster.', emqxNode(), {
      'x-kubernetes-list-type': 'atomic',
    }),
    coreNodesStatus: nodesStatus('core nodes'),
    replicantNodesStatus: nodesStatus('replicant nodes'),
    nodeEvacuationsStatus: arr(
      'Evacuations in progress.',
      obj('One node evacuation, as reported by the EMQX API.', {
        node: str('The node being evacuated.'),
        state: str('Evacuation state.'),
        session_recipients: stringList('Nodes receiving the sessions.'),
        session_goal: int64('Sessions to leave on the node.'),
        session_eviction_rate: int64('Sessions evicted per second.'),
        connection_goal: int64('Connections to leave on the node.'),
        connection_eviction_rate: int64('Connections evicted per second.'),
        stats: obj('Progress counters.', {
          initial_sessions: int64('Sessions when the evacuation started.'),
          current_sessions: int64('Sessions now.'),
          initial_connected: int64('Connections when the evacuation started.'),
          current_connected: int64('Connections now.'),
        }),
      }),
      { 'x-kubernetes-list-type': 'atomic' },
    ),
    cores: str('Ready and desired core nodes, as "ready/desired".'),
    replicants: str('Ready and desired replicant nodes, as "ready/desired".'),
    replicantReplicas: int32('Desired replicant nodes (the scale subresource status replicas).'),
    replicantSelector: str('Label selector of the replicant pods (the scale subresource label selector).'),
    durableStorage: obj(
      'Durable storage replication (EMQX /api/v5/ds), when durable sessions are on in spec.config.data.',
      {
        replicationFactor: int32('durable_storage.messages.replication_factor (EMQX default 3).'),
        sites: arr(
          'Durable storage sites (one per core node that ran with durable storage).',
          obj('One site.', {
            site: str('Site id (kept in the node data dir).'),
            node: str('EMQX node of the site.'),
            up: bool('The site is up.'),
            shards: int32('Shard replicas the site holds.'),
          }),
          { 'x-kubernetes-list-type': 'atomic' },
        ),
        shards: int32('Shards over every durable storage database.'),
        underReplicatedShards: int32('Shards with fewer replicas up than the replication factor.'),
        transitions: int32('Shards with a replica transition in progress.'),
      },
    ),
    update: obj(
      'Progress of a pod-template rollout, recorded so that it resumes after an operator restart.',
      {
        phase: str(
          'Idle, UpdatingCores, UpdatingReplicants, DrainingReplicants, DrainingCores or ScalingDownCores.',
        ),
        node: str('The node being drained, left or replaced.'),
        message: str('Human-readable details.'),
      },
    ),
    certificates: arr(
      'The certificates spec.tls names, as the operator last read them.',
      obj('One certificate (no key material).', {
        name: str('listeners or dashboard.'),
        secretName: str('The Secret it was read from.'),
        serial: str('Serial number of the leaf certificate, in hex.'),
        notAfter: str('End of validity, RFC 3339.', { format: 'date-time' }),
      }),
      { 'x-kubernetes-list-type': 'atomic' },
    ),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Roots
// ---------------------------------------------------------------------------------------------------------------

function root(
  kind: string,
  description: string,
  spec: Schema,
  status: Schema,
  rules: CelRule[] = [],
): Schema {
  return obj(
    description,
    {
      apiVersion: str(
        'APIVersion defines the versioned schema of this representation of an object. Servers should convert ' +
          'recognized schemas to the latest internal value, and may reject unrecognized values.',
      ),
      kind: str(`Kind is the REST resource kind: ${kind}.`),
      // The API server validates metadata itself; a CRD may not describe it beyond `type: object`.
      metadata: { type: 'object' },
      spec,
      status,
    },
    rules.length > 0 ? { required: ['spec'], 'x-kubernetes-validations': rules } : { required: ['spec'] },
  );
}

/** EMQX apps.emqx.io/v2beta1 (the storage version). */
export function emqxV2beta1Schema(): Schema {
  return root(
    'EMQX',
    'EMQX is an EMQX 5 cluster: core nodes in a StatefulSet and optional replicant nodes in ReplicaSets.',
    obj(
      'Desired state of the EMQX cluster.',
      {
        image: str('EMQX image, e.g. emqx/emqx:5.8.3 or emqx/emqx-enterprise:5.10.0.', { minLength: 1 }),
        imagePullPolicy: imagePullPolicy(),
        imagePullSecrets: imagePullSecrets(),
        serviceAccountName: str(
          'ServiceAccount of the EMQX pods. Default: one created by the operator with the permissions EMQX needs ' +
            'for cluster discovery.',
        ),
        bootstrapAPIKeys: bootstrapAPIKeys(),
        config: configSchema(),
        clusterDomain: str(
          'DNS domain of the Kubernetes cluster, used in core node names. Default cluster.local.',
          {
            pattern: PATTERN_DNS_NAME,
            maxLength: 253,
            default: DEFAULT_CLUSTER_DOMAIN,
          },
        ),
        revisionHistoryLimit: int32(
          'How many superseded StatefulSets and ReplicaSets (and their PVCs) to keep. Default 3.',
          { minimum: 0, default: DEFAULT_REVISION_HISTORY_LIMIT },
        ),
        updateStrategy: updateStrategy(),
        coreTemplate: coreTemplate(),
        replicantTemplate: replicantTemplate(),
        dashboardServiceTemplate: serviceTemplate('dashboard', true),
        listenersServiceTemplate: serviceTemplate('listeners', true),
        tls: tlsSchema(),
      },
      { required: ['image'] },
    ),
    emqxStatus(),
    [RULE_EMQX_NAME],
  );
}

/** Fields of a template `spec` the early v2alpha1 shape has; the released shape has every v2beta1 one. */
export const EARLY_TEMPLATE_SPEC_FIELDS = ['replicas', 'nodeSelector', 'affinity', 'tolerations'];
/** Fields of `spec` only the released v2alpha1 shape has (besides the pod fields of the templates). */
export const RELEASED_ONLY_SPEC_FIELDS = [
  'image',
  'imagePullPolicy',
  'imagePullSecrets',
  'serviceAccountName',
  'bootstrapAPIKeys',
  'bootstrapConfig',
  'config',
  'clusterDomain',
  'revisionHistoryLimit',
  'updateStrategy',
];
const RELEASED_ONLY_SERVICE_FIELDS = ['enabled', 'apiVersion', 'kind'];

/** Every `has(...)` path, relative to spec, that the early shape (spec.emqxTemplate) leaves out. */
function releasedOnlyPaths(): string[][] {
  const paths: string[][] = RELEASED_ONLY_SPEC_FIELDS.map((f) => [f]);
  for (const role of ['coreTemplate', 'replicantTemplate']) {
    const fields = Object.keys(
      role === 'coreTemplate' ? coreTemplateSpecProperties() : replicaTemplateSpecProperties('replicant'),
    );
    for (const f of fields) if (!EARLY_TEMPLATE_SPEC_FIELDS.includes(f)) paths.push([role, 'spec', f]);
  }
  for (const svc of ['dashboardServiceTemplate', 'listenersServiceTemplate'])
    for (const f of RELEASED_ONLY_SERVICE_FIELDS) paths.push([svc, f]);
  return paths;
}

/** CEL: the field at `path` (relative to self) is set. Parents are tested first, as CEL's has() requires. */
function celHas(path: string[]): string {
  const parts: string[] = [];
  for (let i = 1; i <= path.length; i++) parts.push(`has(self.${path.slice(0, i).join('.')})`);
  return parts.length === 1 ? parts[0] : `(${parts.join(' && ')})`;
}

function tsHas(root: unknown, path: string[]): boolean {
  let node = root;
  for (const key of path.slice(0, -1)) {
    if (!isObj(node)) return false;
    node = node[key];
  }
  return has(node, path[path.length - 1]);
}

/**
 * v2alpha1 comes in two shapes (see ./conversion.ts): the released one, keyed by spec.image, and the early one, keyed
 * by spec.emqxTemplate. One resource uses one of them: the early conversion would drop a released field silently.
 */
export const RULE_V2ALPHA1_SHAPE: CelRule = (() => {
  const released = releasedOnlyPaths();
  return {
    rule:
      'has(self.emqxTemplate) ? !(' +
      released.map(celHas).join(' || ') +
      ') : (has(self.image) && !has(self.persistent))',
    message:
      'v2alpha1 has two shapes; use one. Released (the Go operator 2.x): spec.image, spec.bootstrapConfig, pod ' +
      'fields under coreTemplate.spec / replicantTemplate.spec and coreTemplate.spec.volumeClaimTemplates. Early: ' +
      'spec.emqxTemplate (image, bootstrapConfig and pod fields), spec.persistent, and only replicas, nodeSelector, ' +
      'affinity and tolerations in the templates. Set spec.image or spec.emqxTemplate, not both, with fields of that ' +
      'shape only (or better, move to apps.emqx.io/v2beta1)',
    check: (self) =>
      isObj(self) && has(self, 'emqxTemplate')
        ? !released.some((p) => tsHas(self, p))
        : has(self, 'image') && !has(self, 'persistent'),
  };
})();

/** A copy of `schema` without any `default:` (for subtrees of this project's own, not embedded Kubernetes types). */
function withoutDefaults(schema: Schema): Schema {
  const out: Schema = { ...schema };
  delete out.default;
  if (schema.properties)
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([k, v]) => [k, withoutDefaults(v)]),
    );
  return out;
}

/**
 * The v2beta1 spec fields for the released v2alpha1 shape, without v2beta1's own scalar defaults: the API server
 * would apply them to early-shape objects too, which RULE_V2ALPHA1_SHAPE then refuses. (v2beta1 reads get them.)
 */
function releasedSpecProperties(): Record<string, Schema> {
  const props = emqxV2beta1Schema().properties!.spec!.properties!;
  props.clusterDomain = withoutDefaults(props.clusterDomain!);
  props.revisionHistoryLimit = withoutDefaults(props.revisionHistoryLimit!);
  props.updateStrategy = withoutDefaults(props.updateStrategy!);
  const core = props.coreTemplate!.properties!.spec!.properties!;
  core.dataVolume = withoutDefaults(core.dataVolume!);
  core.persistentVolumeClaimRetentionPolicy = withoutDefaults(core.persistentVolumeClaimRetentionPolicy!);
  for (const svc of ['dashboardServiceTemplate', 'listenersServiceTemplate'] as const) {
    const t = props[svc]!.properties!;
    t.enabled = withoutDefaults(t.enabled!);
  }
  return props;
}

/** EMQX apps.emqx.io/v2alpha1 (deprecated; converted to v2beta1 by ./conversion.ts). */
export function emqxV2alpha1Schema(): Schema {
  const released = releasedSpecProperties();
  // Released v2alpha1 replicas default to 3 (applied by the conversion).
  for (const role of ['coreTemplate', 'replicantTemplate'] as const) {
    const replicas = released[role]!.properties!.spec!.properties!.replicas!;
    replicas.description =
      `Number of ${role === 'coreTemplate' ? 'core' : 'replicant'} nodes. Default 3 (v2beta1: 2).` +
      (role === 'coreTemplate'
        ? ' At least 1.'
        : ' 0: no replicants; a replicantTemplate without spec: none.');
  }
  released.config = obj('EMQX configuration (v2beta1 field). The configuration itself is bootstrapConfig.', {
    mode: str('How bootstrapConfig is applied to a running cluster: Merge (default) or Replace.', {
      enum: ['Merge', 'Replace'],
    }),
  });
  for (const svc of ['dashboardServiceTemplate', 'listenersServiceTemplate'] as const) {
    const props = released[svc]!.properties!;
    props.apiVersion = str(
      'Accepted for compatibility (the released template is a whole Service) and ignored.',
    );
    props.kind = str('Accepted for compatibility (the released template is a whole Service) and ignored.');
  }
  return root(
    'EMQX',
    'EMQX (v2alpha1, deprecated: use apps.emqx.io/v2beta1) is an EMQX 5 cluster of core and replicant nodes. It ' +
      'takes the shape the Go operator released (spec.image, pod fields in the templates) and the early one ' +
      '(spec.emqxTemplate).',
    obj(
      'Desired state of the EMQX cluster: the released shape (spec.image) or the early one (spec.emqxTemplate).',
      {
        ...released,
        image: str('EMQX image (released shape).', { minLength: 1 }),
        bootstrapConfig: str(
          `EMQX configuration in HOCON (released shape; v2beta1: spec.config.data). At most ${MAX_CONFIG_DATA_LENGTH} characters.`,
          { maxLength: MAX_CONFIG_DATA_LENGTH },
        ),
        emqxTemplate: obj(
          'Settings shared by core and replicant nodes (early shape).',
          {
            image: str('EMQX image.', { minLength: 1 }),
            imagePullPolicy: imagePullPolicy(),
            imagePullSecrets: imagePullSecrets(),
            bootstrapConfig: str(
              `EMQX configuration in HOCON (v2beta1: spec.config.data). At most ${MAX_CONFIG_DATA_LENGTH} characters.`,
              { maxLength: MAX_CONFIG_DATA_LENGTH },
            ),
            bootstrapAPIKeys: bootstrapAPIKeys(),
            env: env('Extra environment variables of the EMQX container.'),
            args: stringList('Arguments of the EMQX container.'),
            resources: k8s(
              'ResourceRequirements',
              'CPU and memory requests and limits of the EMQX container.',
            ),
            securityContext: k8s('PodSecurityContext', 'Pod security context of the EMQX pods.'),
            extraVolumes: volumes('Extra volumes of the EMQX pods.'),
            extraVolumeMounts: volumeMounts('Extra volume mounts of the EMQX container.'),
            readinessProbe: k8s('Probe', 'Readiness probe of the EMQX container.'),
            livenessProbe: k8s('Probe', 'Liveness probe of the EMQX container.'),
            startupProbe: k8s('Probe', 'Startup probe of the EMQX container.'),
          },
          { required: ['image'] },
        ),
        persistent: k8s(
          'PersistentVolumeClaimSpec',
          "PersistentVolumeClaim spec of the core nodes' data (early shape). Absent: core data is kept in an emptyDir.",
        ),
      },
      { 'x-kubernetes-validations': [RULE_V2ALPHA1_SHAPE] },
    ),
    {
      type: 'object',
      description: 'Observed state, as written by the operator (the v2beta1 status, unchanged).',
      'x-kubernetes-preserve-unknown-fields': true,
    },
    [RULE_EMQX_NAME],
  );
}

/** Rebalance apps.emqx.io/v2beta1. */
export function rebalanceV2beta1Schema(): Schema {
  const d = DEFAULT_REBALANCE_STRATEGY;
  return root(
    'Rebalance',
    'Rebalance moves client connections and sessions from busy to idle nodes of an EMQX Enterprise cluster, once.',
    obj(
      'What to rebalance and how fast. Immutable.',
      {
        instanceKind: str(
          'Kind of the cluster resource: EMQX (the default; an empty value means the same).',
          {
            default: 'EMQX',
            maxLength: 32,
            'x-kubernetes-validations': [RULE_REBALANCE_INSTANCE_KIND],
          },
        ),
        instanceName: str('Name of the EMQX resource, in the same namespace.', {
          minLength: 1,
          maxLength: 253,
        }),
        rebalanceStrategy: obj(
          'Eviction rates and the thresholds that decide whether the cluster is balanced.',
          {
            connEvictRate: int32('Connections evicted per second from each donor node. At least 1.', {
              minimum: 1,
            }),
            sessEvictRate: int32('Sessions evicted per second from each donor node. Default 500.', {
              minimum: 1,
              default: d.sessEvictRate,
            }),
            waitTakeover: int32('Seconds to wait for clients to take over sessions. Default 60.', {
              minimum: 0,
              default: d.waitTakeover,
            }),
            waitHealthCheck: int32('Seconds to wait for load balancers to notice the donors. Default 60.', {
              minimum: 0,
              default: d.waitHealthCheck,
            }),
            absConnThreshold: int32(
              'Absolute connection difference under which nodes count as balanced. Default 1000.',
              {
                minimum: 0,
                default: d.absConnThreshold,
              },
            ),
            relConnThreshold: str(
              'Relative connection threshold, a decimal written as a string. Default "1.1".',
              {
                pattern: PATTERN_DECIMAL,
                maxLength: 32,
                default: d.relConnThreshold,
              },
            ),
            absSessThreshold: int32(
              'Absolute session difference under which nodes count as balanced. Default 1000.',
              {
                minimum: 0,
                default: d.absSessThreshold,
              },
            ),
            relSessThreshold: str(
              'Relative session threshold, a decimal written as a string. Default "1.1".',
              {
                pattern: PATTERN_DECIMAL,
                maxLength: 32,
                default: d.relSessThreshold,
              },
            ),
          },
          { required: ['connEvictRate'] },
        ),
      },
      {
        required: ['instanceName', 'rebalanceStrategy'],
        'x-kubernetes-validations': [RULE_REBALANCE_IMMUTABLE],
      },
    ),
    obj('Progress of the rebalance, written by the operator.', {
      phase: str('Processing, Completed or Failed.', { enum: ['Processing', 'Completed', 'Failed'] }),
      conditions: conditions(true),
      rebalanceStates: arr(
        'Rebalance state per coordinator, as reported by the EMQX API.',
        obj('One rebalance as reported by the EMQX API.', {
          state: str('Rebalance state.'),
          node: str('Node reporting the state.'),
          coordinator_node: str('Node coordinating the rebalance.'),
          donors: stringList('Nodes connections are taken from.'),
          recipients: stringList('Nodes connections are moved to.'),
          connection_eviction_rate: int64('Connections evicted per second.'),
          session_eviction_rate: int64('Sessions evicted per second.'),
        }),
        { 'x-kubernetes-list-type': 'atomic' },
      ),
      startedTime: str('When the rebalance started.', { format: 'date-time' }),
      completedTime: str('When the rebalance finished.', { format: 'date-time' }),
      observedGeneration: int64('The metadata.generation this status describes.'),
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Utilities
// ---------------------------------------------------------------------------------------------------------------

/** A CRD-ready copy of a schema: CEL rules without their TypeScript checks. */
export function toCrdSchema(schema: Schema): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(schema)) {
    if (v === undefined) continue;
    if (k === 'properties') {
      const props: Obj = {};
      for (const [pk, pv] of Object.entries(v as Record<string, Schema>)) props[pk] = toCrdSchema(pv);
      out[k] = props;
    } else if (k === 'items' || (k === 'additionalProperties' && typeof v === 'object')) {
      out[k] = toCrdSchema(v as Schema);
    } else if (k === 'x-kubernetes-validations') {
      out[k] = (v as CelRule[]).map((r) => {
        const rule: Obj = { rule: r.rule, message: r.message };
        if (r.fieldPath !== undefined) rule.fieldPath = r.fieldPath;
        if (r.reason !== undefined) rule.reason = r.reason;
        if (r.optionalOldSelf) rule.optionalOldSelf = true;
        return rule;
      });
    } else {
      out[k] = structuredClone(v);
    }
  }
  return out;
}

/** Every node of a schema with its path (`spec.coreTemplate.spec`, `[]` for list items, `{}` for map values). */
export function* walkSchema(schema: Schema, path = ''): Generator<{ path: string; schema: Schema }> {
  yield { path, schema };
  for (const [k, v] of Object.entries(schema.properties ?? {}))
    yield* walkSchema(v, path ? `${path}.${k}` : k);
  if (schema.items) yield* walkSchema(schema.items, `${path}[]`);
  if (typeof schema.additionalProperties === 'object')
    yield* walkSchema(schema.additionalProperties, `${path}{}`);
}

/** True when a CEL rule compares against oldSelf (a transition rule, checked on updates only). */
export function isTransitionRule(rule: CelRule): boolean {
  return /\boldSelf\b/.test(rule.rule);
}
