// The EMQX client against an https dashboard (a local node:https server on 127.0.0.1 with a certificate for a
// core's stable DNS name): verified against the given CA and the name the target IP maps to; a wrong CA or name
// is refused before any request is sent; with TLS options, credentials never go to an http target.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createWebhookCertificates } from '../webhook/cert.ts';
import { Registry } from '../observability/metrics.ts';
import { EmqxClient } from './client.ts';

const NAME = 'emqx-core-0.emqx-headless.default.svc.cluster.local';
const servers: Array<http.Server | https.Server> = [];
after(() => {
  for (const s of servers) s.close();
});

async function serve(
  make: (h: http.RequestListener) => http.Server | https.Server,
): Promise<{ port: number; auth: Array<string | undefined> }> {
  const auth: Array<string | undefined> = [];
  const server = make((req, res) => {
    auth.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, auth };
}

const client = (target: string, tls?: { ca?: string; serverNames?: Record<string, string> }) =>
  new EmqxClient({
    targets: [target],
    apiKey: 'emqx-operator-controller',
    apiSecret: 'secret-value-123',
    registry: new Registry(),
    timeoutMs: 3000,
    ...(tls && { tls }),
  });

test('https dashboard: verified against the CA and the DNS name of the target IP', async () => {
  const certs = await createWebhookCertificates({ commonName: NAME, hosts: [NAME] });
  const { port, auth } = await serve((h) => https.createServer({ cert: certs.cert, key: certs.key }, h));
  const url = `https://127.0.0.1:${port}`;
  assert.deepEqual(
    await client(url, { ca: certs.caCert, serverNames: { '127.0.0.1': NAME } }).getNodes(),
    [],
  );
  assert.equal(auth.length, 1);

  const other = await createWebhookCertificates({ commonName: 'x', hosts: [NAME] });
  await assert.rejects(client(url, { ca: other.caCert, serverNames: { '127.0.0.1': NAME } }).getNodes());
  await assert.rejects(
    client(url, { ca: certs.caCert, serverNames: { '127.0.0.1': 'emqx-core-1.other.svc' } }).getNodes(),
  );
  await assert.rejects(
    client(url, { ca: certs.caCert }).getNodes(),
    (err: Error) => err instanceof Error,
    'the bare IP is not in the cert',
  );
  assert.equal(auth.length, 1, 'no request reached the server over an unverified connection');
});

test('with TLS options, credentials are never sent to an http target', async () => {
  const { port, auth } = await serve((h) => http.createServer(h));
  await assert.rejects(
    client(`http://127.0.0.1:${port}`, { serverNames: {} }).getNodes(),
    /refusing to send credentials over plain http/,
  );
  assert.equal(auth.length, 0);
  assert.deepEqual(await client(`http://127.0.0.1:${port}`).getNodes(), [], 'plain http without TLS options');
});
