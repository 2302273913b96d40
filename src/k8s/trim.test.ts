import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from './rest.ts';
import { trimForCache } from './trim.ts';

test('trimForCache keeps field sets only in the operator’s own Apply entries; other entries keep who and when', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      labels: { a: 'b' },
      managedFields: [
        { manager: 'emqx-operator', operation: 'Apply', fieldsV1: { 'f:metadata': {} } },
        { manager: 'emqx-operator', operation: 'Apply', subresource: 'status', fieldsV1: { 'f:status': {} } },
        { manager: 'kubelet', operation: 'Update', subresource: 'status', fieldsV1: { 'f:status': {} } },
        { manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': {} } },
        { manager: 'emqx-operator', operation: 'Update', fieldsV1: {} },
      ],
    },
    spec: { containers: [{ name: 'c' }] },
  } as unknown as KubeObject;
  const out = trimForCache(pod);
  const mf = (
    out.metadata as {
      managedFields: Array<{ manager: string; operation: string; subresource?: string; fieldsV1?: unknown }>;
    }
  ).managedFields;
  assert.deepEqual(
    mf.map((e) => `${e.manager}/${e.operation}/${e.subresource ?? ''}/${e.fieldsV1 ? 'fields' : '-'}`),
    [
      'emqx-operator/Apply//fields',
      'emqx-operator/Apply/status/fields',
      'kubelet/Update/status/-',
      'kube-controller-manager/Update//-',
      'emqx-operator/Update//-',
    ],
  );
  assert.deepEqual(out.metadata?.labels, { a: 'b' });
  assert.deepEqual((out as unknown as { spec: unknown }).spec, { containers: [{ name: 'c' }] });
});

test('trimForCache leaves an object without managedFields as it is, and keeps an empty list empty', () => {
  const bare = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } } as KubeObject;
  assert.deepEqual(trimForCache(structuredClone(bare)), bare);
  const other = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c', managedFields: [{ manager: 'kubectl', operation: 'Update' }] },
  } as unknown as KubeObject;
  // no entry of ours: the other manager's entry stays, without field sets (needsApply sees the object as not owned)
  assert.deepEqual((trimForCache(other).metadata as { managedFields: unknown[] }).managedFields, [
    { manager: 'kubectl', operation: 'Update' },
  ]);
});
