// End to end: the deprecated apps.emqx.io/v2alpha1 API through the real conversion webhook. The operator (a child
// process, restricted RBAC) serves the webhook and registers it on the CRD when it starts; the sandbox's real API
// server calls it for every v2alpha1 request and stores v2beta1.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import { OPERATOR_NAMESPACE, startOperatorProcess, useOperatorSandbox } from './support/operator.ts';
import type { OperatorProcess } from './support/operator.ts';
import { listPods, waitReady } from './support/emqx.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const EXAMPLE = path.join(ROOT, 'examples/v2alpha1.yaml');
const IMAGE = 'emqx/emqx:5.0.6';
const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/emqxes.apps.emqx.io';

const sb = useOperatorSandbox({ timeScale: 10 });

const alpha = (ns: string, name = 'emqx') => `/apis/apps.emqx.io/v2alpha1/namespaces/${ns}/emqxes/${name}`;
const beta = (ns: string, name = 'emqx') => `/apis/apps.emqx.io/v2beta1/namespaces/${ns}/emqxes/${name}`;

/** The webhook port the operator logged once it was running. */
function webhookPort(op: OperatorProcess): Promise<number> {
  return sb.waitFor(`${op.name} to log its webhook port`, () => {
    const line = op.logs().find((l) => l.msg === 'operator running');
    return typeof line?.webhookPort === 'number' ? line.webhookPort : undefined;
  });
}

/** A paused EMQX in `default` that the API server can only serve as v2alpha1 through the webhook. */
const PROBE = {
  apiVersion: 'apps.emqx.io/v2beta1',
  kind: 'EMQX',
  metadata: { name: 'probe', annotations: { 'apps.emqx.io/reconcile-paused': 'true' } },
  spec: { image: IMAGE },
};

/**
 * Waits until the CRD's conversion webhook points at `op`'s webhook server, and the API server uses it (it picks up
 * a changed CRD a moment later: until then conversions still go to the old address); resolves with the CRD.
 */
async function registeredFor(op: OperatorProcess): Promise<any> {
  const url = `https://127.0.0.1:${await webhookPort(op)}/convert`;
  const crd = await sb.waitFor(
    `the CRD's conversion webhook to be ${url}`,
    async () => {
      const crd = await sb.api.get<any>(CRD);
      return crd.spec.conversion?.webhook?.clientConfig?.url === url ? crd : undefined;
    },
    60_000,
  );
  await sb.apply(PROBE, 'default');
  await sb.waitFor(
    'the API server to convert through the registered webhook',
    () => sb.api.get(alpha('default', 'probe')),
    30_000,
  );
  return crd;
}

