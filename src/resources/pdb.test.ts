import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podDisruptionBudget } from './pdb.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';

const role = (r: string) => ({
  'apps.emqx.io/instance': 'emqx',
  'apps.emqx.io/managed-by': 'emqx-operator',
  'apps.emqx.io/db-role': r,
});

test('podDisruptionBudget: role selector, user budget or maxUnavailable 1', () => {
  const pdb = podDisruptionBudget(makeEmqx(), 'core');
  assert.equal(pdb?.apiVersion, 'policy/v1');
  assert.equal(pdb?.metadata?.name, 'emqx-core');
  assert.deepEqual(pdb?.spec, { maxUnavailable: 1, selector: { matchLabels: role('core') } });
  const emqx = makeEmqx({
    coreTemplate: { spec: { minAvailable: '50%' } },
    replicantTemplate: { spec: { maxUnavailable: 2 } },
  });
  assert.deepEqual(podDisruptionBudget(emqx, 'core')?.spec, {
    minAvailable: '50%',
    selector: { matchLabels: role('core') },
  });
  assert.equal(podDisruptionBudget(emqx, 'replicant')?.metadata?.name, 'emqx-replicant');
  assert.deepEqual(podDisruptionBudget(emqx, 'replicant')?.spec, {
    maxUnavailable: 2,
    selector: { matchLabels: role('replicant') },
  });
  assert.equal(podDisruptionBudget(makeEmqx(), 'replicant'), undefined);
});
