// Realistic EMQX configs through the public entry point: parse, read, edit, print, parse again.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  HoconError,
  deepMerge,
  deletePath,
  envOverrides,
  getPath,
  isHoconObject,
  parseHocon,
  printHocon,
  setPath,
} from './index.ts';
import type { HoconObject } from './index.ts';

const EMQX_CONF = `
## EMQX configuration, as a user might put it in spec.config.data
node {
  name = "emqx@127.0.0.1"
  cookie = "emqxsecretcookie"
  data_dir = "data"
  process_limit = 2097152
}

cluster {
  name = emqxcl
  discovery_strategy = static
  static.seeds = [emqx@emqx-core-0.emqx-headless, "emqx@emqx-core-1.emqx-headless"]
  autoclean = 24h
}

listeners.tcp.default {
  bind = "0.0.0.0:1883"
  max_connections = infinity
  acceptors = 16
  tcp_options { active_n = 100, backlog = 1024, send_timeout = 15s }
}

listeners.ssl.default {
  bind = "0.0.0.0:8883"
  ssl_options {
    keyfile = "\${EMQX_ETC_DIR}/certs/key.pem"
    certfile = "\${EMQX_ETC_DIR}/certs/cert.pem"
    cacertfile = "\${EMQX_ETC_DIR}/certs/cacert.pem"
    versions = [tlsv1.3, tlsv1.2]
    verify = verify_none
  }
}

listeners.ws.default {
  bind = "0.0.0.0:8083"
  websocket.mqtt_path = "/mqtt"
}

// the second ws listener, disabled
listeners.wss.default { enable = false }

dashboard {
  listeners.http { bind = 18083 }
  listeners.https { bind = 0 }
  default_username = admin
  default_password = public
  token_expired_time = 60m
}

authentication = [
  {
    mechanism = password_based
    backend = built_in_database
    password_hash_algorithm { name = sha256, salt_position = suffix }
    user_id_type = username
  }
  {
    mechanism = jwt
    from = password
    use_jwks = false
    algorithm = "hmac-based"
    secret = "emqxsecret"
    secret_base64_encoded = false
    verify_claims { username = "\${username}" }
  }
]

authorization {
  no_match = allow
  deny_action = ignore
  cache { enable = true, max_size = 32, ttl = 1m }
  sources = [
    { type = file, enable = true, path = "\${EMQX_ETC_DIR}/acl.conf" }
  ]
}

log {
  console { enable = true, level = warning }
  file.default {
    enable = true
    level = info
    path = "\${EMQX_LOG_DIR}/emqx.log"
    rotation_count = 10
    rotation_size = 50MB
  }
}

mqtt {
  max_packet_size = 1MB
  max_clientid_len = 65535
  max_inflight = 32
  retry_interval = 30s
  session_expiry_interval = 2h
  upgrade_qos = false
  mqueue_default_priority = lowest
}

sysmon.os { cpu_high_watermark = 80%, cpu_low_watermark = 60%, mem_check_interval = 60s }
force_shutdown { max_mailbox_size = 1000, max_heap_size = 32MB }
rule_engine.rules.r1 {
  sql = """~
    SELECT
      payload.temp as t
    FROM
      "sensors/#"
  ~"""
  actions = ["console"]
}
`;

