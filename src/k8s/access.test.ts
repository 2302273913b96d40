// The operator's own kubeconfig handling (./access.ts, ./config.ts) against local node:https servers on 127.0.0.1:
// the server certificate is verified against the kubeconfig's CA, client certificates are presented, a rotated
// token file is picked up, plain http needs insecure-skip-tls-verify, and a kubeconfig the loader does not handle
// itself (an exec plugin) still works through client-node.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createWebhookCertificates } from '../webhook/cert.ts';
import { ClientNodeAccess, KubeconfigAccess, TOKEN_FILE_TTL_MS } from './access.ts';
import { loadKubeConfig } from './config.ts';
import { KubeClient, KubeRequestError } from './rest.ts';

const servers: Array<http.Server | https.Server> = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

interface Seen {
  auth: string | undefined;
  clientCert: string | undefined;
}

async function serve(make: (h: http.RequestListener) => http.Server | https.Server) {
  const seen: Seen[] = [];
  const server = make((req, res) => {
    const socket = req.socket as TLSSocket;
    const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
    const cn = peer?.subject?.CN;
    seen.push({ auth: req.headers.authorization, clientCert: Array.isArray(cn) ? cn.join(',') : cn });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"major":"1","minor":"36"}');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, seen };
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'access-test-'));
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('kubeconfig file: the server is verified against its CA, the client certificate (relative paths) is presented', async () => {
  const server = await createWebhookCertificates({ commonName: 'kube-apiserver', hosts: ['127.0.0.1'] });
  const clientCa = await createWebhookCertificates({ commonName: 'operator-client', hosts: ['operator'] });
  const { port, seen } = await serve((h) =>
    https.createServer(
      {
        cert: server.cert,
        key: server.key,
        ca: clientCa.caCert,
        requestCert: true,
        rejectUnauthorized: false,
      },
      h,
    ),
  );
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'client.crt'), clientCa.cert);
  fs.writeFileSync(path.join(dir, 'client.key'), clientCa.key);
  const file = path.join(dir, 'kubeconfig');
  const write = (ca: string) =>
    fs.writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}", certificate-authority-data: ${b64(ca)}}}]`,
        'users: [{name: u, user: {client-certificate: client.crt, client-key: client.key}}]',
        'contexts: [{name: ctx, context: {cluster: c, user: u, namespace: ns1}}]',
        'current-context: ctx',
        '',
      ].join('\n'),
    );
  write(server.caCert);
  const loaded = loadKubeConfig({ kubeconfig: file, env: {} });
  assert.ok(loaded.access instanceof KubeconfigAccess, 'handled without client-node');
  assert.equal(loaded.namespace, 'ns1');
  const client = new KubeClient(loaded.access, { timeoutMs: 5000 });
  assert.deepEqual(await client.request('GET', '/version'), { major: '1', minor: '36' });
  assert.deepEqual(seen, [{ auth: undefined, clientCert: 'operator-client' }]);

  // another CA: the TLS handshake fails, nothing reaches the server
  const other = await createWebhookCertificates({ commonName: 'x', hosts: ['127.0.0.1'] });
  write(other.caCert);
  const wrong = new KubeClient(loadKubeConfig({ kubeconfig: file, env: {} }).access, { timeoutMs: 5000 });
  await assert.rejects(wrong.request('GET', '/version'), KubeRequestError);
  assert.equal(seen.length, 1, 'no request over an unverified connection');
});

test('token file: sent as a bearer token and re-read once older than the TTL (rotation)', async () => {
  const server = await createWebhookCertificates({ commonName: 'kube-apiserver', hosts: ['127.0.0.1'] });
  const { port, seen } = await serve((h) => https.createServer({ cert: server.cert, key: server.key }, h));
  const dir = tmp();
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, 'first\n');
  let now = 1_000_000;
  const access = new KubeconfigAccess({
    server: `https://127.0.0.1:${port}/`,
    ca: Buffer.from(server.caCert),
    tokenFile,
    now: () => now,
  });
  assert.equal(access.server, `https://127.0.0.1:${port}`);
  const client = new KubeClient(access, { timeoutMs: 5000 });
  await client.request('GET', '/version');
  fs.writeFileSync(tokenFile, 'second\n');
  now += TOKEN_FILE_TTL_MS - 1;
  await client.request('GET', '/version');
  now += 2;
  await client.request('GET', '/version');
  fs.rmSync(tokenFile);
  now += TOKEN_FILE_TTL_MS;
  await client.request('GET', '/version'); // a failed re-read keeps the last token
  assert.deepEqual(
    seen.map((s) => s.auth),
    ['Bearer first', 'Bearer first', 'Bearer second', 'Bearer second'],
  );
  await access.close();
});

