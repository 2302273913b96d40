import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EMQX } from '../api/types.ts';
import { certificateDnsNames, tlsCertificate, tlsCertificates } from './certificate.ts';
import { buildAll } from './index.ts';
import { tlsSecretName, tlsSecretRefs, tlsVolumes } from './tls.ts';
import { parseEmqxConfig } from '../emqx/config.ts';

function emqx(tls: EMQX['spec']['tls'], extra: Partial<EMQX['spec']> = {}): EMQX {
  return {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace: 'prod', uid: 'u-1' },
    spec: { image: 'emqx/emqx:5.8.3', clusterDomain: 'corp.local', ...(tls && { tls }), ...extra },
  };
}

test('certificate: no Certificate for a Secret the user keeps, nor without spec.tls', () => {
  assert.equal(tlsCertificate(emqx({ listeners: { secretName: 'mine' } }), 'listeners'), undefined);
  assert.deepEqual(tlsCertificates(emqx(undefined)), []);
});

test('certificate: the listeners Certificate carries the Service, headless and LoadBalancer names', () => {
  const e = emqx({ listeners: { issuerRef: { name: 'ca' }, extraDNSNames: ['MQTT.example.com'] } });
  const c = tlsCertificate(e, 'listeners', {
    hostnames: ['lb.example.net'],
    ips: ['203.0.113.7', '203.0.113.7'],
  })!;
  assert.equal(c.apiVersion, 'cert-manager.io/v1');
  assert.equal(c.metadata.name, 'emqx-listeners-tls');
  assert.equal(c.metadata.namespace, 'prod');
  assert.equal(c.metadata.ownerReferences?.[0]?.uid, 'u-1');
  assert.equal(c.spec.secretName, 'emqx-listeners-tls');
  assert.deepEqual(c.spec.issuerRef, { name: 'ca', kind: 'Issuer', group: 'cert-manager.io' });
  assert.deepEqual(c.spec.dnsNames, [
    'emqx-listeners',
    'emqx-listeners.prod',
    'emqx-listeners.prod.svc',
    'emqx-listeners.prod.svc.corp.local',
    '*.emqx-headless.prod.svc.corp.local',
    '*.emqx-headless.prod.svc',
    'lb.example.net',
    'mqtt.example.com',
  ]);
  assert.deepEqual(c.spec.ipAddresses, ['203.0.113.7']);
  assert.deepEqual(c.spec.secretTemplate.labels, {
    'apps.emqx.io/instance': 'emqx',
    'apps.emqx.io/managed-by': 'emqx-operator',
  });
  // No LoadBalancer address yet: no ipAddresses field at all (not an empty list).
  assert.equal('ipAddresses' in tlsCertificate(e, 'listeners')!.spec, false);
});

test('certificate: the dashboard Certificate names the dashboard Service, never the listeners LoadBalancer', () => {
  const e = emqx({
    dashboard: { issuerRef: { name: 'ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } },
  });
  const c = tlsCertificate(e, 'dashboard', { hostnames: ['lb.example.net'], ips: ['203.0.113.7'] })!;
  assert.equal(c.metadata.name, 'emqx-dashboard-tls');
  assert.equal(c.spec.issuerRef.kind, 'ClusterIssuer');
  assert.ok(c.spec.dnsNames.includes('emqx-dashboard.prod.svc.corp.local'));
  assert.ok(c.spec.dnsNames.includes('*.emqx-headless.prod.svc.corp.local'), 'the cores the operator calls');
  assert.ok(!c.spec.dnsNames.includes('lb.example.net'));
  assert.equal(c.spec.ipAddresses, undefined);
  assert.deepEqual(certificateDnsNames(e, 'dashboard').length, 6);
});

test('certificate: the issued Secret is mounted and checked like a user Secret', () => {
  const e = emqx({ listeners: { issuerRef: { name: 'ca' } }, dashboard: { secretName: 'dash' } });
  assert.equal(tlsSecretName(e, 'listeners'), 'emqx-listeners-tls');
  assert.equal(tlsSecretName(e, 'dashboard'), 'dash');
  assert.deepEqual(
    tlsVolumes(e).volumes.map((v) => v.secret?.secretName),
    ['emqx-listeners-tls', 'dash'],
  );
  assert.deepEqual(
    tlsSecretRefs(e).map((r) => `${r.field}=${r.secretName}`),
    ['spec.tls.listeners.issuerRef=emqx-listeners-tls', 'spec.tls.dashboard.secretName=dash'],
  );
});

test('certificate: buildAll puts the Certificates first (render shows them; act applies them before the Secrets)', () => {
  const e = emqx({ listeners: { issuerRef: { name: 'ca' } } });
  const objs = buildAll(e, parseEmqxConfig(undefined), {
    cookie: 'c',
    operatorKey: { key: 'emqx-operator-controller', secret: 'operator-secret' },
    userKeys: [],
    listenersLoadBalancer: { hostnames: [], ips: ['203.0.113.9'] },
  });
  assert.equal(objs[0]?.kind, 'Certificate');
  assert.deepEqual((objs[0] as { spec: { ipAddresses?: string[] } }).spec.ipAddresses, ['203.0.113.9']);
  assert.equal(objs.filter((o) => o.kind === 'Certificate').length, 1);
});
