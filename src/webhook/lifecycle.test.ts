import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWebhookCertificates } from './cert.ts';
import {
  bundleTrusts,
  checkIntervalMs,
  pemCertificates,
  renewBeforeMs,
  renewedCaBundle,
  webhookCertVerdict,
} from './lifecycle.ts';

const HOSTS = ['127.0.0.1', 'emqx-operator-webhook.ops.svc'];
const NOW = new Date('2026-12-01T12:00:00Z');
const DAY = 86_400_000;

test('webhookCertVerdict: missing, expiring within renewBefore, or not valid for a host → renew; else keep', async () => {
  const c = await createWebhookCertificates({
    commonName: 'w',
    hosts: HOSTS,
    validityMs: 90 * DAY,
    now: NOW,
  });
  assert.deepEqual(webhookCertVerdict(undefined, HOSTS, NOW, 30 * DAY), {
    renew: true,
    reason: 'missing',
    detail: 'no certificate yet',
  });
  assert.equal(webhookCertVerdict({ ...c, cert: 'garbage' }, HOSTS, NOW, 30 * DAY).renew, true);
  const fine = webhookCertVerdict(c, HOSTS, NOW, 30 * DAY);
  assert.equal(fine.renew, false);
  // 61 days later: 29 days left, within the 30 days before the end
  const later = webhookCertVerdict(c, HOSTS, new Date(NOW.getTime() + 61 * DAY), 30 * DAY);
  assert.equal(later.renew && later.reason, 'expiring');
  // the webhook Service moved to another namespace
  const moved = webhookCertVerdict(c, ['127.0.0.1', 'emqx-operator-webhook.other.svc'], NOW, 30 * DAY);
  assert.equal(moved.renew && moved.reason, 'hosts');
  assert.match(moved.renew ? moved.detail : '', /emqx-operator-webhook\.other\.svc/);
  assert.equal(webhookCertVerdict(c, ['10.0.0.1'], NOW, 0).renew, true, 'an IP it was not issued for');
});

test('renewedCaBundle: the new CA first, then the previous one while valid; never more than two', async () => {
  const a = await createWebhookCertificates({ commonName: 'a', hosts: HOSTS, validityMs: DAY, now: NOW });
  const b = await createWebhookCertificates({ commonName: 'b', hosts: HOSTS, validityMs: DAY, now: NOW });
  const c = await createWebhookCertificates({ commonName: 'c', hosts: HOSTS, validityMs: DAY, now: NOW });
  const ab = renewedCaBundle(b.caCert, a.caCert, NOW);
  assert.deepEqual(
    pemCertificates(ab).map((x) => x.subject),
    ['CN=b CA', 'CN=a CA'],
  );
  assert.ok(bundleTrusts(ab, a.cert) && bundleTrusts(ab, b.cert), 'both leaves verify while replicas switch');
  const bc = renewedCaBundle(c.caCert, ab, NOW);
  assert.deepEqual(
    pemCertificates(bc).map((x) => x.subject),
    ['CN=c CA', 'CN=b CA'],
  );
  assert.equal(bundleTrusts(bc, a.cert), false);
  // an expired previous CA is dropped
  assert.equal(
    pemCertificates(renewedCaBundle(b.caCert, a.caCert, new Date(NOW.getTime() + 2 * DAY))).length,
    1,
  );
  assert.equal(renewedCaBundle(a.caCert, a.caCert, NOW), renewedCaBundle(a.caCert, undefined, NOW));
});

test('bundleTrusts: only a bundle holding the issuing CA (or the certificate itself) trusts a leaf', async () => {
  const a = await createWebhookCertificates({ commonName: 'a', hosts: HOSTS, now: NOW });
  const b = await createWebhookCertificates({ commonName: 'b', hosts: HOSTS, now: NOW });
  assert.equal(bundleTrusts(a.caCert, a.cert), true);
  assert.equal(bundleTrusts(b.caCert, a.cert), false);
  assert.equal(
    bundleTrusts(a.cert, a.cert),
    true,
    'a self-signed certificate is its own CA (cert-manager selfSigned)',
  );
  assert.equal(bundleTrusts('', a.cert), false);
  assert.equal(bundleTrusts(a.caCert, 'not a certificate'), false);
});

test('check interval and renewal margin: half of the validity left, checked every tenth, at most hourly', () => {
  assert.equal(renewBeforeMs(90_000), 45_000);
  assert.equal(checkIntervalMs(90_000), 9_000);
  assert.ok(3 * checkIntervalMs(90_000) < renewBeforeMs(90_000), 'three checks fit in the margin');
  assert.equal(checkIntervalMs(3650 * DAY), 3_600_000);
  assert.equal(checkIntervalMs(100), 1000);
});
