import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { getPath } from '../hocon/index.ts';
import { parseEmqxConfig } from '../emqx/config.ts';
import { createWebhookCertificates } from '../webhook/cert.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';
import { emqxConfText } from './configmap.ts';
import { podTemplate } from './pod-template.ts';
import {
  TLS_LISTENERS_DIR,
  checkTlsSecret,
  tlsConfigProblem,
  tlsSecretRefs,
  tlsVolumes,
  withTlsConfig,
} from './tls.ts';

const withTls = (tls: object) => {
  const e = makeEmqx();
  e.spec.tls = tls;
  return e;
};

function tlsSecret(data: Record<string, string>): V1Secret {
  return {
    type: 'kubernetes.io/tls',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

test('withTlsConfig: every enabled ssl/wss listener (built-in ones too) gets the mounted files; others untouched', () => {
  const conf = parseEmqxConfig(`
    listeners.ssl.default.ssl_options.certfile = "/user/cert.pem"
    listeners.ssl.internal { bind = "0.0.0.0:8884", ssl_options.versions = ["tlsv1.3"] }
    listeners.wss.default.enable = false
    listeners.tcp.default.bind = "0.0.0.0:1883"
  `);
  const out = withTlsConfig(withTls({ listeners: { secretName: 'mqtt-tls' } }), conf);
  assert.equal(getPath(out, 'listeners.ssl.default.ssl_options.certfile'), `${TLS_LISTENERS_DIR}/tls.crt`);
  assert.equal(getPath(out, 'listeners.ssl.default.ssl_options.keyfile'), `${TLS_LISTENERS_DIR}/tls.key`);
  assert.equal(getPath(out, 'listeners.ssl.internal.ssl_options.certfile'), `${TLS_LISTENERS_DIR}/tls.crt`);
  assert.deepEqual(getPath(out, 'listeners.ssl.internal.ssl_options.versions'), ['tlsv1.3']);
  assert.equal(
    getPath(out, 'listeners.wss.default.ssl_options'),
    undefined,
    'a disabled listener is left alone',
  );
  assert.equal(getPath(out, 'listeners.tcp.default.ssl_options'), undefined);
  assert.equal(
    getPath(conf, 'listeners.ssl.default.ssl_options.certfile'),
    '/user/cert.pem',
    'input unchanged',
  );
  assert.equal(getPath(out, 'listeners.ssl.default.ssl_options.verify'), undefined);
});

test('withTlsConfig: a client CA turns verify_peer on (fail_if_no_peer_cert by default); dashboard https files', () => {
  const conf = parseEmqxConfig('dashboard.listeners.https.bind = 18084');
  const out = withTlsConfig(
    withTls({
      listeners: { secretName: 'mqtt-tls', clientCA: { secretName: 'clients-ca' } },
      dashboard: { secretName: 'dash-tls' },
    }),
    conf,
  );
  assert.equal(getPath(out, 'listeners.wss.default.ssl_options.verify'), 'verify_peer');
  assert.equal(getPath(out, 'listeners.wss.default.ssl_options.fail_if_no_peer_cert'), true);
  assert.match(String(getPath(out, 'listeners.wss.default.ssl_options.cacertfile')), /client-ca\/ca\.crt$/);
  assert.match(
    String(getPath(out, 'dashboard.listeners.https.ssl_options.certfile')),
    /dashboard\/tls\.crt$/,
  );
  const optional = withTlsConfig(
    withTls({ listeners: { secretName: 'mqtt-tls', clientCA: { secretName: 'ca', required: false } } }),
    {},
  );
  assert.equal(getPath(optional, 'listeners.ssl.default.ssl_options.fail_if_no_peer_cert'), false);
  // The ConfigMap carries the paths, never certificate or key content.
  const text = emqxConfText(out);
  assert.match(text, /certfile/);
  assert.doesNotMatch(text, /BEGIN/);
});

test('withTlsConfig: no spec.tls returns the config itself', () => {
  const conf = parseEmqxConfig('listeners.ssl.default.bind = 8883');
  assert.equal(withTlsConfig(makeEmqx(), conf), conf);
});

test('tlsConfigProblem: a Secret for listeners that do not exist, or a dashboard without https, is refused by field', () => {
  const noTls = parseEmqxConfig('listeners.ssl.default.enable = false\nlisteners.wss.default.enable = false');
  assert.match(
    tlsConfigProblem(withTls({ listeners: { secretName: 's' } }), noTls) ?? '',
    /^spec\.tls\.listeners: .*no ssl or wss listener/,
  );
  assert.equal(tlsConfigProblem(withTls({ listeners: { secretName: 's' } }), {}), undefined);
  assert.match(
    tlsConfigProblem(withTls({ dashboard: { secretName: 's' } }), {}) ?? '',
    /^spec\.tls\.dashboard: .*dashboard\.listeners\.https/,
  );
  assert.equal(
    tlsConfigProblem(
      withTls({ dashboard: { secretName: 's' } }),
      parseEmqxConfig('dashboard.listeners.https.bind = 18084'),
    ),
    undefined,
  );
});

test('tlsVolumes / podTemplate: each Secret mounted as a directory (no subPath, so the kubelet updates it)', () => {
  const e = withTls({
    listeners: { secretName: 'mqtt-tls', clientCA: { secretName: 'clients-ca' } },
    dashboard: { secretName: 'dash-tls' },
  });
  const { volumes, mounts } = tlsVolumes(e);
  assert.deepEqual(
    volumes.map((v) => v.secret?.secretName),
    ['mqtt-tls', 'clients-ca', 'dash-tls'],
  );
  assert.ok(mounts.every((m) => m.subPath === undefined && m.readOnly === true));
  const t = podTemplate(e, {}, 'core');
  const names = (t.spec!.volumes ?? []).map((v) => v.name);
  for (const v of volumes) assert.ok(names.includes(v.name), v.name);
  const paths = t.spec!.containers[0]!.volumeMounts!.map((m) => m.mountPath);
  assert.ok(paths.includes(TLS_LISTENERS_DIR));
  assert.deepEqual(tlsVolumes(makeEmqx()), { volumes: [], mounts: [] });
});

test('checkTlsSecret: facts of a good Secret; a missing key, a malformed certificate or a foreign key named', async () => {
  const a = await createWebhookCertificates({ commonName: 'mqtt', hosts: ['mqtt.example.com'] });
  const b = await createWebhookCertificates({ commonName: 'other', hosts: ['other.example.com'] });
  const [ref] = tlsSecretRefs(withTls({ listeners: { secretName: 'mqtt-tls' } }));
  const good = checkTlsSecret(ref!, tlsSecret({ 'tls.crt': a.cert + a.caCert, 'tls.key': a.key }));
  assert.ok(good.ok);
  const leaf = new X509Certificate(a.cert);
  assert.equal(good.facts?.serial, leaf.serialNumber.toLowerCase());
  assert.equal(good.facts?.notAfter, new Date(leaf.validTo).toISOString());

  const bad = (data: Record<string, string> | undefined) => {
    const r = checkTlsSecret(ref!, data && tlsSecret(data));
    assert.ok(!r.ok);
    assert.match(r.error, /^spec\.tls\.listeners\.secretName: Secret "mqtt-tls"/);
    assert.doesNotMatch(r.error, /PRIVATE KEY|BEGIN/);
    return r.error;
  };
  assert.match(bad(undefined), /not found/);
  assert.match(bad({ 'tls.crt': a.cert }), /has no tls\.key/);
  assert.match(bad({ 'tls.crt': 'hello', 'tls.key': a.key }), /tls\.crt holds no PEM certificate/);
  const broken = a.cert.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!');
  assert.match(bad({ 'tls.crt': broken, 'tls.key': a.key }), /certificate 1 is malformed/);
  assert.match(bad({ 'tls.crt': a.cert, 'tls.key': b.key }), /tls\.key does not match/);
  assert.match(bad({ 'tls.crt': a.cert, 'tls.key': 'not a key' }), /tls\.key is not a PEM private key/);
});

test('perListener: a listener with its own Secret gets its own files; the others the default; the client CA for all', () => {
  const e = withTls({
    listeners: {
      secretName: 'default-tls',
      perListener: [{ listener: 'ssl:internal', secretName: 'internal-tls' }],
      clientCA: { secretName: 'client-ca' },
    },
  });
  const conf = parseEmqxConfig('listeners.ssl.internal { bind = "0.0.0.0:8884" }');
  const out = withTlsConfig(e, conf);
  assert.equal(
    getPath(out, 'listeners.ssl.internal.ssl_options.certfile'),
    '/opt/emqx/etc/certs/operator/listener/ssl-internal/tls.crt',
  );
  assert.equal(getPath(out, 'listeners.ssl.internal.ssl_options.verify'), 'verify_peer');
  assert.equal(getPath(out, 'listeners.ssl.default.ssl_options.certfile'), `${TLS_LISTENERS_DIR}/tls.crt`);
  assert.deepEqual(
    tlsVolumes(e).mounts.map((m) => `${m.name}=${m.mountPath}`),
    [
      `tls-listeners=${TLS_LISTENERS_DIR}`,
      'tls-listener-0=/opt/emqx/etc/certs/operator/listener/ssl-internal',
      'tls-client-ca=/opt/emqx/etc/certs/operator/client-ca',
    ],
  );
  assert.deepEqual(
    tlsSecretRefs(e).map((r) => `${r.name} ${r.field} ${r.secretName}`),
    [
      'listeners spec.tls.listeners.secretName default-tls',
      'ssl:internal spec.tls.listeners.perListener[0].secretName internal-tls',
      'clientCA spec.tls.listeners.clientCA.secretName client-ca',
    ],
  );
});

test('perListener alone: only the named listeners get files; EMQX keeps its own certificate on the others', () => {
  const e = withTls({ listeners: { perListener: [{ listener: 'wss:default', secretName: 'ws-tls' }] } });
  const out = withTlsConfig(e, parseEmqxConfig(undefined));
  assert.equal(
    getPath(out, 'listeners.wss.default.ssl_options.keyfile'),
    '/opt/emqx/etc/certs/operator/listener/wss-default/tls.key',
  );
  assert.equal(getPath(out, 'listeners.ssl.default.ssl_options.certfile'), undefined);
  assert.deepEqual(
    tlsVolumes(e).volumes.map((v) => v.secret?.secretName),
    ['ws-tls'],
  );
});

test('perListener: a listener spec.config.data does not enable is refused, naming the entry', () => {
  const e = withTls({
    listeners: { secretName: 'x', perListener: [{ listener: 'ssl:internal', secretName: 'internal-tls' }] },
  });
  assert.match(
    tlsConfigProblem(e, parseEmqxConfig(undefined)) ?? '',
    /^spec\.tls\.listeners\.perListener\[0\]\.listener: spec\.config\.data has no enabled listener "ssl:internal"/,
  );
  assert.equal(
    tlsConfigProblem(e, parseEmqxConfig('listeners.ssl.internal { bind = "0.0.0.0:8884" }')),
    undefined,
  );
});