/** ConversionReviews the operator answered with Success, from its /metrics. */
async function conversionsServed(): Promise<number> {
  const base = await sb.waitFor('the operator health URL', () => sb.operator.healthUrl());
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = /^emqx_operator_conversions_total\{result="success"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

const V2ALPHA1_SMALL = (name: string, image: string) => `
apiVersion: apps.emqx.io/v2alpha1
kind: EMQX
metadata:
  name: ${name}
spec:
  emqxTemplate:
    image: ${image}
    bootstrapConfig: |
      log.console.level = debug
  coreTemplate:
    spec:
      replicas: 1
  replicantTemplate:
    spec:
      replicas: 0
`;

describe('conversion webhook: apps.emqx.io/v2alpha1', () => {
  it('is registered on the CRD by the operator, with the CA of its certificate', async () => {
    const crd = await registeredFor(sb.operator);
    const conversion = crd.spec.conversion;
    assert.equal(conversion.strategy, 'Webhook');
    assert.deepEqual(conversion.webhook.conversionReviewVersions, ['v1']);
    const secret = await sb.api.get<any>(
      `/api/v1/namespaces/${OPERATOR_NAMESPACE}/secrets/emqx-operator-webhook-cert`,
    );
    const pem = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
    assert.equal(
      pem(conversion.webhook.clientConfig.caBundle),
      pem(secret.data['ca.crt']),
      'caBundle is the CA in the certificate Secret',
    );
    const ca = new X509Certificate(pem(secret.data['ca.crt']));
    const served = new X509Certificate(pem(secret.data['tls.crt']));
    assert.equal(ca.ca, true);
    assert.ok(
      served.checkIssued(ca) && served.verify(ca.publicKey),
      'the served certificate is signed by the CA',
    );
    assert.equal(served.checkIP('127.0.0.1'), '127.0.0.1', 'valid for the URL the API server calls');
    assert.ok(served.validToDate.getTime() > Date.now() + 365 * 86_400_000);
    const versions = Object.fromEntries(crd.spec.versions.map((v: any) => [v.name, v]));
    assert.equal(versions.v2alpha1.served, true, 'v2alpha1 is served through the webhook');
    assert.equal(versions.v2alpha1.storage, false);
    assert.equal(versions.v2beta1.storage, true);
  });

  it('accepts the v2alpha1 example, stores it as v2beta1, serves it back, and the operator reconciles it', async (t) => {
    const ns = await sb.newNamespace(t);
    await registeredFor(sb.operator);
    const before = await conversionsServed();

    const out = await sb.kubectl(['apply', '-n', ns, '-f', EXAMPLE]);
    assert.match(out, /^emqx\.apps\.emqx\.io\/emqx created$/m);

    // Stored as v2beta1: the API server never stored a v2alpha1 object.
    const crd = await sb.api.get<any>(CRD);
    assert.deepEqual(crd.status.storedVersions, ['v2beta1']);

    const b = await sb.api.get<any>(beta(ns));
    assert.equal(b.apiVersion, 'apps.emqx.io/v2beta1');
    assert.equal(b.spec.image, IMAGE);
    assert.equal(b.spec.emqxTemplate, undefined);
    assert.equal(b.spec.coreTemplate.spec.replicas, 3, 'v2alpha1 defaults to 3 cores');
    assert.equal(b.spec.replicantTemplate.spec.replicas, 3, 'v2alpha1 defaults to 3 replicants');
    assert.equal(b.spec.coreTemplate.spec.dataVolume, 'EmptyDir', 'no persistent: core data in an emptyDir');

    // Read back as v2alpha1: exactly what the example says, the same object.
    const a = await sb.api.get<any>(alpha(ns));
    assert.equal(a.apiVersion, 'apps.emqx.io/v2alpha1');
    assert.deepEqual(a.spec, { emqxTemplate: { image: IMAGE } });
    assert.equal(a.metadata.uid, b.metadata.uid);

    const after = await conversionsServed();
    assert.ok(after > before, `the operator's webhook answered the conversions (${before} -> ${after})`);

    // The operator reconciles the v2beta1 object the example became.
    const sts = await sb.waitFor(
      'StatefulSet emqx-core with 3 replicas',
      async () => {
        const s = await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/statefulsets/emqx-core`);
        return s.spec.replicas === 3 ? s : undefined;
      },
      60_000,
    );
    assert.equal(sts.metadata.ownerReferences?.[0]?.uid, b.metadata.uid);
    assert.equal(sts.spec.template.spec.containers.find((c: any) => c.name === 'emqx')?.image, IMAGE);
    const rs = await sb.waitFor(
      'a replicant ReplicaSet with 3 replicas',
      async () => {
        const list = await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/replicasets`, {
          labelSelector: 'apps.emqx.io/instance=emqx,apps.emqx.io/db-role=replicant',
        });
        return list.items.find((r: any) => r.spec.replicas === 3);
      },
      120_000,
    );
    assert.match(rs.metadata.name, /^emqx-replicant-[a-z0-9]+$/);

    const e = await waitReady(sb, ns, 'emqx', 180_000);
    assert.equal(e.status!.cores, '3/3');
    assert.equal(e.status!.replicants, '3/3');
    for (const n of [...e.status!.coreNodes!, ...e.status!.replicantNodes!])
      assert.equal(n.version, '5.0.6', `${n.name} runs the v2alpha1 image`);
    const pods = await listPods(sb, ns);
    const roles = pods.map((p) => p.metadata.labels['apps.emqx.io/db-role']).sort();
    assert.deepEqual(roles, ['core', 'core', 'core', 'replicant', 'replicant', 'replicant']);

    // The status is shown in the v2alpha1 view too.
    const view = await sb.api.get<any>(alpha(ns));
    assert.equal(view.status?.phase, 'Ready');
  });

  it('edits made in either version reach the other; v2beta1-only fields survive a v2alpha1 edit', async (t) => {
    const ns = await sb.newNamespace(t);
    await registeredFor(sb.operator);
    await sb.kubectl(['apply', '-n', ns, '-f', '-'], V2ALPHA1_SMALL('emqx', IMAGE));
    const created = await sb.api.get<any>(beta(ns));
    assert.equal(created.spec.config.data, 'log.console.level = debug\n', 'bootstrapConfig -> config.data');
    assert.equal(created.spec.coreTemplate.spec.replicas, 1);
    assert.equal(created.spec.replicantTemplate.spec.replicas, 0);

    // A v2beta1 client sets fields v2alpha1 has no place for.
    await sb.api.patch(beta(ns), {
      spec: { revisionHistoryLimit: 5, coreTemplate: { spec: { minAvailable: 1 } } },
    });
    const view = await sb.api.get<any>(alpha(ns));
    assert.equal(view.spec.emqxTemplate.image, IMAGE);
    assert.equal(view.spec.coreTemplate.spec.replicas, 1);
    const carried = JSON.parse(view.metadata.annotations?.['apps.emqx.io/v2beta1-spec'] ?? '{}');
    assert.equal(carried.spec?.revisionHistoryLimit, 5, 'the v2alpha1 view carries the v2beta1-only fields');
    assert.equal(carried.spec?.coreTemplate?.spec?.minAvailable, 1);

    // A v2alpha1 client changes the image and the core count.
    await sb.api.patch(alpha(ns), {
      spec: { emqxTemplate: { image: 'emqx/emqx:5.0.7' }, coreTemplate: { spec: { replicas: 2 } } },
    });
    const b = await sb.api.get<any>(beta(ns));
    assert.equal(b.spec.image, 'emqx/emqx:5.0.7');
    assert.equal(b.spec.coreTemplate.spec.replicas, 2);
    assert.equal(b.spec.revisionHistoryLimit, 5, 'kept through the v2alpha1 edit');
    assert.equal(b.spec.coreTemplate.spec.minAvailable, 1, 'kept through the v2alpha1 edit');
    assert.equal(b.spec.config.data, 'log.console.level = debug\n');
    assert.equal(
      b.metadata.annotations?.['apps.emqx.io/v2beta1-spec'],
      undefined,
      'the view annotation is not stored',
    );

    // The operator follows the edit.
    await sb.waitFor(
      'StatefulSet emqx-core with 2 replicas of emqx/emqx:5.0.7',
      async () => {
        const s = await sb.api.get<any>(`/apis/apps/v1/namespaces/${ns}/statefulsets/emqx-core`);
        const image = s.spec.template.spec.containers.find((c: any) => c.name === 'emqx')?.image;
        return s.spec.replicas === 2 && image === 'emqx/emqx:5.0.7';
      },
      60_000,
    );
    await sb.waitFor(
      'PodDisruptionBudget emqx-core with minAvailable 1',
      async () =>
        (await sb.api.get<any>(`/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/emqx-core`)).spec
          .minAvailable === 1,
      60_000,
    );
  });

  it('a restarted operator registers its new webhook; v2beta1 reads never need it', async (t) => {
    const ns = await sb.newNamespace(t);
    await registeredFor(sb.operator);
    await sb.kubectl(['apply', '-n', ns, '-f', '-'], V2ALPHA1_SMALL('emqx', IMAGE));

    const oldPort = await webhookPort(sb.operator);
    await sb.operator.stop();
    // Stored as v2beta1, so v2beta1 reads work without the webhook; v2alpha1 reads go through it and fail.
    assert.equal((await sb.api.get<any>(beta(ns))).spec.image, IMAGE);
    await assert.rejects(sb.api.get(alpha(ns)), /conversion webhook/);

    sb.operator = startOperatorProcess(sb.sandbox, { logLevel: 'debug' });
    const crd = await registeredFor(sb.operator);
    assert.notEqual(await webhookPort(sb.operator), oldPort);
    assert.equal(crd.spec.conversion.strategy, 'Webhook');
    const a = await sb.api.get<any>(alpha(ns));
    assert.equal(a.spec.emqxTemplate.image, IMAGE);
    await sb.kubectl(['apply', '-n', ns, '-f', '-'], V2ALPHA1_SMALL('emqx-2', IMAGE));
    assert.equal((await sb.api.get<any>(beta(ns, 'emqx-2'))).spec.coreTemplate.spec.replicas, 1);
  });
});

describe('conversion webhook: registration over the committed CRDs', () => {
  it('replaces the in-cluster Service of deploy/crds with its own URL when run outside a cluster', async () => {
    await registeredFor(sb.operator);
    await sb.operator.stop();
    // The conversion stanza of deploy/crds: the operator's webhook Service, no URL.
    await sb.api.patch(CRD, {
      spec: {
        conversion: {
          webhook: {
            clientConfig: {
              url: null,
              service: {
                namespace: OPERATOR_NAMESPACE,
                name: 'emqx-operator-webhook',
                path: '/convert',
                port: 443,
              },
            },
          },
        },
      },
    });
    sb.operator = startOperatorProcess(sb.sandbox, { logLevel: 'debug' });
    const crd = await registeredFor(sb.operator);
    assert.equal(crd.spec.conversion.webhook.clientConfig.service, undefined);
  });
});
