// End to end: spec.tls with the operator running unchanged against the sandbox. MQTT.js clients connect over
// mqtts:// and wss:// through the listeners Service, verifying the chain and the host name the Service really has;
// the Secret is then replaced (what cert-manager does on renewal): a new connection gets the new certificate, a
// connection made before stays up and keeps working, no pod restarts, the status and an Event show the new serial.
// A Secret without its key halts the operator's changes with a condition naming the Secret.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IClientOptions } from 'mqtt';
import { createWebhookCertificates } from '../src/webhook/cert.ts';
import { readMetrics, useOperatorSandbox } from './support/operator.ts';
import { serviceHost } from './support/mqtt-load.ts';
import { example, getEmqx, listPods, patchEmqx, waitReady } from './support/emqx.ts';
import { mqttConnector, serial, serialOf, tlsSecret } from './support/tls.ts';

// A Ready cluster is looked at again only every 10 minutes: the status and Event after a renewal must come from
// the operator's watch on TLS Secrets, not from a periodic pass.
const sb = useOperatorSandbox({ timeScale: 10, operatorArgs: ['--ready-interval', '10m'] });
const connect = mqttConnector();

async function events(ns: string, reason: string): Promise<any[]> {
  const list = await sb.api.get<{ items: any[] }>(`/apis/events.k8s.io/v1/namespaces/${ns}/events`);
  return list.items.filter((e) => e.reason === reason && e.regarding?.name === 'emqx');
}

