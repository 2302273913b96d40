// End to end: the conversion webhook certificate over time. The operator (a child process, restricted RBAC) runs
// with a 40 s certificate (`--webhook-cert-validity 40s`: renewed with half left, checked every 4 s), and the real
// API server keeps converting v2alpha1 through it past the first certificate's end: the Secret gets a new
// certificate and a CA bundle with the new and the previous CA, the CRD's caBundle follows, the webhook serves the
// new certificate to new connections (no restart).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { OPERATOR_NAMESPACE, useOperatorSandbox, type OperatorProcess } from './support/operator.ts';

const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/emqxes.apps.emqx.io';
const SECRET = `/api/v1/namespaces/${OPERATOR_NAMESPACE}/secrets/emqx-operator-webhook-cert`;
const VALIDITY_MS = 40_000;

const sb = useOperatorSandbox({ timeScale: 10, operatorArgs: ['--webhook-cert-validity', '40s'] });

const pem = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function webhookPort(op: OperatorProcess): Promise<number> {
  return sb.waitFor(`${op.name} to log its webhook port`, () => {
    const line = op.logs().find((l) => l.msg === 'operator running');
    return typeof line?.webhookPort === 'number' ? line.webhookPort : undefined;
  });
}

/** The certificate the webhook serves to a new connection now. */
function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const raw = s.getPeerCertificate().raw;
      s.end();
      resolve(new X509Certificate(raw));
    });
    s.once('error', reject);
  });
}

const PROBE = {
  apiVersion: 'apps.emqx.io/v2beta1',
  kind: 'EMQX',
  metadata: { name: 'probe', annotations: { 'apps.emqx.io/reconcile-paused': 'true' } },
  spec: { image: 'emqx/emqx:5.8.3' },
};
const convert = () => sb.api.get<any>('/apis/apps.emqx.io/v2alpha1/namespaces/default/emqxes/probe');

describe('conversion webhook certificate', () => {
  it('is renewed before it expires; conversions keep working past the first certificate', async (t) => {
    const port = await webhookPort(sb.operator);
    const url = `https://127.0.0.1:${port}/convert`;
    await sb.waitFor(
      'the operator to register its webhook',
      async () => (await sb.api.get<any>(CRD)).spec.conversion?.webhook?.clientConfig?.url === url,
      60_000,
    );
    await sb.apply(PROBE, 'default');
    await sb.waitFor('a first conversion', convert, 30_000);
    const first = await servedCertificate(port);
    const firstEnd = first.validToDate.getTime();
    assert.ok(
      firstEnd - Date.now() <= VALIDITY_MS + 1000,
      `the certificate is short-lived (${first.validTo})`,
    );

    // Renewed with half of the validity left: the Secret, then the CRD, then what the webhook serves.
    const renewed = await sb.waitFor(
      'the webhook to serve a renewed certificate',
      async () => {
        const c = await servedCertificate(port);
        return c.serialNumber !== first.serialNumber ? c : undefined;
      },
      VALIDITY_MS,
      500,
    );
    const leftAtSwitch = firstEnd - Date.now();
    t.diagnostic(`renewed certificate served with ${leftAtSwitch} ms of the first one left`);
    assert.ok(leftAtSwitch > 0, 'served before the first certificate expired');
    const secret = await sb.api.get<any>(SECRET);
    assert.equal(new X509Certificate(pem(secret.data['tls.crt'])).serialNumber, renewed.serialNumber);
    const cas = pem(secret.data['ca.crt'])
      .match(PEM_CERT)!
      .map((p) => new X509Certificate(p));
    assert.equal(cas.length, 2, 'the new CA and the previous one while replicas switch');
    assert.ok(renewed.checkIssued(cas[0]!) && first.checkIssued(cas[1]!));
    const crd = await sb.api.get<any>(CRD);
    assert.equal(pem(crd.spec.conversion.webhook.clientConfig.caBundle), pem(secret.data['ca.crt']));

    // Past the first certificate's end, the API server still converts through the webhook.
    await sb.waitFor(
      'the first certificate to expire',
      async () => Date.now() > firstEnd + 1000,
      60_000,
      500,
    );
    const after = await convert();
    assert.equal(after.apiVersion, 'apps.emqx.io/v2alpha1');
    assert.ok(
      sb.operator.logs().some((l) => l.msg === 'webhook serves a renewed certificate'),
      'the operator says it switched',
    );
  });
});