test('CA and client certificate files: re-read once older than the TTL, a half-rotated pair waits', async () => {
  const server = await createWebhookCertificates({ commonName: 'kube-apiserver', hosts: ['127.0.0.1'] });
  const { port, seen } = await serve((h) =>
    https.createServer(
      { cert: server.cert, key: server.key, requestCert: true, rejectUnauthorized: false },
      h,
    ),
  );
  const other = await createWebhookCertificates({ commonName: 'x', hosts: ['127.0.0.1'] });
  const first = await createWebhookCertificates({ commonName: 'client-1', hosts: ['operator'] });
  const second = await createWebhookCertificates({ commonName: 'client-2', hosts: ['operator'] });
  const dir = tmp();
  const caFile = path.join(dir, 'ca.crt');
  const certFile = path.join(dir, 'client.crt');
  const keyFile = path.join(dir, 'client.key');
  // the CA file does not sign the server yet (a CA rotation under way)
  fs.writeFileSync(caFile, other.caCert);
  fs.writeFileSync(certFile, first.cert);
  fs.writeFileSync(keyFile, first.key);
  let now = 1_000_000;
  const access = new KubeconfigAccess({
    server: `https://127.0.0.1:${port}`,
    ca: fs.readFileSync(caFile),
    cert: fs.readFileSync(certFile),
    key: fs.readFileSync(keyFile),
    caFile,
    certFile,
    keyFile,
    now: () => now,
  });
  const client = new KubeClient(access, { timeoutMs: 5000 });
  await assert.rejects(client.request('GET', '/version'), KubeRequestError);
  fs.writeFileSync(caFile, other.caCert + server.caCert);
  now += TOKEN_FILE_TTL_MS - 1;
  await assert.rejects(client.request('GET', '/version'), KubeRequestError, 'not read again before the TTL');
  now += 2;
  await client.request('GET', '/version'); // the new CA bundle is used
  // the certificate is rotated first, its key a moment later: the old pair is kept until both match
  fs.writeFileSync(certFile, second.cert);
  now += TOKEN_FILE_TTL_MS;
  await client.request('GET', '/version');
  fs.writeFileSync(keyFile, second.key);
  now += TOKEN_FILE_TTL_MS - 1;
  await client.request('GET', '/version');
  now += 2;
  await client.request('GET', '/version');
  // a failed read keeps the last pair
  fs.rmSync(certFile);
  now += TOKEN_FILE_TTL_MS;
  await client.request('GET', '/version');
  assert.deepEqual(
    seen.map((s) => s.clientCert),
    ['client-1', 'client-1', 'client-1', 'client-2', 'client-2'],
  );
  await access.close();
});

test('in-cluster: the CA and token of the service-account directory', async () => {
  const server = await createWebhookCertificates({ commonName: 'kube-apiserver', hosts: ['127.0.0.1'] });
  const { port, seen } = await serve((h) => https.createServer({ cert: server.cert, key: server.key }, h));
  const sa = tmp();
  fs.writeFileSync(path.join(sa, 'token'), 'sa-token');
  fs.writeFileSync(path.join(sa, 'ca.crt'), server.caCert);
  fs.writeFileSync(path.join(sa, 'namespace'), 'operators');
  const r = loadKubeConfig({
    env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) },
    serviceAccountDir: sa,
    home: sa,
  });
  assert.equal(r.source, 'in-cluster');
  assert.equal(r.namespace, 'operators');
  await new KubeClient(r.access, { timeoutMs: 5000 }).request('GET', '/version');
  assert.deepEqual(
    seen.map((s) => s.auth),
    ['Bearer sa-token'],
  );
});

test('plain http only with insecure-skip-tls-verify; basic auth', async () => {
  const { port, seen } = await serve((h) => http.createServer(h));
  assert.throws(
    () => new KubeconfigAccess({ server: `http://127.0.0.1:${port}`, token: 't' }),
    /plain http needs insecure-skip-tls-verify/,
  );
  const access = new KubeconfigAccess({
    server: `http://127.0.0.1:${port}`,
    insecureSkipTLSVerify: true,
    username: 'admin',
    password: 'pw',
  });
  await new KubeClient(access).request('GET', '/version');
  assert.deepEqual(
    seen.map((s) => s.auth),
    [`Basic ${b64('admin:pw')}`],
  );
  assert.throws(() => new KubeconfigAccess({ server: 'ftp://x' }), /only https/);
  assert.throws(
    () => new KubeconfigAccess({ server: 'https://x', cert: Buffer.from('c') }),
    /both a certificate and a key/,
  );
});

test('a kubeconfig with an exec plugin goes through client-node, and its token is sent', async () => {
  const { port, seen } = await serve((h) => http.createServer(h));
  const dir = tmp();
  const cred = JSON.stringify({
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { token: 'from-exec' },
  });
  const file = path.join(dir, 'kubeconfig');
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'c', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } },
      ],
      users: [
        {
          name: 'u',
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: '/bin/sh',
              args: ['-c', `echo '${cred}'`],
              interactiveMode: 'Never',
            },
          },
        },
      ],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'ctx',
    }),
  );
  const r = loadKubeConfig({ kubeconfig: file, env: {} });
  assert.ok(r.access instanceof ClientNodeAccess);
  await new KubeClient(r.access, { timeoutMs: 5000 }).request('GET', '/version');
  assert.deepEqual(
    seen.map((s) => s.auth),
    ['Bearer from-exec'],
  );
});
