// End to end: spec.tls.listeners.issuerRef (cert-manager) with the operator running unchanged against the sandbox.
// cert-manager's own CRDs are installed (from its Go module, sandbox/build/fetch-cert-manager-crds.sh), so the
// API server checks the Certificate the operator writes against cert-manager's real schema. cert-manager's
// controller cannot run here: the test does what it would do, writing the Secret it would issue (a real certificate
// from a test CA for exactly the Certificate's DNS names and addresses, with the Certificate's secretTemplate
// labels). MQTT.js then connects over mqtts:// verifying the chain and the Service's host name; a renewal (a new
// Secret) is served to new connections while an old connection stays up.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createWebhookCertificates, type WebhookCertificates } from '../src/webhook/cert.ts';
import { certManagerCrdTexts, resolveCertManagerCrds } from '../sandbox/cluster/cert-manager.ts';
import { useOperatorSandbox } from './support/operator.ts';
import { serviceHost } from './support/mqtt-load.ts';
import { example, getEmqx, listPods, patchEmqx, waitReady } from './support/emqx.ts';
import { mqttConnector, serial, serialOf, tlsSecret } from './support/tls.ts';

const sb = useOperatorSandbox({ timeScale: 10, operatorArgs: ['--ready-interval', '2s'] });
const connect = mqttConnector();

/** The Secret cert-manager writes for `cert`: kubernetes.io/tls, the secretTemplate's labels, its annotations. */
function issuedSecret(cert: any, c: WebhookCertificates) {
  return tlsSecret(cert.spec.secretName, c, {
    labels: { ...cert.spec.secretTemplate?.labels, 'controller.cert-manager.io/fao': 'true' },
    annotations: {
      'cert-manager.io/certificate-name': cert.metadata.name,
      'cert-manager.io/issuer-name': cert.spec.issuerRef.name,
      'cert-manager.io/issuer-kind': cert.spec.issuerRef.kind,
      'cert-manager.io/issuer-group': cert.spec.issuerRef.group,
    },
  });
}

/** What cert-manager's issuer would sign: the Certificate's DNS names and IP addresses. */
const issue = (cert: any) =>
  createWebhookCertificates({
    commonName: cert.spec.dnsNames[0],
    hosts: [...cert.spec.dnsNames, ...(cert.spec.ipAddresses ?? [])],
  });

