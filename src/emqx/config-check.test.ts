import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HoconError } from '../hocon/index.ts';
import { ConfigFieldError } from './config-check.ts';
import { parseEmqxConfig } from './config.ts';

/** The message parseEmqxConfig throws for `data`, or 'ok'. */
function outcome(data: string, checks: { dashboardTls?: boolean } = {}): string {
  try {
    parseEmqxConfig(data, checks);
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof HoconError, String(e));
    return e.message;
  }
}

test('accepted but wrong configs are refused, naming the field and what to write', () => {
  const cases: Array<[string, string]> = [
    [
      'dashboard.listeners.http.bind = 0',
      'dashboard.listeners.http.bind: 0 is not a port: write a port 1-65535 or "0.0.0.0:PORT" (0 would disable the listener the operator needs)',
    ],
    [
      'dashboard.listeners.http.bind = 99999',
      'dashboard.listeners.http.bind: 99999 is not a port: write a port 1-65535 or "0.0.0.0:PORT" (0 would disable the listener the operator needs)',
    ],
    [
      'dashboard.listeners.http.bind = "abc"',
      'dashboard.listeners.http.bind: "abc" is not a port: write a port 1-65535 or "0.0.0.0:PORT" (0 would disable the listener the operator needs)',
    ],
    [
      'dashboard.listeners.http.bind = 1883',
      'dashboard.listeners.http.bind: port 1883 is already used by listeners.tcp.default; give each listener its own port',
    ],
    [
      'dashboard.listeners.http.bind = "127.0.0.1:18083"',
      'dashboard.listeners.http.bind: "127.0.0.1:18083" listens on one address only: the operator and the probes reach the node at its pod IP; write 18083 or "0.0.0.0:18083"',
    ],
    [
      'dashboard.listeners { http.enable = false, https.bind = 18443 }',
      "dashboard.listeners.http.enable: the dashboard HTTP listener may be turned off only when spec.tls.dashboard is set: the operator calls the EMQX API over https only when it can verify the dashboard certificate against that Secret's CA (set spec.tls.dashboard, or keep the HTTP listener enabled)",
    ],
    [
      'dashboard.listeners.http.enable = false',
      'dashboard.listeners.http.enable: the dashboard HTTP listener must stay enabled: the operator calls the EMQX API and the probes check the node over it (or serve https only: set dashboard.listeners.https.bind and spec.tls.dashboard)',
    ],
    [
      'listeners.tcp.default.bind = 70000',
      'listeners.tcp.default.bind: 70000 is not a port: write a port 1-65535 or "0.0.0.0:PORT" (or set enable = false)',
    ],
    [
      'listeners.tcp.extra.bind = "0.0.0.0:8883"',
      'listeners.tcp.extra.bind: port 8883 is already used by listeners.ssl.default; give each listener its own port',
    ],
    [
      'listeners.tcp { a.bind = 11883, b.bind = 11883 }',
      'listeners.tcp.b.bind: port 11883 is already used by listeners.tcp.a; give each listener its own port',
    ],
    ['node.cookie = 12345', 'node.cookie (value not shown): must be a non-empty quoted string (e.g. "…")'],
    ['license.key = 12345', 'license.key (value not shown): must be a non-empty quoted string (e.g. "…")'],
    [
      'cluster.discovery_strategy = static',
      'cluster.discovery_strategy: "static" is not supported: the operator forms the cluster with dns (the default) or k8s',
    ],
    [
      'node.data_dir = "/var/lib/emqx"',
      'node.data_dir: is set by the operator and cannot be changed: the operator mounts the data volume at data (EMQX_NODE__DATA_DIR)',
    ],
    [
      'api_key.bootstrap_file = "/tmp/keys"',
      'api_key.bootstrap_file (value not shown): is set by the operator and cannot be changed: the operator mounts its own bootstrap file; add keys with spec.bootstrapAPIKeys',
    ],
    [
      'node.role = replicant',
      'node.role: is set by the operator and cannot be changed: the role follows coreTemplate / replicantTemplate (EMQX_NODE__ROLE)',
    ],
    [
      'mqtt.max_packet_size = ${?MAX_PACKET}',
      "line 1, column 24: unresolved substitution ${?MAX_PACKET}: no such key in the config, so it would silently remove the field (substitutions refer to config paths, never to environment variables; set EMQX_* variables in the pod template's env instead)",
    ],
  ];
  for (const [data, expected] of cases) assert.equal(outcome(data), expected, data);
});