describe('a full emqx.conf', () => {
  const conf = parseHocon(EMQX_CONF, { source: 'emqx.conf' });

  it('reads node, cluster and listener settings', () => {
    assert.deepEqual(conf.node, {
      name: 'emqx@127.0.0.1',
      cookie: 'emqxsecretcookie',
      data_dir: 'data',
      process_limit: 2097152,
    });
    assert.deepEqual(getPath(conf, 'cluster.static.seeds'), [
      'emqx@emqx-core-0.emqx-headless',
      'emqx@emqx-core-1.emqx-headless',
    ]);
    assert.equal(getPath(conf, 'cluster.autoclean'), '24h');
    assert.equal(getPath(conf, 'listeners.tcp.default.bind'), '0.0.0.0:1883');
    assert.equal(getPath(conf, 'listeners.tcp.default.max_connections'), 'infinity');
    assert.equal(getPath(conf, 'listeners.tcp.default.tcp_options.send_timeout'), '15s');
    assert.equal(getPath(conf, 'listeners.ssl.default.bind'), '0.0.0.0:8883');
    assert.equal(getPath(conf, 'listeners.ws.default.websocket.mqtt_path'), '/mqtt');
    assert.equal(getPath(conf, 'listeners.wss.default.enable'), false);
  });

  it('keeps ${EMQX_ETC_DIR} in quoted file paths literal', () => {
    assert.equal(
      getPath(conf, 'listeners.ssl.default.ssl_options.certfile'),
      '${EMQX_ETC_DIR}/certs/cert.pem',
    );
    assert.deepEqual(getPath(conf, 'listeners.ssl.default.ssl_options.versions'), ['tlsv1.3', 'tlsv1.2']);
    assert.equal(getPath(conf, 'authentication.1.verify_claims.username'), '${username}');
  });

  it('reads dashboard ports, with dotted keys inside a block', () => {
    assert.equal(getPath(conf, 'dashboard.listeners.http.bind'), 18083);
    assert.equal(getPath(conf, 'dashboard.listeners.https.bind'), 0);
    assert.equal(getPath(conf, 'dashboard.token_expired_time'), '60m');
  });

  it('reads the authentication chain as an array of objects, in order', () => {
    const chain = conf.authentication as HoconObject[];
    assert.equal(chain.length, 2);
    assert.deepEqual(chain[0], {
      mechanism: 'password_based',
      backend: 'built_in_database',
      password_hash_algorithm: { name: 'sha256', salt_position: 'suffix' },
      user_id_type: 'username',
    });
    assert.equal(chain[1]!.mechanism, 'jwt');
    assert.equal(chain[1]!.algorithm, 'hmac-based');
    assert.deepEqual(getPath(conf, 'authorization.sources.0'), {
      type: 'file',
      enable: true,
      path: '${EMQX_ETC_DIR}/acl.conf',
    });
  });

  it('reads log, mqtt, sysmon and rule settings with units as strings', () => {
    assert.deepEqual(getPath(conf, 'log.console'), { enable: true, level: 'warning' });
    assert.equal(getPath(conf, 'log.file.default.rotation_size'), '50MB');
    assert.equal(getPath(conf, 'mqtt.max_packet_size'), '1MB');
    assert.equal(getPath(conf, 'mqtt.session_expiry_interval'), '2h');
    assert.equal(getPath(conf, 'sysmon.os.cpu_high_watermark'), '80%');
    assert.equal(getPath(conf, 'force_shutdown.max_heap_size'), '32MB');
    assert.equal(
      getPath(conf, 'rule_engine.rules.r1.sql'),
      'SELECT\n  payload.temp as t\nFROM\n  "sensors/#"\n',
    );
  });

  it('round-trips through the printer', () => {
    const printed = printHocon(conf);
    assert.deepEqual(parseHocon(printed), conf);
    // printing is a fixed point after the first pass
    assert.equal(printHocon(parseHocon(printed)), printed);
  });

  it('is ready for a config push once read-only roots are stripped', () => {
    let pushed = conf;
    for (const root of ['node', 'rpc', 'cluster', 'dashboard', 'durable_sessions', 'durable_storage']) {
      pushed = deletePath(pushed, root);
    }
    assert.deepEqual(Object.keys(pushed).sort(), [
      'authentication',
      'authorization',
      'force_shutdown',
      'listeners',
      'log',
      'mqtt',
      'rule_engine',
      'sysmon',
    ]);
    assert.equal(getPath(conf, 'node.name'), 'emqx@127.0.0.1', 'the original stays intact');
    assert.deepEqual(parseHocon(printHocon(pushed)), pushed);
  });
});

describe('a license config', () => {
  const KEY =
    'MjIwMTExCjAKMTAKRXZhbHVhdGlvbgpjb250YWN0QGVtcXguaW8KZGVmYXVsdAoyMDIzMDEwOQoxODI1CjEwMAo=.' +
    'MEUCIG62t8W15g05f1cKx3tA3YgJoR0dmyHOPCdbUxBGxgKKAiEAhHKh8dUwhU+OxNEaOn8mgRDtiT3R8RZooqy6dEsOmDI=';
  const text = `license {\n  key = "${KEY}"\n}\n`;

  it('reads the key as one string, with + / = intact', () => {
    assert.deepEqual(parseHocon(text), { license: { key: KEY } });
  });

  it('prints it back quoted', () => {
    assert.equal(printHocon(parseHocon(text)), `license {\n  key = "${KEY}"\n}\n`);
  });

  it('rejects an unquoted key (it contains = and +)', () => {
    assert.throws(() => parseHocon(`license.key = ${KEY}`), HoconError);
  });
});

