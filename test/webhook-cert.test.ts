// End to end: the conversion webhook certificate over time. The operator (a child process, restricted RBAC) runs
// with a 40 s certificate (`--webhook-cert-validity 40s`: renewed with half left, checked every 4 s), and the real
// API server keeps converting v2alpha1 through it past the first certificate's end: the Secret gets a new
// certificate and a CA bundle with the new and the previous CA, the CRD's caBundle follows, the webhook serves the
// new certificate to new connections (no restart).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { CONTENT_TYPE } from '../sandbox/kubelet/api.ts';
import { createWebhookCertificates, type WebhookCertificates } from '../src/webhook/cert.ts';
import { tlsSecret } from './support/tls.ts';
import {
  OPERATOR_NAMESPACE,
  startOperatorProcess,
  useOperatorSandbox,
  type OperatorProcess,
} from './support/operator.ts';

const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/emqxes.apps.emqx.io';
const SECRET = `/api/v1/namespaces/${OPERATOR_NAMESPACE}/secrets/emqx-operator-webhook-cert`;
const VALIDITY_MS = 40_000;
const WAITING_FOR_CA =
  "webhook certificate in the Secret not served yet: the CRD's caBundle does not trust it";

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

  it('--webhook-cert-provider cert-manager: reads the Secret, never writes it or the caBundle, serves a renewal once injected', async () => {
    // cert-manager's part, played by the test: the Secret it issues and the caBundle its CA injector writes.
    await sb.operator.stop();
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    const issue = (validityMs: number) =>
      createWebhookCertificates({ commonName: 'webhook', hosts: ['127.0.0.1'], validityMs });
    const writeSecret = (c: WebhookCertificates) =>
      sb.apply(tlsSecret('emqx-operator-webhook-cert', c), OPERATOR_NAMESPACE);
    const inject = (bundle: string) =>
      sb.api.request('PATCH', CRD, {
        body: { spec: { conversion: { webhook: { clientConfig: { caBundle: b64(bundle) } } } } },
        contentType: CONTENT_TYPE.merge,
      });
    const one = await issue(120_000);
    await writeSecret(one);
    await inject(one.caCert);
    const op = startOperatorProcess(sb.sandbox, {
      name: 'operator-cm',
      args: ['--webhook-cert-provider', 'cert-manager'],
    });
    sb.operator = op;
    const port = await webhookPort(op);
    const url = `https://127.0.0.1:${port}/convert`;
    await sb.waitFor(
      'operator-cm to register its webhook URL',
      async () => (await sb.api.get<any>(CRD)).spec.conversion?.webhook?.clientConfig?.url === url,
      60_000,
    );
    assert.equal(
      pem((await sb.api.get<any>(CRD)).spec.conversion.webhook.clientConfig.caBundle),
      one.caCert,
      'the caBundle is left as the injector wrote it',
    );
    await sb.waitFor('a conversion through operator-cm', convert, 30_000);
    assert.equal((await servedCertificate(port)).serialNumber, new X509Certificate(one.cert).serialNumber);

    // Renewal with a new CA: not served while the API server does not trust it yet.
    const two = await issue(120_000);
    const [stored] = await writeSecret(two);
    const written = stored!.metadata!.resourceVersion;
    await sb.waitFor(
      'operator-cm to find the renewed certificate not trusted yet',
      () =>
        op
          .logs()
          .some(
            (l) =>
              l.msg === WAITING_FOR_CA &&
              l.serial === new X509Certificate(two.cert).serialNumber.toLowerCase(),
          ),
      40_000,
      500,
    );
    assert.equal(
      (await servedCertificate(port)).serialNumber,
      new X509Certificate(one.cert).serialNumber,
      'a certificate the caBundle does not trust yet is not served',
    );
    await inject(two.caCert + one.caCert);
    await sb.waitFor(
      'operator-cm to serve the renewed certificate once injected',
      async () => (await servedCertificate(port)).serialNumber === new X509Certificate(two.cert).serialNumber,
      40_000,
      500,
    );
    await convert();
    assert.equal(
      (await sb.api.get<any>(SECRET)).metadata.resourceVersion,
      written,
      "the operator never wrote cert-manager's Secret",
    );
  });
});
