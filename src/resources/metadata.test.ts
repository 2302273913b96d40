import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childMeta, ownerReferences } from './metadata.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';

test('ownerReferences: a controller reference when the uid is known, nothing otherwise', () => {
  assert.deepEqual(ownerReferences(makeEmqx()), [
    {
      apiVersion: 'apps.emqx.io/v2beta1',
      kind: 'EMQX',
      name: 'emqx',
      uid: 'uid-1234',
      controller: true,
      blockOwnerDeletion: true,
    },
  ]);
  assert.equal(ownerReferences(makeEmqx({}, { name: 'emqx' })), undefined);
});

test('childMeta: namespace (default when absent), instance labels that user labels cannot override', () => {
  const m = childMeta(makeEmqx(), 'x', {
    labels: { 'apps.emqx.io/instance': 'evil', team: 'a' },
    annotations: { note: 'n' },
  });
  assert.equal(m.name, 'x');
  assert.equal(m.namespace, 'ns1');
  assert.deepEqual(m.labels, {
    team: 'a',
    'apps.emqx.io/instance': 'emqx',
    'apps.emqx.io/managed-by': 'emqx-operator',
  });
  assert.deepEqual(m.annotations, { note: 'n' });
  assert.equal(childMeta(makeEmqx({}, { name: 'e' }), 'y').namespace, 'default');
  assert.equal(childMeta(makeEmqx({}, { name: 'e' }), 'y').ownerReferences, undefined);
  assert.equal(childMeta(makeEmqx(), 'y', { annotations: {} }).annotations, undefined);
});
