import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { createWebhookCertificates } from './cert.ts';
import { startWebhookServer } from './server.ts';
import type { WebhookServer } from './server.ts';
import { nullLogger } from '../observability/logger.ts';

const cert = await createWebhookCertificates({ commonName: 'test', hosts: ['127.0.0.1'] });

function post(
  port: number,
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/convert', method: 'POST', ca: cert.caCert, headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('conversion webhook server limits', () => {
  let server: WebhookServer;
  before(async () => {
    server = await startWebhookServer({
      host: '127.0.0.1',
      port: 0,
      cert: cert.cert,
      key: cert.key,
      logger: nullLogger,
      maxBodyBytes: 64 * 1024,
    });
  });
  after(() => server.close());

  const review = JSON.stringify({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'ConversionReview',
    request: { uid: 'u-1', desiredAPIVersion: 'apps.emqx.io/v2beta1', objects: [] },
  });

  it('converts a well-formed review', async () => {
    const r = await post(server.port, review, { 'content-type': 'application/json' });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text).response.uid, 'u-1');
  });

  it('refuses a body over the limit with 413, by declared length and while streaming (chunked)', async () => {
    const big = Buffer.alloc(200 * 1024, 0x20);
    const declared = await post(server.port, big, { 'content-type': 'application/json' });
    assert.equal(declared.status, 413);
    assert.match(declared.text, /larger than 65536 bytes/);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: server.port,
          path: '/convert',
          method: 'POST',
          ca: cert.caCert,
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write(Buffer.alloc(16 * 1024, 0x20));
      req.end();
    });
    assert.equal(chunked, 413);
  });

  it('refuses anything but application/json with 415', async () => {
    const r = await post(server.port, review, { 'content-type': 'text/plain' });
    assert.equal(r.status, 415);
    const none = await post(server.port, review, {});
    assert.equal(none.status, 415);
  });
});
