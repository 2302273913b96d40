// A corpus of malformed EMQX resources (issue 11): each entry is a base resource with one thing wrong and the exact
// outcome the operator must give it:
//  - `admission`: refused when the resource is created (the CRD schema and CEL rules; `render` and the operator
//    apply the same validation), naming the field;
//  - `config`: admitted, then refused when spec.config.data is read: `render` prints
//    `spec.config.data: <message>` and the running operator sets ConfigApplied=False (InvalidConfig) with the same
//    text on that resource alone, writing nothing from it.
// Used by src/cli/commands/render-corpus.test.ts (every entry, in-process) and test/corpus.test.ts (the running
// operator, beside a healthy cluster).

import { objectBomb, stringBomb } from './hocon-bombs.ts';

export interface CorpusEntry {
  name: string;
  /** Merged over the base spec (objects merge, anything else replaces). */
  spec?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  outcome: 'admission' | 'config';
  /** admission: the field path; config: unused. */
  path?: string;
  /** The exact message (admission: after `path: `; config: after `spec.config.data: `). */
  message: string;
}

const cfg = (data: string) => ({ config: { data } });

const NOT_A_PORT = 'is not a port: write a port 1-65535 or "0.0.0.0:PORT"';
const SECRET_HINT =
  'a secret in spec.config.data would be stored in plaintext in a ConfigMap: set it through the EMQX dashboard ' +
  'or REST API once the cluster runs, or, where EMQX accepts a file for this field, mount a Secret (extraVolumes ' +
  '/ extraVolumeMounts) and write "file:///path/to/it"';
const OWNED = 'is set by the operator and cannot be changed:';

