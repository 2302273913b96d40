import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replicantReplicaSet } from './replicaset.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';

const role = (r: string) => ({
  'apps.emqx.io/instance': 'emqx',
  'apps.emqx.io/managed-by': 'emqx-operator',
  'apps.emqx.io/db-role': r,
});

test('replicantReplicaSet: hashed name and selector, replicas, undefined without a template', () => {
  const emqx = makeEmqx({
    replicantTemplate: { metadata: { labels: { tier: 'edge' } }, spec: { replicas: 3 } },
  });
  const rs = replicantReplicaSet(emqx, {}, { hash: 'r1' });
  assert.equal(rs?.metadata?.name, 'emqx-replicant-r1');
  assert.equal(rs?.metadata?.labels?.tier, 'edge');
  assert.equal(rs?.spec?.replicas, 3);
  assert.deepEqual(rs?.spec?.selector?.matchLabels, {
    ...role('replicant'),
    'apps.emqx.io/pod-template-hash': 'r1',
  });
  assert.equal(rs?.spec?.template?.metadata?.labels?.['apps.emqx.io/pod-template-hash'], 'r1');
  assert.equal(
    rs?.spec?.template?.spec?.containers[0]?.env?.find((e) => e.name === 'EMQX_NODE__ROLE')?.value,
    'replicant',
  );
  assert.equal(replicantReplicaSet(makeEmqx(), {}, { hash: 'r1' }), undefined);
});