describe('operator: spec.tls with cert-manager', () => {
  // In the suite, so that it runs after the sandbox's own (top-level) hooks.
  before(async () => {
    const dir = await resolveCertManagerCrds();
    for (const text of certManagerCrdTexts(dir)) await sb.apply(text);
    await sb.waitFor(
      "the API server to serve cert-manager's Certificate",
      () =>
        sb.api
          .get('/apis/cert-manager.io/v1')
          .then((l: any) => l.resources?.some((r: any) => r.kind === 'Certificate')),
      30_000,
      250,
    );
  });

  it('refuses secretName and issuerRef together at admission', async (t) => {
    const ns = await sb.newNamespace(t);
    const bad = example('tls-cert-manager.yaml', ns);
    bad.spec.tls.listeners.secretName = 'mine';
    await assert.rejects(sb.apply(bad, ns), /set either secretName .* or issuerRef/);
  });

  it('creates a Certificate valid for cert-manager, serves the Secret it issues, and a renewal', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(
      {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Issuer',
        metadata: { name: 'emqx-ca' },
        spec: { ca: { secretName: 'emqx-ca' } },
      },
      ns,
    );
    await sb.apply(example('tls-cert-manager.yaml', ns), ns);
    const certPath = `/apis/cert-manager.io/v1/namespaces/${ns}/certificates/emqx-listeners-tls`;
    const svcName = `emqx-listeners.${ns}.svc.cluster.local`;

    // The Certificate, with the names the Services and pods have, owned by the resource.
    const cert = await sb.waitFor(
      'the operator to create the Certificate',
      () => sb.api.get(certPath).catch(() => undefined) as Promise<any>,
      60_000,
      500,
    );
    t.diagnostic(`Certificate dnsNames: ${cert.spec.dnsNames.join(' ')}`);
    for (const n of [
      'emqx-listeners',
      `emqx-listeners.${ns}`,
      `emqx-listeners.${ns}.svc`,
      svcName,
      `*.emqx-headless.${ns}.svc.cluster.local`,
      'mqtt.example.com',
    ])
      assert.ok(cert.spec.dnsNames.includes(n), `dnsNames has ${n}`);
    assert.deepEqual(cert.spec.issuerRef, { name: 'emqx-ca', kind: 'Issuer', group: 'cert-manager.io' });
    assert.equal(cert.spec.secretName, 'emqx-listeners-tls');
    // Every field the operator writes was kept by cert-manager's structural schema (unknown ones would be pruned).
    assert.deepEqual(cert.spec.privateKey, { rotationPolicy: 'Always' });
    assert.deepEqual(cert.spec.usages, ['server auth', 'digital signature', 'key encipherment']);
    assert.deepEqual(cert.spec.secretTemplate, {
      labels: { 'apps.emqx.io/instance': 'emqx', 'apps.emqx.io/managed-by': 'emqx-operator' },
    });
    const emqx = (await getEmqx(sb, ns))!;
    assert.equal(cert.metadata.ownerReferences?.[0]?.uid, emqx.metadata.uid, 'owned by the EMQX resource');

    // Until cert-manager issued it, nothing rolls out and the condition says why.
    const waiting = await sb.waitFor(
      'CertificatesReady False: waiting for cert-manager',
      async () =>
        (await getEmqx(sb, ns))?.status?.conditions?.find(
          (c) => c.type === 'CertificatesReady' && c.status === 'False',
        ),
      30_000,
      250,
    );
    assert.match(waiting.message!, /waiting for cert-manager to issue Certificate "emqx-listeners-tls"/);
    await assert.rejects(sb.api.get(`/apis/apps/v1/namespaces/${ns}/statefulsets/emqx-core`), /HTTP 404/);

    // cert-manager issues: the Secret appears; the cluster comes up serving it.
    const first = await issue(cert);
    await sb.apply(issuedSecret(cert, first), ns);
    const ready = await waitReady(sb, ns);
    assert.equal(ready.status?.certificates?.[0]?.secretName, 'emqx-listeners-tls');
    assert.equal(ready.status?.certificates?.[0]?.serial, serial(first.cert));

    const ip = await serviceHost(sb.api, ns, 'emqx-listeners');
    const old = await sb.waitFor(
      'an mqtts:// connection through the listeners Service',
      () =>
        connect(`mqtts://${ip}:8883`, {
          ca: first.caCert,
          servername: svcName,
          rejectUnauthorized: true,
          clientId: 'old',
        }),
      60_000,
      500,
    );
    assert.equal(serialOf(old), serial(first.cert));
    const podsBefore = (await listPods(sb, ns)).map((p) => `${p.metadata.name}/${p.metadata.uid}`).sort();

    // The LoadBalancer got its address: the operator adds it to the Certificate (cert-manager then re-issues).
    const svc = await sb.waitFor(
      'the listeners LoadBalancer address',
      async () => {
        const s = (await sb.api.get(`/api/v1/namespaces/${ns}/services/emqx-listeners`)) as any;
        return s.status?.loadBalancer?.ingress?.[0]?.ip ? s : undefined;
      },
      60_000,
      500,
    );
    const lbIp: string = svc.status.loadBalancer.ingress[0].ip;
    const updated = await sb.waitFor(
      'the Certificate to carry the LoadBalancer address',
      async () => {
        const c = (await sb.api.get(certPath)) as any;
        return c.spec.ipAddresses?.includes(lbIp) ? c : undefined;
      },
      30_000,
      250,
    );

    // Renewal: cert-manager writes a new key and certificate (now with the address) into the same Secret.
    const next = await issue(updated);
    await sb.apply(issuedSecret(updated, next), ns);
    const started = Date.now();
    await sb.waitFor(
      'status.certificates with the new serial (the Secret is watched)',
      async () => (await getEmqx(sb, ns))?.status?.certificates?.[0]?.serial === serial(next.cert),
      30_000,
      200,
    );
    t.diagnostic(`status showed the new serial ${Date.now() - started} ms after the Secret changed`);
    const fresh = await sb.waitFor(
      'a new connection to the LoadBalancer address to get the renewed certificate, verified by IP',
      async () => {
        const c = await connect(`mqtts://${lbIp}:8883`, {
          ca: first.caCert + next.caCert,
          clientId: `new-${Date.now()}`,
        }).catch(() => undefined);
        if (!c || serialOf(c) === serial(next.cert)) return c;
        c.end(true);
        return undefined;
      },
      120_000,
      1000,
    );
    t.diagnostic(`renewed certificate served ${Date.now() - started} ms after the Secret changed`);
    assert.ok(old.connected, 'the connection made before the renewal is still up');
    const got = new Promise<string>((resolve) => old.on('message', (_t, p) => resolve(p.toString())));
    await old.subscribeAsync('tls/renewed', { qos: 1 });
    await fresh.publishAsync('tls/renewed', 'hello', { qos: 1 });
    assert.equal(await got, 'hello');
    const podsAfter = (await listPods(sb, ns)).map((p) => `${p.metadata.name}/${p.metadata.uid}`).sort();
    assert.deepEqual(podsAfter, podsBefore, 'no pod was replaced');
    old.end(true);
    fresh.end(true);

    // The user drops spec.tls: once no pod mounts the issued Secret any more, the Certificate goes, and with it the
    // Secret cert-manager issued (a Normal Deleted Event each).
    await patchEmqx(sb, ns, { spec: { tls: null } });
    const dropped = Date.now();
    const secretPath = `/api/v1/namespaces/${ns}/secrets/emqx-listeners-tls`;
    const gone = (path: string) =>
      sb.api.get(path).then(
        () => false,
        (err: Error) => /HTTP 404/.test(err.message),
      );
    await sb.waitFor(
      'the Certificate and the Secret it issued to be deleted',
      async () => (await gone(certPath)) && (await gone(secretPath)),
      180_000,
      1000,
    );
    t.diagnostic(`Certificate and Secret deleted ${Date.now() - dropped} ms after spec.tls was dropped`);
    const mounting = (await listPods(sb, ns)).filter((p: any) =>
      (p.spec.volumes ?? []).some((v: any) => v.secret?.secretName === 'emqx-listeners-tls'),
    );
    assert.deepEqual(
      mounting.map((p: any) => p.metadata.name),
      [],
      'no pod mounts the Secret once it is deleted',
    );
    const events = (await sb.api.get(`/apis/events.k8s.io/v1/namespaces/${ns}/events`)) as any;
    const deletedNotes = events.items
      .filter((ev: any) => ev.reason === 'Deleted')
      .map((ev: any) => ev.note)
      .sort();
    assert.deepEqual(deletedNotes, [
      'Certificate emqx-listeners-tls deleted: spec.tls.listeners.issuerRef is unset',
      'Secret emqx-listeners-tls deleted: spec.tls.listeners.issuerRef is unset',
    ]);
  });
});
