import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HoconError, parseHocon } from '../hocon/index.ts';
import { emqxConfText } from '../resources/configmap.ts';
import {
  bindPort,
  configuredListenerPorts,
  dashboardPorts,
  discoveryStrategy,
  hotConfig,
  licenseKey,
  listenerPorts,
  nodeCookie,
  parseEmqxConfig,
  portName,
  configIncludes,
  servicePortName,
  restartRequiredConfig,
  withoutSecrets,
} from './config.ts';

test('parseEmqxConfig: empty or absent config is an empty object; bad HOCON throws HoconError with a position', () => {
  assert.deepEqual(parseEmqxConfig(undefined), {});
  assert.deepEqual(parseEmqxConfig('  \n'), {});
  assert.deepEqual(parseEmqxConfig('a.b = 1'), { a: { b: 1 } });
  assert.throws(
    () => parseEmqxConfig('a {\n  b = 1\n  c = {\n'),
    (err: unknown) => err instanceof HoconError && err.line >= 1 && err.column >= 1,
  );
});

test('bindPort reads every bind spelling and refuses non-ports', () => {
  assert.equal(bindPort(18083), 18083);
  assert.equal(bindPort('18083'), 18083);
  assert.equal(bindPort('0.0.0.0:1883'), 1883);
  assert.equal(bindPort(':1884'), 1884);
  assert.equal(bindPort('[::]:8083'), 8083);
  assert.equal(bindPort('[fd00::1]:8084'), 8084);
  assert.equal(bindPort(0), undefined);
  assert.equal(bindPort('0.0.0.0:0'), undefined);
  assert.equal(bindPort('70000'), undefined);
  assert.equal(bindPort('abc'), undefined);
  assert.equal(bindPort(undefined), undefined);
});

test('dashboardPorts: default 18083, custom binds, disabled http, https only when configured', () => {
  assert.deepEqual(dashboardPorts({}), { http: 18083 });
  assert.deepEqual(dashboardPorts(parseHocon('dashboard.listeners.http.bind = "0.0.0.0:18084"')), {
    http: 18084,
  });
  assert.deepEqual(dashboardPorts(parseHocon('dashboard.listeners.http.bind = "[::]:28083"')), {
    http: 28083,
  });
  assert.deepEqual(dashboardPorts(parseHocon('dashboard.listeners.http.enable = false')), {});
  assert.deepEqual(dashboardPorts(parseHocon('dashboard.listeners.http.bind = 0')), {});
  assert.deepEqual(dashboardPorts(parseHocon('dashboard.listeners.https.bind = 18084')), {
    http: 18083,
    https: 18084,
  });
  assert.deepEqual(dashboardPorts(parseHocon('dashboard.listeners.https { bind = 18084, enable = false }')), {
    http: 18083,
  });
});

test('listenerPorts: listeners and gateways, UDP for quic/udp/dtls, enable and enabled both count', () => {
  const conf = parseHocon(`
    listeners.tcp.default.bind = "0.0.0.0:1883"
    listeners.ssl.default { bind = "0.0.0.0:8883", enable = false }
    listeners.ws.default { bind = 8083, enabled = false }
    listeners.tcp.internal.bind = "0.0.0.0:11883"
    listeners.quic.default.bind = "0.0.0.0:14567"
    gateway.coap.listeners.udp.default.bind = 5683
    gateway.coap.listeners.dtls.default.bind = 5684
    gateway.stomp.listeners.tcp.default.bind = 61613
    gateway.mqttsn { enable = false, listeners.udp.default.bind = 1884 }
  `);
  const ports = listenerPorts(conf);
  assert.deepEqual(
    ports.map((p) => `${p.port}/${p.protocol}`),
    ['14567/UDP', '1883/TCP', '11883/TCP', '5684/UDP', '5683/UDP', '61613/TCP'],
  );
  assert.deepEqual(
    ports.slice(0, 3).map((p) => p.name),
    ['quic-default', 'tcp-default', 'tcp-internal'],
  );
  // Service port names keep the listener's whole name (the 15-character limit is for container ports only).
  assert.deepEqual(
    ports.slice(3).map((p) => p.name),
    ['coap-dtls-default', 'coap-udp-default', 'stomp-tcp-default'],
  );
  for (const p of ports) assert.equal(p.targetPort, p.port);
});

