import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { describe, it } from 'node:test';
import { createSelfSignedCertificate } from './cert.ts';

describe('self-signed certificate', () => {
  it('parses, carries the SANs, and is valid for the requested period', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const c = createSelfSignedCertificate({
      commonName: 'emqx-operator-webhook',
      hosts: ['emqx-operator-webhook.emqx-operator-system.svc', '127.0.0.1', '::1'],
      days: 30,
      now,
    });
    const x = new X509Certificate(c.cert);
    assert.equal(x.subject, 'CN=emqx-operator-webhook');
    assert.equal(x.issuer, x.subject);
    assert.match(x.subjectAltName ?? '', /DNS:emqx-operator-webhook\.emqx-operator-system\.svc/);
    assert.match(x.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.match(x.subjectAltName ?? '', /IP Address:0:0:0:0:0:0:0:1/);
    assert.equal(new Date(x.validTo).getTime() > now.getTime() + 29 * 86_400_000, true);
    assert.equal(
      x.checkHost('emqx-operator-webhook.emqx-operator-system.svc'),
      'emqx-operator-webhook.emqx-operator-system.svc',
    );
    assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(x.ca, false);
  });

  it('serves TLS that a client verifying against it as CA accepts', async () => {
    const c = createSelfSignedCertificate({ commonName: 'test', hosts: ['127.0.0.1'] });
    const server = https.createServer({ cert: c.cert, key: c.key }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port, path: '/', ca: c.cert }, (res) => {
            let data = '';
            res.on('data', (d) => (data += d));
            res.on('end', () => resolve(data));
          })
          .on('error', reject);
      });
      assert.equal(body, 'ok');
    } finally {
      server.close();
    }
  });
});