export const CORPUS: CorpusEntry[] = [
  // ---- refused at admission (schema, CEL)
  {
    name: 'core-replicas-0',
    spec: { coreTemplate: { spec: { replicas: 0 } } },
    outcome: 'admission',
    path: 'spec.coreTemplate.spec.replicas',
    message: 'must be >= 1',
  },
  {
    name: 'core-replicas-max-int',
    spec: { coreTemplate: { spec: { replicas: 2147483647 } } },
    outcome: 'admission',
    path: 'spec.coreTemplate.spec.replicas',
    message: 'must be <= 32',
  },
  {
    name: 'replicant-replicas-negative',
    spec: { replicantTemplate: { spec: { replicas: -1 } } },
    outcome: 'admission',
    path: 'spec.replicantTemplate.spec.replicas',
    message: 'must be >= 0',
  },
  {
    name: 'replicant-replicas-huge',
    spec: { replicantTemplate: { spec: { replicas: 100000 } } },
    outcome: 'admission',
    path: 'spec.replicantTemplate.spec.replicas',
    message: 'must be <= 1024',
  },
  {
    name: 'replicas-string',
    spec: { coreTemplate: { spec: { replicas: '2' } } },
    outcome: 'admission',
    path: 'spec.coreTemplate.spec.replicas',
    message: 'must be an integer, not string',
  },
  {
    name: 'config-too-long',
    spec: cfg(`# ${'x'.repeat(256 * 1024)}`),
    outcome: 'admission',
    path: 'spec.config.data',
    message: 'must be at most 262144 characters',
  },
  {
    name: 'cookie-env-core',
    spec: { coreTemplate: { spec: { env: [{ name: 'EMQX_NODE__COOKIE', value: 'x' }] } } },
    outcome: 'admission',
    path: 'spec.coreTemplate.spec.env',
    message:
      'EMQX_NODE__COOKIE cannot be set here: every node takes the cookie from the cookie Secret (set node.cookie in spec.config.data to choose it)',
  },
  {
    name: 'cookie-env-replicant',
    spec: { replicantTemplate: { spec: { env: [{ name: 'EMQX_NODE__COOKIE', value: 'x' }] } } },
    outcome: 'admission',
    path: 'spec.replicantTemplate.spec.env',
    message:
      'EMQX_NODE__COOKIE cannot be set here: every node takes the cookie from the cookie Secret (set node.cookie in spec.config.data to choose it)',
  },
  {
    name: 'pdb-both',
    spec: { coreTemplate: { spec: { minAvailable: 1, maxUnavailable: 1 } } },
    outcome: 'admission',
    path: 'spec.coreTemplate.spec.maxUnavailable',
    message: 'minAvailable and maxUnavailable are mutually exclusive: set at most one',
  },
  {
    name: 'typo-field',
    spec: { coreTemplat: { spec: { replicas: 2 } } },
    outcome: 'admission',
    path: 'spec.coreTemplat',
    message: 'unknown field, did you mean coreTemplate?',
  },
  {
    name: 'empty-image',
    spec: { image: '' },
    outcome: 'admission',
    path: 'spec.image',
    message: 'must not be empty',
  },
  {
    name: 'config-mode',
    spec: { config: { mode: 'Patch' } },
    outcome: 'admission',
    path: 'spec.config.mode',
    message: 'must be one of "Merge", "Replace", not "Patch"',
  },
  {
    name: 'data-volume-hostpath',
    spec: { coreTemplate: { spec: { dataVolume: 'HostPath' } } },
    outcome: 'admission',
    path: 'spec.coreTemplate.spec.dataVolume',
    message: 'must be one of "PersistentVolumeClaim", "EmptyDir", not "HostPath"',
  },
  {
    name: 'api-key-secret-short',
    spec: { bootstrapAPIKeys: [{ key: 'k1', secret: 'ab' }] },
    outcome: 'admission',
    path: 'spec.bootstrapAPIKeys[0].secret',
    message: 'must be at least 3 characters',
  },
  {
    name: 'api-key-both-sources',
    spec: {
      bootstrapAPIKeys: [
        {
          key: 'k1',
          secret: 'abc',
          secretRef: {
            key: { secretName: 's', secretKey: 'k' },
            secret: { secretName: 's', secretKey: 'v' },
          },
        },
      ],
    },
    outcome: 'admission',
    path: 'spec.bootstrapAPIKeys[0]',
    message: 'set either key and secret, or secretRef (not both)',
  },
  {
    name: 'api-key-duplicate',
    spec: {
      bootstrapAPIKeys: [
        { key: 'k1', secret: 'abc' },
        { key: 'k1', secret: 'def' },
      ],
    },
    outcome: 'admission',
    path: 'spec.bootstrapAPIKeys',
    message: 'bootstrap API key names must be unique',
  },
  {
    name: 'replicant-data-volume',
    spec: { replicantTemplate: { spec: { dataVolume: 'EmptyDir' } } },
    outcome: 'admission',
    path: 'spec.replicantTemplate.spec.dataVolume',
    message: 'unknown field: replicants keep no data; dataVolume exists only in coreTemplate.spec',
  },
  {
    name: 'long-name',
    metadata: { name: 'a'.repeat(37) },
    outcome: 'admission',
    path: 'metadata.name',
    message:
      'must be at most 36 characters of lowercase letters, digits and "-", start with a letter and end with a letter or digit: it prefixes the blue-green core StatefulSets (<name>-core-<hash>, at most 52 characters so that the pod label controller-revision-hash fits 63) and the replicant ReplicaSets (<name>-replicant-<hash>, at most 57 so that their pod names keep it whole within 63)',
  },

  // ---- HOCON that does not parse (a line and column, never the text of a secret)
  {
    name: 'unclosed-brace',
    spec: cfg('listeners.tcp.extra {\n  bind = 11883\n'),
    outcome: 'config',
    message: "line 3, column 1: '{' opened at line 1, column 21 is never closed",
  },
  {
    name: 'unquoted-address',
    spec: cfg('listeners.tcp.default.bind = 0.0.0.0:1883'),
    outcome: 'config',
    message: 'line 1, column 37: unexpected \':\' (quote values such as "0.0.0.0:1883")',
  },
  {
    name: 'cookie-plus',
    spec: cfg('node.cookie = abc+SECRET'),
    outcome: 'config',
    message:
      "line 1, column 18: unexpected '+' in the value of node.cookie (quote the value; it is not shown here)",
  },
  {
    name: 'license-plus',
    spec: cfg('license { key = abc+SECRETPART }'),
    outcome: 'config',
    message:
      "line 1, column 20: unexpected '+' in the value of license.key (quote the value; it is not shown here)",
  },
  {
    name: 'cookie-colon',
    spec: cfg('node.cookie = abc:SECRET'),
    outcome: 'config',
    message:
      "line 1, column 18: unexpected ':' in the value of node.cookie (quote the value; it is not shown here)",
  },
  {
    name: 'double-comma',
    spec: cfg('mqtt { max_qos_allowed = 1,, retain_available = true }'),
    outcome: 'config',
    message: "line 1, column 28: unexpected ',' (expected a key)",
  },
  {
    name: 'keyword-key',
    spec: cfg('true = 1'),
    outcome: 'config',
    message: 'line 1, column 1: \'true\' cannot be a key unless quoted ("true")',
  },
  {
    name: 'unresolved-substitution',
    spec: cfg('mqtt.max_packet_size = ${MAX_PACKET}'),
    outcome: 'config',
    message:
      'line 1, column 24: unresolved substitution ${MAX_PACKET}: no such key in the config (substitutions refer to config paths, never to environment variables; use ${?…} to make it optional)',
  },
  {
    name: 'optional-env-substitution',
    spec: cfg('mqtt.max_packet_size = ${?MAX_PACKET}'),
    outcome: 'config',
    message:
      "line 1, column 24: unresolved substitution ${?MAX_PACKET}: no such key in the config, so it would silently remove the field (substitutions refer to config paths, never to environment variables; set EMQX_* variables in the pod template's env instead)",
  },
  {
    name: 'substitution-cycle',
    spec: cfg('a = ${b}\nb = ${a}'),
    outcome: 'config',
    message: 'line 2, column 5: substitution cycle: ${a} refers to itself',
  },
  {
    name: 'object-bomb-20',
    spec: cfg(objectBomb(20)),
    outcome: 'config',
    message:
      'line 17, column 7: the config expands to more than 2097152 bytes once substitutions are resolved (each ${…} copies its target); use fewer or smaller substitutions',
  },
  {
    name: 'object-bomb-40',
    spec: cfg(objectBomb(40)),
    outcome: 'config',
    message:
      'line 17, column 7: the config expands to more than 2097152 bytes once substitutions are resolved (each ${…} copies its target); use fewer or smaller substitutions',
  },
  {
    name: 'string-bomb',
    spec: cfg(stringBomb(40)),
    outcome: 'config',
    message:
      'line 18, column 7: the config expands to more than 2097152 bytes once substitutions are resolved (each ${…} copies its target); use fewer or smaller substitutions',
  },
  {
    name: 'deep-nesting',
    spec: cfg(`a = ${'{b = '.repeat(2000)}1${'}'.repeat(2000)}`),
    outcome: 'config',
    message: 'line 1, column 321: the key path nests deeper than 64 levels',
  },
  {
    // a top-level include is passed on to EMQX (as the Go operator does); one inside an object cannot be
    name: 'include-nested',
    spec: cfg('authn { include "/etc/emqx/extra.conf" }'),
    outcome: 'config',
    message:
      'line 1, column 9: include "/etc/emqx/extra.conf": only top-level includes are passed on to EMQX; move this one out of authn (keys written in config.data win over those of included files)',
  },
  {
    name: 'unterminated-string',
    spec: cfg('log.console.level = "debug'),
    outcome: 'config',
    message: "line 1, column 21: unterminated string (missing closing '\"')",
  },
  {
    name: 'missing-value',
    spec: cfg('mqtt.max_qos_allowed ='),
    outcome: 'config',
    message: "line 1, column 23: expected a value for key 'mqtt.max_qos_allowed', found end of input",
  },

  // ---- parses, but the operator would get it wrong: refused naming the config path
  {
    name: 'dashboard-bind-0',
    spec: cfg('dashboard.listeners.http.bind = 0'),
    outcome: 'config',
    message: `dashboard.listeners.http.bind: 0 ${NOT_A_PORT} (0 would disable the listener the operator needs)`,
  },
  {
    name: 'dashboard-bind-99999',
    spec: cfg('dashboard.listeners.http.bind = 99999'),
    outcome: 'config',
    message: `dashboard.listeners.http.bind: 99999 ${NOT_A_PORT} (0 would disable the listener the operator needs)`,
  },
  {
    name: 'dashboard-bind-abc',
    spec: cfg('dashboard.listeners.http.bind = "abc"'),
    outcome: 'config',
    message: `dashboard.listeners.http.bind: "abc" ${NOT_A_PORT} (0 would disable the listener the operator needs)`,
  },
  {
    name: 'dashboard-on-mqtt-port',
    spec: cfg('dashboard.listeners.http.bind = 1883'),
    outcome: 'config',
    message:
      'dashboard.listeners.http.bind: port 1883 is already used by listeners.tcp.default; give each listener its own port',
  },
  {
    name: 'dashboard-loopback',
    spec: cfg('dashboard.listeners.http.bind = "127.0.0.1:18083"'),
    outcome: 'config',
    message:
      'dashboard.listeners.http.bind: "127.0.0.1:18083" listens on one address only: the operator and the probes reach the node at its pod IP; write 18083 or "0.0.0.0:18083"',
  },
  {
    // without spec.tls.dashboard the operator has no CA to verify the https dashboard with (with it: accepted,
    // see test/tls.test.ts and src/emqx/config-check.test.ts)
    name: 'dashboard-https-only-without-tls',
    spec: cfg('dashboard.listeners { http.enable = false, https.bind = 18443 }'),
    outcome: 'config',
    message:
      "dashboard.listeners.http.enable: the dashboard HTTP listener may be turned off only when spec.tls.dashboard is set: the operator calls the EMQX API over https only when it can verify the dashboard certificate against that Secret's CA (set spec.tls.dashboard, or keep the HTTP listener enabled)",
  },
  {
    name: 'dashboard-https-bad-port',
    spec: cfg('dashboard.listeners.https.bind = 70000'),
    outcome: 'config',
    message: `dashboard.listeners.https.bind: 70000 ${NOT_A_PORT} (or set enable = false)`,
  },
  {
    name: 'listener-port-70000',
    spec: cfg('listeners.tcp.default.bind = 70000'),
    outcome: 'config',
    message: `listeners.tcp.default.bind: 70000 ${NOT_A_PORT} (or set enable = false)`,
  },
  {
    name: 'listener-port-text',
    spec: cfg('listeners.ws.default.bind = "x:y"'),
    outcome: 'config',
    message: `listeners.ws.default.bind: "x:y" ${NOT_A_PORT} (or set enable = false)`,
  },
  {
    name: 'listener-same-port',
    spec: cfg('listeners.tcp { a.bind = 11883, b.bind = 11883 }'),
    outcome: 'config',
    message:
      'listeners.tcp.b.bind: port 11883 is already used by listeners.tcp.a; give each listener its own port',
  },
  {
    name: 'listener-on-ssl-port',
    spec: cfg('listeners.tcp.extra.bind = 8883'),
    outcome: 'config',
    message:
      'listeners.tcp.extra.bind: port 8883 is already used by listeners.ssl.default; give each listener its own port',
  },
  {
    name: 'gateway-port-0',
    spec: cfg('gateway.coap.listeners.udp.default.bind = 0'),
    outcome: 'config',
    message: `gateway.coap.listeners.udp.default.bind: 0 ${NOT_A_PORT} (or set enable = false)`,
  },
  {
    name: 'cookie-number',
    spec: cfg('node.cookie = 12345'),
    outcome: 'config',
    message: 'node.cookie (value not shown): must be a non-empty quoted string (e.g. "…")',
  },
  {
    name: 'cookie-empty',
    spec: cfg('node.cookie = ""'),
    outcome: 'config',
    message: 'node.cookie (value not shown): must be a non-empty quoted string (e.g. "…")',
  },
  {
    name: 'license-key-number',
    spec: cfg('license.key = 12345'),
    outcome: 'config',
    message: 'license.key (value not shown): must be a non-empty quoted string (e.g. "…")',
  },
  {
    name: 'discovery-static',
    spec: cfg('cluster.discovery_strategy = static'),
    outcome: 'config',
    message:
      'cluster.discovery_strategy: "static" is not supported: the operator forms the cluster with dns (the default) or k8s',
  },
  {
    name: 'discovery-etcd',
    spec: cfg('cluster.discovery_strategy = etcd'),
    outcome: 'config',
    message:
      'cluster.discovery_strategy: "etcd" is not supported: the operator forms the cluster with dns (the default) or k8s',
  },
  {
    name: 'node-data-dir',
    spec: cfg('node.data_dir = "/var/lib/emqx"'),
    outcome: 'config',
    message: `node.data_dir: ${OWNED} the operator mounts the data volume at data (EMQX_NODE__DATA_DIR)`,
  },
  {
    name: 'node-role',
    spec: cfg('node.role = replicant'),
    outcome: 'config',
    message: `node.role: ${OWNED} the role follows coreTemplate / replicantTemplate (EMQX_NODE__ROLE)`,
  },
  {
    name: 'node-name',
    spec: cfg('node.name = "emqx@127.0.0.1"'),
    outcome: 'config',
    message: `node.name: ${OWNED} the operator names each node after its pod (EMQX_HOST)`,
  },
  {
    name: 'bootstrap-file',
    spec: cfg('api_key.bootstrap_file = "/tmp/keys"'),
    outcome: 'config',
    message: `api_key.bootstrap_file (value not shown): ${OWNED} the operator mounts its own bootstrap file; add keys with spec.bootstrapAPIKeys`,
  },
  {
    name: 'dns-name',
    spec: cfg('cluster.dns.name = "other.example"'),
    outcome: 'config',
    message: `cluster.dns.name: ${OWNED} the operator points DNS discovery at its headless Service`,
  },
  {
    name: 'k8s-service-name',
    spec: cfg('cluster { discovery_strategy = k8s, k8s.service_name = other }'),
    outcome: 'config',
    message: `cluster.k8s.service_name: ${OWNED} the operator sets k8s discovery to its own headless Service`,
  },
  {
    name: 'license-string',
    spec: cfg('license = "SECRETLICENSE"'),
    outcome: 'config',
    message:
      'license (value not shown): must be an object: write license { key = "…" } (the operator moves license.key into a Secret)',
  },
  {
    name: 'licence-spelling',
    spec: cfg('licence { key = "SECRETLICENSE" }'),
    outcome: 'config',
    message:
      'licence (value not shown): EMQX has no "licence" setting (did you mean license?); its value would be stored in plaintext in a ConfigMap',
  },
  {
    name: 'authn-mysql-password',
    spec: cfg('authentication = [{mechanism = password_based, backend = mysql, password = "SECRETPW"}]'),
    outcome: 'config',
    message: `authentication[0].password (value not shown): ${SECRET_HINT}`,
  },
  {
    name: 'authz-redis-password',
    spec: cfg('authorization.sources = [{type = redis, password = "SECRETPW"}]'),
    outcome: 'config',
    message: `authorization.sources[0].password (value not shown): ${SECRET_HINT}`,
  },
  {
    name: 'authn-postgres-password',
    spec: cfg('authentication = [{mechanism = password_based, backend = postgresql, password = "SECRETPW"}]'),
    outcome: 'config',
    message: `authentication[0].password (value not shown): ${SECRET_HINT}`,
  },
  {
    name: 'dashboard-default-password',
    spec: cfg('dashboard.default_password = "SECRETPW"'),
    outcome: 'config',
    message:
      'dashboard.default_password (value not shown): a secret in spec.config.data would be stored in plaintext in a ConfigMap: set EMQX_DASHBOARD__DEFAULT_PASSWORD in coreTemplate.spec.env and replicantTemplate.spec.env with valueFrom.secretKeyRef',
  },
  {
    name: 'jwt-secret',
    spec: cfg(
      'authentication = [{mechanism = jwt, use_jwks = false, algorithm = "hmac-based", secret = "SECRETJWT"}]',
    ),
    outcome: 'config',
    message: `authentication[0].secret (value not shown): ${SECRET_HINT}`,
  },
];

/** A full EMQX object for `entry` (v2beta1), named after it. */
export function corpusResource(entry: CorpusEntry, namespace: string): Record<string, unknown> {
  const base: Record<string, unknown> = { image: 'emqx/emqx:5.8.3' };
  const spec = merge(base, entry.spec ?? {});
  return {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: entry.name, namespace, ...entry.metadata },
    spec,
  };
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const old = out[k];
    out[k] =
      typeof old === 'object' &&
      old !== null &&
      !Array.isArray(old) &&
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v)
        ? merge(old as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