test('listenerPorts: nothing found gives the four EMQX defaults', () => {
  const names = (ports: { name?: string; port: number }[]) => ports.map((p) => `${p.name}:${p.port}`);
  const defaults = ['tcp-default:1883', 'ssl-default:8883', 'ws-default:8083', 'wss-default:8084'];
  assert.deepEqual(names(listenerPorts({})), defaults);
  assert.deepEqual(names(listenerPorts(parseHocon('listeners.tcp.default.enable = false'))), defaults);
});

test('listenerPorts: a second listener on the same port and protocol is dropped', () => {
  const conf = parseHocon(`
    listeners.tcp.a.bind = 1883
    listeners.tcp.b.bind = "0.0.0.0:1883"
  `);
  assert.deepEqual(
    listenerPorts(conf).map((p) => p.name),
    ['tcp-a'],
  );
});

test('parseEmqxConfig: include directives are passed on; the included files count as empty here', () => {
  const data =
    'include "/opt/emqx/etc/extra.conf"\nlisteners.tcp.default.bind = 1884\ninclude required("/mnt/x.conf")';
  assert.deepEqual(parseEmqxConfig(data), { listeners: { tcp: { default: { bind: 1884 } } } });
  assert.deepEqual(configIncludes(data), [
    { file: '/opt/emqx/etc/extra.conf', required: false },
    { file: '/mnt/x.conf', required: true },
  ]);
  assert.equal(
    emqxConfText(parseEmqxConfig(data), configIncludes(data)),
    'include "/opt/emqx/etc/extra.conf"\ninclude required("/mnt/x.conf")\nlisteners {\n  tcp {\n    default {bind = 1884}\n  }\n}\n',
  );
  assert.throws(
    () => parseEmqxConfig('gateway { include "gw.conf" }'),
    /only top-level includes are passed on to EMQX; move this one out of gateway/,
  );
});

test('servicePortName: DNS labels up to 63 characters kept whole (lwm2m-udp-default), others made valid', () => {
  assert.equal(servicePortName('lwm2m-udp-default'), 'lwm2m-udp-default');
  assert.equal(servicePortName('tcp--x'), 'tcp--x', 'a DNS label may hold "--"');
  const long = `tcp-${'x'.repeat(70)}`;
  for (const raw of ['tcp-My_Listener', long, '-x-', 'a.b']) {
    const n = servicePortName(raw);
    assert.match(n, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, raw);
    assert.ok(n.length <= 63, `${raw} -> ${n}`);
    assert.equal(servicePortName(raw), n, 'deterministic');
  }
  assert.notEqual(servicePortName('tcp-a_b'), servicePortName('tcp-a.b'));
  const conf = parseEmqxConfig('gateway.lwm2m.listeners.udp.default.bind = 5783');
  assert.deepEqual(
    listenerPorts(conf).map((p) => `${p.name}:${p.port}/${p.protocol}`),
    ['lwm2m-udp-default:5783/UDP'],
  );
});

test('portName: valid names kept, others made valid, deterministic and distinct', () => {
  assert.equal(portName('tcp-default'), 'tcp-default');
  const valid = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
  for (const raw of [
    'coap-dtls-default',
    'tcp-My_Listener',
    'stomp-tcp-very-long-name',
    '1883',
    'tcp--x',
    '-x-',
  ]) {
    const n = portName(raw);
    assert.match(n, valid, raw);
    assert.ok(n.length <= 15, `${raw} -> ${n}`);
    assert.ok(/[a-z]/.test(n), `${raw} -> ${n}`);
    assert.ok(!n.includes('--'), `${raw} -> ${n}`);
    assert.equal(portName(raw), n, 'deterministic');
  }
  assert.notEqual(portName('ssl-listener-one-a'), portName('ssl-listener-one-b'));
  assert.notEqual(portName('tcp-a_b'), portName('tcp-a.b'));
});