describe('GET /api/v5/configs text', () => {
  // shaped like hocon_pp output: sorted, quoted when needed, secrets masked
  const TEXT = [
    'alarm {',
    '  actions = [log, publish]',
    '  size_limit = 1000',
    '  validity_period = "24h"',
    '}',
    'authentication = [',
    '  {',
    '    backend = built_in_database',
    '    mechanism = password_based',
    '    password_hash_algorithm {name = sha256, salt_position = suffix}',
    '    user_id_type = username',
    '  }',
    ']',
    'cluster {',
    '  autoclean = "24h"',
    '  autoheal = true',
    '  discovery_strategy = dns',
    '  dns {name = "emqx-headless.default.svc.cluster.local", record_type = srv}',
    '  name = emqxcl',
    '}',
    'dashboard {',
    '  default_password = "******"',
    '  listeners {',
    '    http {bind = 18083, enable = true}',
    '    https {',
    '      bind = 0',
    '      enable = false',
    '      ssl_options {',
    '        certfile = "${EMQX_ETC_DIR}/certs/cert.pem"',
    '        verify = verify_none',
    '      }',
    '    }',
    '  }',
    '}',
    'listeners {',
    '  ssl {',
    '    default {',
    '      bind = "0.0.0.0:8883"',
    '      max_connections = infinity',
    '      ssl_options {',
    '        cacertfile = "${EMQX_ETC_DIR}/certs/cacert.pem"',
    '        ciphers = []',
    '        versions = ["tlsv1.3", "tlsv1.2"]',
    '      }',
    '    }',
    '  }',
    '  tcp {',
    '    default {',
    '      bind = "0.0.0.0:1883"',
    '      max_connections = infinity',
    '    }',
    '  }',
    '  ws {',
    '    default {',
    '      bind = "0.0.0.0:8083"',
    '      websocket {mqtt_path = "/mqtt"}',
    '    }',
    '  }',
    '}',
    'log {',
    '  console {enable = true, level = warning}',
    '  file {',
    '    default {',
    '      enable = false',
    '      path = "${EMQX_LOG_DIR}/emqx.log"',
    '      rotation_size = "50MB"',
    '    }',
    '  }',
    '}',
    'node {',
    '  cookie = "******"',
    '  data_dir = data',
    '  name = "emqx@emqx-core-0.emqx-headless.default.svc.cluster.local"',
    '  role = core',
    '}',
    '',
  ].join('\n');

  const conf = parseHocon(TEXT);

  it('gives the listener and dashboard ports the operator reads', () => {
    const binds: Record<string, unknown> = {};
    for (const [type, byName] of Object.entries(conf.listeners as HoconObject)) {
      for (const [name, listener] of Object.entries(byName as HoconObject)) {
        binds[`${type}:${name}`] = (listener as HoconObject).bind;
      }
    }
    assert.deepEqual(binds, {
      'ssl:default': '0.0.0.0:8883',
      'tcp:default': '0.0.0.0:1883',
      'ws:default': '0.0.0.0:8083',
    });
    assert.equal(getPath(conf, 'dashboard.listeners.http.bind'), 18083);
    assert.equal(getPath(conf, 'dashboard.listeners.https.enable'), false);
  });

  it('reads masked secrets and sizes as strings', () => {
    assert.equal(getPath(conf, 'node.cookie'), '******');
    assert.equal(getPath(conf, 'dashboard.default_password'), '******');
    assert.equal(getPath(conf, 'log.file.default.rotation_size'), '50MB');
    assert.deepEqual(getPath(conf, 'alarm.actions'), ['log', 'publish']);
  });

  it('prints back to exactly the same text', () => {
    assert.equal(printHocon(conf), TEXT);
  });
});

describe('config layers (emulator use)', () => {
  it('applies base.hocon < cluster.hocon < emqx.conf < EMQX_* env', () => {
    const base = parseHocon(
      'dashboard.listeners.http.bind = 18083\nlog.console.level = warning\nnode.data_dir = data',
    );
    const clusterHocon = parseHocon('log.console.level = debug\nmqtt.max_packet_size = 2MB');
    const emqxConf = parseHocon(
      'include "base.hocon"\nnode.name = "emqx@127.0.0.1"\nlog.console.level = info',
      {
        include: (f) => (f === 'base.hocon' ? 'node.cookie = fromfile' : undefined),
      },
    );
    const env = envOverrides(
      { EMQX_NODE__NAME: 'emqx@10.0.0.3', EMQX_DASHBOARD__LISTENERS__HTTP__BIND: '28083' },
      { knownRoots: ['node', 'dashboard', 'log', 'mqtt'] },
    );
    const effective = [clusterHocon, emqxConf, env].reduce(deepMerge, base);
    assert.deepEqual(effective, {
      dashboard: { listeners: { http: { bind: 28083 } } },
      log: { console: { level: 'info' } },
      node: { data_dir: 'data', cookie: 'fromfile', name: 'emqx@10.0.0.3' },
      mqtt: { max_packet_size: '2MB' },
    });
  });

  it('edits a parsed config without touching the original', () => {
    const conf = parseHocon(EMQX_CONF);
    const edited = setPath(conf, 'listeners.tcp.default.bind', '0.0.0.0:11883');
    assert.equal(getPath(edited, 'listeners.tcp.default.bind'), '0.0.0.0:11883');
    assert.equal(getPath(conf, 'listeners.tcp.default.bind'), '0.0.0.0:1883');
    assert.ok(isHoconObject(getPath(edited, 'listeners.tcp.default.tcp_options')));
  });
});