test('an https-only dashboard is accepted only with spec.tls.dashboard (the operator verifies it against that CA)', () => {
  const httpsOnly = 'dashboard.listeners { http.enable = false, https.bind = 18443 }';
  assert.equal(outcome(httpsOnly, { dashboardTls: true }), 'ok');
  assert.match(outcome(httpsOnly), /may be turned off only when spec\.tls\.dashboard is set/);
  // spec.tls.dashboard does not stand in for a missing https listener
  assert.match(
    outcome('dashboard.listeners.http.enable = false', { dashboardTls: true }),
    /must stay enabled/,
  );
  assert.match(
    outcome('dashboard.listeners { http.enable = false, https { bind = 18443, enable = false } }', {
      dashboardTls: true,
    }),
    /must stay enabled/,
  );
  // both listeners, with or without the Secret: accepted
  assert.equal(outcome('dashboard.listeners.https.bind = 18443'), 'ok');
  assert.equal(outcome('dashboard.listeners.https.bind = 18443', { dashboardTls: true }), 'ok');
});

test('several problems are all reported, in a ConfigFieldError listing them', () => {
  let caught: unknown;
  try {
    parseEmqxConfig('node.role = core\ndashboard.listeners.http.bind = 0');
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigFieldError);
  assert.deepEqual(
    caught.issues.map((i) => i.path),
    ['node.role', 'dashboard.listeners.http.bind'],
  );
});

test('what the operator can run as written stays accepted', () => {
  for (const data of [
    '',
    'dashboard.listeners.http.bind = 18084',
    'dashboard.listeners.http.bind = "0.0.0.0:18083"',
    'dashboard.listeners.http.bind = "[::]:18083"',
    'dashboard.listeners.https.bind = 18443',
    'listeners.tcp.default.bind = "0.0.0.0:11883"\nlisteners.tcp.extra.bind = 1883',
    'listeners.ssl.default.enable = false\nlisteners.tcp.extra.bind = 8883',
    'listeners.quic.default.bind = 1883',
    'node.cookie = "a-cookie"\nlicense.key = "k"',
    'cluster.discovery_strategy = k8s',
    'cluster.discovery_strategy = dns',
    'a = 1\nb = ${?a}',
    'gateway.coap { listeners.udp.default.bind = 5683 }',
  ])
    assert.equal(outcome(data), 'ok', data);
});

test('secrets that would land in the ConfigMap are refused, saying how to pass them', () => {
  const hint =
    'set it through the EMQX dashboard or REST API once the cluster runs, or, where EMQX accepts a file for this ' +
    'field, mount a Secret (extraVolumes / extraVolumeMounts) and write "file:///path/to/it"';
  const cases: Array<[string, string]> = [
    [
      'license = "MYLICENSEKEY"',
      'license (value not shown): must be an object: write license { key = "…" } (the operator moves license.key into a Secret)',
    ],
    [
      'licence { key = "MYLICENSEKEY" }',
      'licence (value not shown): EMQX has no "licence" setting (did you mean license?); its value would be stored in plaintext in a ConfigMap',
    ],
    [
      'authentication = [{mechanism = password_based, backend = mysql, server = "db:3306", password = "dbSECRET"}]',
      `authentication[0].password (value not shown): a secret in spec.config.data would be stored in plaintext in a ConfigMap: ${hint}`,
    ],
    [
      'authorization.sources = [{type = postgresql, password = "pgSECRET"}, {type = redis, password = "rdSECRET"}]',
      `authorization.sources[1].password (value not shown): a secret in spec.config.data would be stored in plaintext in a ConfigMap: ${hint}; ` +
        `authorization.sources[0].password (value not shown): a secret in spec.config.data would be stored in plaintext in a ConfigMap: ${hint}`,
    ],
    [
      'dashboard.default_password = "adminSECRET"',
      'dashboard.default_password (value not shown): a secret in spec.config.data would be stored in plaintext in a ConfigMap: set EMQX_DASHBOARD__DEFAULT_PASSWORD in coreTemplate.spec.env and replicantTemplate.spec.env with valueFrom.secretKeyRef',
    ],
  ];
  for (const [data, expected] of cases) {
    const message = outcome(data);
    assert.equal(message, expected, data);
    assert.doesNotMatch(message, /SECRET|MYLICENSEKEY/, data);
  }
  // not secrets: hash algorithms, file references, the masked placeholder
  for (const data of [
    'authentication = [{mechanism = password_based, backend = built_in_database, password_hash_algorithm {name = sha256}}]',
    'authentication = [{backend = mysql, password = "file:///etc/emqx/secrets/db"}]',
    'dashboard.default_password = "******"',
  ])
    assert.equal(outcome(data), 'ok', data);
});
