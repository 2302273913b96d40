import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import https from 'node:https';
import { describe, it } from 'node:test';
import type * as CertModule from './cert.ts';
import { createInChildProcess, createWebhookCertificates } from './cert.ts';

const SVC = 'emqx-operator-webhook.emqx-operator-system.svc';

/** GET / over TLS to a local server, trusting `ca`, checking the server's identity against `servername`. */
function get(port: number, ca: string, servername?: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: '/', ca, servername, agent: false }, (res) => {
        let data = '';
        res.on('data', (d) => (data += d));
        res.on('end', () => resolve(data));
      })
      .on('error', reject);
  });
}

describe('webhook certificates', () => {
  it('the serving certificate carries the SANs, the validity and is signed by the CA', async () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const c = await createWebhookCertificates({
      commonName: 'emqx-operator-webhook',
      hosts: [SVC, `${SVC}.cluster.local`, '127.0.0.1', '::1'],
      days: 30,
      now,
    });
    const ca = new X509Certificate(c.caCert);
    const leaf = new X509Certificate(c.cert);

    assert.equal(ca.ca, true);
    assert.equal(ca.subject, 'CN=emqx-operator-webhook CA');
    assert.equal(ca.issuer, ca.subject, 'the CA is self-signed');
    assert.equal(ca.verify(ca.publicKey), true);

    assert.equal(leaf.ca, false);
    assert.equal(leaf.subject, 'CN=emqx-operator-webhook');
    assert.equal(leaf.issuer, ca.subject);
    assert.equal(leaf.checkIssued(ca), true);
    assert.equal(leaf.verify(ca.publicKey), true, 'signed by the CA');
    assert.equal(leaf.verify(leaf.publicKey), false, 'not self-signed');
    assert.equal(leaf.checkPrivateKey(createPrivateKey(c.key)), true);
    assert.match(c.key, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extended key usage: serverAuth');

    assert.equal(
      leaf.subjectAltName,
      `DNS:${SVC}, DNS:${SVC}.cluster.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1`,
    );
    assert.equal(leaf.checkHost(SVC), SVC);
    assert.equal(leaf.checkHost('other.emqx-operator-system.svc'), undefined);
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(leaf.checkIP('::1'), '::1');

    for (const x of [ca, leaf]) {
      assert.equal(x.validFromDate.getTime(), now.getTime() - 5 * 60_000);
      assert.equal(x.validToDate.getTime(), now.getTime() + 30 * 86_400_000);
    }
    assert.equal(c.notAfter.getTime(), now.getTime() + 30 * 86_400_000);
    assert.notEqual(ca.serialNumber, leaf.serialNumber);
  });

  it('each call makes a new CA and key', async () => {
    const a = await createWebhookCertificates({ commonName: 'w', hosts: ['127.0.0.1'] });
    const b = await createWebhookCertificates({ commonName: 'w', hosts: ['127.0.0.1'] });
    assert.notEqual(a.key, b.key);
    assert.equal(new X509Certificate(a.cert).verify(new X509Certificate(b.caCert).publicKey), false);
  });

  it('rejects an empty host list', async () => {
    await assert.rejects(createWebhookCertificates({ commonName: 'w', hosts: [] }), /at least one host/);
  });

  it('serves TLS that a client trusting only the CA accepts, by IP and by Service DNS name', async () => {
    const c = await createWebhookCertificates({ commonName: 'test', hosts: [SVC, '127.0.0.1'] });
    const other = await createWebhookCertificates({ commonName: 'test', hosts: [SVC, '127.0.0.1'] });
    const server = https.createServer({ cert: c.cert, key: c.key }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      assert.equal(await get(port, c.caCert), 'ok');
      assert.equal(await get(port, c.caCert, SVC), 'ok');
      await assert.rejects(get(port, c.caCert, 'wrong.emqx-operator-system.svc'), /altnames/);
      await assert.rejects(get(port, other.caCert), /self-signed|unable to verify|signature/i);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('in a child process: the same certificates, and the calling process never loads the X.509 library', async () => {
    // A fresh process imports cert.ts, asks for certificates through the child, and reports whether the
    // library's Reflect polyfill (loaded with @peculiar/x509) ever arrived in it.
    const probe = `
      const { createInChildProcess } = await import(${JSON.stringify(new URL('./cert.ts', import.meta.url).href)});
      const c = await createInChildProcess({ commonName: 'w', hosts: ['127.0.0.1', 'w.ns.svc'], days: 2, now: new Date('2026-03-01T00:00:00Z') });
      process.stdout.write(JSON.stringify({ c, loaded: typeof Reflect.getMetadata === 'function' }));`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', probe], (e, so, se) =>
        e ? reject(new Error(se)) : resolve(so),
      ),
    );
    const { c, loaded } = JSON.parse(out) as {
      c: { caCert: string; cert: string; key: string; notAfter: string };
      loaded: boolean;
    };
    assert.equal(loaded, false, 'the X.509 library was loaded in the calling process');
    const leaf = new X509Certificate(c.cert);
    assert.ok(leaf.checkIssued(new X509Certificate(c.caCert)));
    assert.ok(leaf.checkPrivateKey(createPrivateKey(c.key)));
    assert.equal(leaf.subjectAltName, 'IP Address:127.0.0.1, DNS:w.ns.svc');
    assert.equal(c.notAfter, '2026-03-03T00:00:00.000Z');
    assert.equal(new Date(leaf.validTo).toISOString(), '2026-03-03T00:00:00.000Z');
  });

  it("in a child process: the child's own error is the rejection", async () => {
    await assert.rejects(
      createInChildProcess({ commonName: 'w', hosts: [] }),
      /certificate process failed: .*at least one host/,
    );
    const made = await createInChildProcess({ commonName: 'w', hosts: ['127.0.0.1'] });
    assert.ok(made.notAfter instanceof Date && made.notAfter > new Date());
  });

  it('in a child process from a directory whose path needs escaping in a URL (a space)', async () => {
    // inside the repository, so that the copies find the library in node_modules as the originals do
    const dir = path.resolve(import.meta.dirname, '../../.sandbox', `cert child ${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      for (const f of ['cert.ts', 'cert-child.ts'])
        copyFileSync(path.join(import.meta.dirname, f), path.join(dir, f));
      const copy = (await import(pathToFileURL(path.join(dir, 'cert.ts')).href)) as typeof CertModule;
      const made = await copy.createInChildProcess({ commonName: 'w', hosts: ['127.0.0.1'] });
      assert.match(made.cert, /BEGIN CERTIFICATE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