describe('operator: spec.tls', () => {
  it('mqtts and wss through the listeners Service; a replaced Secret is served to new connections, old ones stay', async (t) => {
    const ns = await sb.newNamespace(t);
    const svcName = `emqx-listeners.${ns}.svc.cluster.local`;
    const first = await createWebhookCertificates({
      commonName: svcName,
      hosts: [svcName, `emqx-listeners.${ns}.svc`],
    });
    await sb.apply(tlsSecret('emqx-mqtt-tls', first), ns);
    await sb.apply(example('tls.yaml', ns), ns);
    const ready = await waitReady(sb, ns);
    assert.equal(ready.status?.certificates?.[0]?.serial, serial(first.cert));
    assert.equal(ready.status?.conditions?.find((c) => c.type === 'CertificatesReady')?.status, 'True');

    // The key stays out of the ConfigMap; the paths are in it.
    const cm = (await sb.api.get(`/api/v1/namespaces/${ns}/configmaps/emqx-configs`)) as any;
    assert.match(cm.data['emqx.conf'], /certfile/);
    assert.doesNotMatch(JSON.stringify(cm), /PRIVATE KEY/);

    const ip = await serviceHost(sb.api, ns, 'emqx-listeners');
    const tlsOpts = { ca: first.caCert, servername: svcName, rejectUnauthorized: true };
    const old = await sb.waitFor(
      'an mqtts:// connection through the listeners Service',
      () => connect(`mqtts://${ip}:8883`, { ...tlsOpts, clientId: 'old' }),
      60_000,
      500,
    );
    assert.equal(serialOf(old), serial(first.cert));
    await assert.rejects(
      connect(`mqtts://${ip}:8883`, { ...tlsOpts, servername: 'wrong.example.com', clientId: 'x' }),
      /altnames/,
      'the host name is verified',
    );
    const ws = await connect(`wss://${ip}:8084/mqtt`, {
      clientId: 'ws',
      wsOptions: { ca: first.caCert, servername: svcName } as IClientOptions['wsOptions'],
    });
    assert.ok(ws.connected);
    const podsBefore = (await listPods(sb, ns)).map((p) => `${p.metadata.name}/${p.metadata.uid}`).sort();

    // The operator goes idle first (no pass for 3 s), so that only the Secret watch can bring the next pass.
    const passes = async () =>
      (await readMetrics(sb.operator))
        .filter((m) => m.name === 'emqx_operator_reconcile_total')
        .reduce((a, m) => a + m.value, 0);
    await sb.waitFor(
      'the operator to be idle',
      async () => {
        const before = await passes();
        await new Promise((r) => setTimeout(r, 3000));
        return (await passes()) === before;
      },
      90_000,
      0,
    );

    // Renewal: cert-manager rewrites the Secret with a new key and certificate.
    const next = await createWebhookCertificates({ commonName: svcName, hosts: [svcName] });
    await sb.apply(tlsSecret('emqx-mqtt-tls', next), ns);
    const started = Date.now();
    const fresh = await sb.waitFor(
      'a new connection to get the new certificate',
      async () => {
        const c = await connect(`mqtts://${ip}:8883`, {
          ca: first.caCert + next.caCert,
          servername: svcName,
          clientId: `new-${Date.now()}`,
        });
        if (serialOf(c) === serial(next.cert)) return c;
        c.end(true);
        return undefined;
      },
      120_000,
      1000,
    );
    t.diagnostic(`new certificate served ${Date.now() - started} ms after the Secret changed`);
    assert.ok(old.connected && ws.connected, 'connections made before the renewal are still up');
    const got = new Promise<string>((resolve) => old.on('message', (_t, p) => resolve(p.toString())));
    await old.subscribeAsync('tls/renewed', { qos: 1 });
    await fresh.publishAsync('tls/renewed', 'hello', { qos: 1 });
    assert.equal(await got, 'hello');
    const podsAfter = (await listPods(sb, ns)).map((p) => `${p.metadata.name}/${p.metadata.uid}`).sort();
    assert.deepEqual(podsAfter, podsBefore, 'no pod was replaced');

    await sb.waitFor(
      'status.certificates and a CertificateRotated Event with the new serial, from the Secret watch',
      async () => {
        const e = await getEmqx(sb, ns);
        const ev = await events(ns, 'CertificateRotated');
        return (
          e?.status?.certificates?.[0]?.serial === serial(next.cert) &&
          ev.some((x) => String(x.note).includes(serial(next.cert)))
        );
      },
      20_000,
      200,
    );
    t.diagnostic(
      `status and Event showed the new serial ${Date.now() - started} ms after the Secret changed`,
    );

    // A Secret without its key: nothing changes, the condition and an Event name the Secret.
    const gen = (await getEmqx(sb, ns))!.metadata.generation;
    await sb.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'broken-tls' },
        data: { 'tls.crt': Buffer.from(next.cert).toString('base64') },
      },
      ns,
    );
    await patchEmqx(sb, ns, { spec: { tls: { listeners: { secretName: 'broken-tls' } } } });
    const e = await sb.waitFor(
      'CertificatesReady False naming the Secret',
      async () => {
        const e = await getEmqx(sb, ns);
        const c = e?.status?.conditions?.find((x) => x.type === 'CertificatesReady');
        return c?.status === 'False' && c.reason === 'InvalidCertificate' && e!.metadata.generation! > gen!
          ? c
          : undefined;
      },
      60_000,
      500,
    );
    assert.match(e.message, /Secret "broken-tls" has no tls\.key/);
    assert.ok((await events(ns, 'InvalidCertificate')).length > 0);
    const sts = (await sb.api.get(`/apis/apps/v1/namespaces/${ns}/statefulsets/emqx-core`)) as any;
    assert.ok(
      sts.spec.template.spec.volumes.some((v: any) => v.secret?.secretName === 'emqx-mqtt-tls'),
      'the StatefulSet still mounts the good Secret (no rollout)',
    );
  });

  it('perListener: a listener with its own Secret serves it, the others the default; each rotates on its own', async (t) => {
    const ns = await sb.newNamespace(t);
    const svcName = `emqx-listeners.${ns}.svc.cluster.local`;
    const dflt = await createWebhookCertificates({ commonName: svcName, hosts: [svcName] });
    const internal = await createWebhookCertificates({ commonName: svcName, hosts: [svcName] });
    await sb.apply(tlsSecret('default-tls', dflt), ns);
    await sb.apply(tlsSecret('internal-tls', internal), ns);
    const emqx = example('tls.yaml', ns);
    emqx.spec.config = { data: 'listeners.ssl.internal { bind = "0.0.0.0:8884" }' };
    emqx.spec.tls = {
      listeners: {
        secretName: 'default-tls',
        perListener: [{ listener: 'ssl:internal', secretName: 'internal-tls' }],
      },
    };
    await sb.apply(emqx, ns);
    const ready = await waitReady(sb, ns);
    assert.deepEqual(
      ready.status?.certificates?.map((c) => `${c.name} ${c.secretName} ${c.serial}`),
      [`listeners default-tls ${serial(dflt.cert)}`, `ssl:internal internal-tls ${serial(internal.cert)}`],
    );
    const ip = await serviceHost(sb.api, ns, 'emqx-listeners');
    const opts = (ca: string, id: string) => ({ ca, servername: svcName, clientId: id });
    const onDefault = await sb.waitFor(
      'mqtts on 8883 (the default certificate)',
      () => connect(`mqtts://${ip}:8883`, opts(dflt.caCert, 'd')),
      60_000,
      500,
    );
    assert.equal(serialOf(onDefault), serial(dflt.cert));
    const onInternal = await sb.waitFor(
      "mqtts on 8884 (the listener's own certificate)",
      () => connect(`mqtts://${ip}:8884`, opts(internal.caCert, 'i')),
      60_000,
      500,
    );
    assert.equal(serialOf(onInternal), serial(internal.cert));

    // The listener's own Secret is renewed: 8884 serves the new one, 8883 keeps the default.
    const renewed = await createWebhookCertificates({ commonName: svcName, hosts: [svcName] });
    await sb.apply(tlsSecret('internal-tls', renewed), ns);
    await sb.waitFor(
      'a new connection on 8884 to get the renewed certificate',
      async () => {
        const c = await connect(
          `mqtts://${ip}:8884`,
          opts(internal.caCert + renewed.caCert, `i-${Date.now()}`),
        );
        return serialOf(c) === serial(renewed.cert) ? c : (c.end(true), undefined);
      },
      120_000,
      1000,
    );
    const again = await connect(`mqtts://${ip}:8883`, opts(dflt.caCert, 'd2'));
    assert.equal(serialOf(again), serial(dflt.cert));
    assert.ok(onInternal.connected, 'the connection made before the renewal is still up');
    await sb.waitFor(
      "status.certificates to show the listener's new serial",
      async () =>
        (await getEmqx(sb, ns))?.status?.certificates?.find((c) => c.name === 'ssl:internal')?.serial ===
        serial(renewed.cert),
      20_000,
      200,
    );
  });
});