test('listenerPorts: two listeners whose cleaned names meet still get distinct names', () => {
  const conf = parseHocon(`
    listeners.tcp.a_b.bind = 1000
    listeners.tcp { "a.b" { bind = 1001 } }
  `);
  const ports = listenerPorts(conf);
  assert.equal(ports.length, 2);
  assert.notEqual(ports[0]!.name, ports[1]!.name);
});

test('configuredListenerPorts: built-in listeners plus the config, as the config changes them', () => {
  const conf = parseHocon(`
    listeners.ssl.default.enable = false
    listeners.ws.default.bind = "0.0.0.0:8090"
    listeners.tcp.internal.bind = 11883
  `);
  assert.deepEqual(
    configuredListenerPorts(conf).map((p) => `${p.name}:${p.port}/${p.protocol}`),
    ['tcp-default:1883/TCP', 'tcp-internal:11883/TCP', 'ws-default:8090/TCP', 'wss-default:8084/TCP'],
  );
  assert.deepEqual(
    configuredListenerPorts({}).map((p) => p.name),
    ['ssl-default', 'tcp-default', 'ws-default', 'wss-default'],
  );
});

test('discoveryStrategy: k8s only when the config says so', () => {
  assert.equal(discoveryStrategy({}), 'dns');
  assert.equal(discoveryStrategy(parseHocon('cluster.discovery_strategy = static')), 'dns');
  assert.equal(discoveryStrategy(parseHocon('cluster.discovery_strategy = k8s')), 'k8s');
});

test('nodeCookie, licenseKey and withoutSecrets', () => {
  const conf = parseHocon(`
    node { cookie = "s3cret-cookie", data_dir = data }
    license { key = "LICENSE-KEY" }
    log.console.level = info
  `);
  assert.equal(nodeCookie(conf), 's3cret-cookie');
  assert.equal(licenseKey(conf), 'LICENSE-KEY');
  assert.equal(nodeCookie({}), undefined);
  assert.equal(licenseKey({}), undefined);
  const clean = withoutSecrets(conf);
  assert.deepEqual(clean, { node: { data_dir: 'data' }, log: { console: { level: 'info' } } });
  assert.equal(nodeCookie(conf), 's3cret-cookie', 'the input is not modified');
});

test('restartRequiredConfig and hotConfig split the config', () => {
  const conf = parseHocon(`
    node { cookie = c, process_limit = 2097152 }
    rpc.port_discovery = manual
    cluster { name = emqxcl, autoclean = 5m, links = [{name = x, enable = true}] }
    dashboard { listeners.http { bind = 18083, num_acceptors = 4 }, token_expired_time = 60m }
    durable_sessions.enable = true
    durable_storage.messages.n_shards = 8
    listeners.tcp.default.max_connections = 1000
    log.console.level = warning
  `);
  assert.deepEqual(restartRequiredConfig(conf), {
    node: { process_limit: 2097152 },
    rpc: { port_discovery: 'manual' },
    cluster: { name: 'emqxcl', autoclean: '5m' },
    dashboard: { listeners: { http: { bind: 18083 } } },
    durable_sessions: { enable: true },
    durable_storage: { messages: { n_shards: 8 } },
  });
  assert.deepEqual(hotConfig(conf), {
    cluster: { links: [{ name: 'x', enable: true }] },
    dashboard: { listeners: { http: { num_acceptors: 4 } }, token_expired_time: '60m' },
    listeners: { tcp: { default: { max_connections: 1000 } } },
    log: { console: { level: 'warning' } },
  });
});

test('hotConfig prunes what stripping left empty', () => {
  const conf = parseHocon('dashboard.listeners.http.bind = 18083\ncluster.name = x\nlog.file.enable = false');
  assert.deepEqual(hotConfig(conf), { log: { file: { enable: false } } });
});
