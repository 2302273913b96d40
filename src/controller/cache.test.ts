import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tlsSecretIdentity } from './cache.ts';

test('cache: a TLS Secret is kept as name and version only, never its data', () => {
  const kept = tlsSecretIdentity({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'mqtt-tls', namespace: 'prod', uid: 'u', resourceVersion: '42', labels: { a: 'b' } },
    data: { 'tls.key': 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t' },
  } as never);
  assert.deepEqual(kept, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'mqtt-tls', namespace: 'prod', uid: 'u', resourceVersion: '42' },
  });
  assert.doesNotMatch(JSON.stringify(kept), /tls\.key|LS0t/);
});
