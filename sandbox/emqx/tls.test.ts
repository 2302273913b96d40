// The emulated listeners serve real TLS from the files ssl_options names (ssl and wss, MQTT.js over mqtts:// and
// wss:// verifying the chain and the host name), and pick up rewritten files for new connections while an
// established connection stays up, as EMQX does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { IClientOptions } from 'mqtt';
import { mqttConnector, serial, serialOf } from '../../test/support/tls.ts';
import { createWebhookCertificates, type WebhookCertificates } from '../../src/webhook/cert.ts';
import { EmqxClient } from '../../src/emqx/client.ts';
import { Registry } from '../../src/observability/metrics.ts';
import { BOOTSTRAP, HEADLESS, Testbed, coreEnv, nextIp, waitFor } from './testkit.ts';
import type { StartedNode } from './testkit.ts';

const HOST = 'mqtt.example.com';
const CONF = `
listeners.ssl.default.ssl_options { certfile = "/certs/tls.crt", keyfile = "/certs/tls.key" }
listeners.wss.default.ssl_options { certfile = "/certs/tls.crt", keyfile = "/certs/tls.key" }
`;

let bed: Testbed;
let node: StartedNode;
let first: WebhookCertificates;
const connect = mqttConnector();

before(async () => {
  first = await createWebhookCertificates({ commonName: HOST, hosts: [HOST] });
  bed = new Testbed();
  const ip = nextIp();
  bed.dns.add(`emqx-core-0.${HEADLESS}`, ip, [HEADLESS]);
  node = await bed.start({
    name: 'emqx-core-0',
    image: 'emqx/emqx:5.8.3',
    ip,
    env: coreEnv('emqx-core-0'),
    files: {
      '/opt/emqx/data/bootstrap_api_key': BOOTSTRAP,
      '/opt/emqx/etc/emqx.conf': CONF,
      '/certs/tls.crt': first.cert,
      '/certs/tls.key': first.key,
    },
    dataDir: bed.volume('emqx-core-0'),
  });
  await waitFor(
    'ssl listener',
    () => node.logs.some((l) => l.includes('listener ssl:default started')),
    20_000,
  );
});

after(async () => {
  await bed?.close();
});

test('mqtts:// verifies the chain and the host name; a wrong name or an unknown CA is refused', async () => {
  const c = await connect(`mqtts://${node.ip}:8883`, { ca: first.caCert, servername: HOST, clientId: 'a' });
  assert.equal(serialOf(c), serial(first.cert));
  await assert.rejects(
    connect(`mqtts://${node.ip}:8883`, { ca: first.caCert, servername: 'other.example.com', clientId: 'b' }),
    /altnames|Hostname/i,
  );
  const other = await createWebhookCertificates({ commonName: 'x', hosts: [HOST] });
  await assert.rejects(
    connect(`mqtts://${node.ip}:8883`, { ca: other.caCert, servername: HOST, clientId: 'c' }),
    /self[- ]signed|unable to verify|certificate/i,
  );
  // Over WebSocket the TLS options go to the ws library.
  const w = await connect(`wss://${node.ip}:8084/mqtt`, {
    clientId: 'w',
    // ws hands these to tls.connect (ClientOptions does not list servername).
    wsOptions: { ca: first.caCert, servername: HOST } as IClientOptions['wsOptions'],
  });
  assert.ok(w.connected);
});

test('rewritten files: new connections get the new certificate, an established one stays up', async () => {
  const old = await connect(`mqtts://${node.ip}:8883`, {
    ca: first.caCert,
    servername: HOST,
    clientId: 'old',
  });
  const next = await createWebhookCertificates({ commonName: HOST, hosts: [HOST] });
  const both = first.caCert + next.caCert;
  // The kubelet renames the files one after the other; the node keeps the old pair until both match.
  fs.writeFileSync(node.ctx.hostPath('/certs/tls.crt')!, next.cert);
  fs.writeFileSync(node.ctx.hostPath('/certs/tls.key')!, next.key);
  const want = serial(next.cert);
  const fresh = await waitFor(
    'a new connection with the new certificate',
    async () => {
      const c = await connect(`mqtts://${node.ip}:8883`, { ca: both, servername: HOST, clientId: 'new' });
      if (serialOf(c) === want) return c;
      c.end(true);
      return undefined;
    },
    20_000,
    300,
  );
  assert.equal(serialOf(fresh), want);
  assert.ok(old.connected, 'the connection made before the rotation is still up');
  const got = new Promise<string>((resolve) => old.on('message', (_t, p) => resolve(p.toString())));
  await old.subscribeAsync('rot/t', { qos: 1 });
  await fresh.publishAsync('rot/t', 'after rotation', { qos: 1 });
  assert.equal(await got, 'after rotation');
});

test('an https-only dashboard serves the REST API over TLS; the operator client verifies it by the core name', async () => {
  const name = `emqx-core-1.${HEADLESS}`;
  const certs = await createWebhookCertificates({ commonName: name, hosts: [name] });
  const ip = nextIp();
  bed.dns.add(name, ip, [HEADLESS]);
  const n = await bed.start({
    name: 'emqx-core-1',
    image: 'emqx/emqx:5.8.3',
    ip,
    env: {
      ...coreEnv('emqx-core-1'),
      EMQX_DASHBOARD__LISTENERS__HTTP__ENABLE: 'false',
      EMQX_DASHBOARD__LISTENERS__HTTPS__BIND: '18084',
    },
    files: {
      '/opt/emqx/data/bootstrap_api_key': BOOTSTRAP,
      '/opt/emqx/etc/emqx.conf':
        'dashboard.listeners.https.ssl_options { certfile = "/d/tls.crt", keyfile = "/d/tls.key" }\n',
      '/d/tls.crt': certs.cert,
      '/d/tls.key': certs.key,
    },
    dataDir: bed.volume('emqx-core-1'),
  });
  await waitFor('https dashboard', () => n.logs.some((l) => l.includes('dashboard listener https:')));
  assert.ok(!n.logs.some((l) => l.includes('dashboard listener http:')), 'no http listener');
  const [key, secret] = BOOTSTRAP.split('\n')[1]!.split(':') as [string, string];
  const client = new EmqxClient({
    targets: [`https://${ip}:18084`],
    apiKey: key,
    apiSecret: secret,
    registry: new Registry(),
    tls: { ca: certs.caCert, serverNames: { [ip]: name } },
  });
  const nodes = await waitFor('GET /api/v5/nodes over https', () => client.getNodes(), 20_000, 200);
  assert.ok(nodes.length >= 1);
});
