import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { endpointSliceFor } from './endpointslices.ts';

const svc: V1Service = {
  metadata: { name: 'web', namespace: 'ns', uid: 'svc-uid' },
  spec: {
    selector: { app: 'web' },
    ports: [
      { name: 'https', port: 443, targetPort: 'webhook' as never },
      { name: 'metrics', port: 8080, targetPort: 9090 as never },
    ],
  },
};

function pod(
  name: string,
  ip: string | undefined,
  ready: boolean,
  labels = { app: 'web' },
  extra: Partial<V1Pod['metadata']> = {},
): V1Pod {
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, labels, ...extra },
    spec: { nodeName: 'n0', containers: [{ name: 'c', ports: [{ name: 'webhook', containerPort: 9443 }] }] },
    status: {
      podIP: ip,
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}

test('one FQDN slice per Service: selected pods with an IP, named target ports resolved, readiness carried', () => {
  const s = endpointSliceFor(svc, [
    pod('b', '127.1.0.3', false),
    pod('a', '127.1.0.2', true),
    pod('other', '127.1.0.4', true, { app: 'db' } as never),
    pod('pending', undefined, false),
    pod('gone', '127.1.0.5', true, undefined, { deletionTimestamp: new Date() }),
  ])!;
  assert.equal(s.metadata.name, 'web-sandbox');
  assert.equal(s.metadata.labels['kubernetes.io/service-name'], 'web');
  assert.equal(s.metadata.ownerReferences[0]!.uid, 'svc-uid');
  assert.equal(s.addressType, 'FQDN');
  assert.deepEqual(s.ports, [
    { name: 'https', port: 9443, protocol: 'TCP' },
    { name: 'metrics', port: 9090, protocol: 'TCP' },
  ]);
  assert.deepEqual(
    s.endpoints.map((e) => [e.targetRef.name, e.addresses[0], e.conditions.ready, e.conditions.terminating]),
    [
      ['a', '127.1.0.2', true, false],
      ['b', '127.1.0.3', false, false],
      ['gone', '127.1.0.5', false, true],
    ],
  );
});

test('no slice for a Service without a selector; publishNotReadyAddresses marks not-ready pods ready', () => {
  assert.equal(endpointSliceFor({ ...svc, spec: { ...svc.spec, selector: undefined } }, []), undefined);
  const s = endpointSliceFor({ ...svc, spec: { ...svc.spec, publishNotReadyAddresses: true } }, [
    pod('b', '127.1.0.3', false),
  ])!;
  assert.deepEqual(s.endpoints[0]!.conditions, { ready: true, serving: false, terminating: false });
});
