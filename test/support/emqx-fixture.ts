// Test fixtures for the builder tests (not used by the operator): a defaulted EMQX from a partial spec.
import { applyDefaults } from '../../src/api/defaults.ts';
import type { EMQX, EMQXSpec } from '../../src/api/types.ts';

export function makeEmqx(
  spec: Partial<EMQXSpec> = {},
  metadata: EMQX['metadata'] = { name: 'emqx', namespace: 'ns1', uid: 'uid-1234' },
): EMQX {
  return applyDefaults({
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata,
    spec: { image: 'emqx/emqx:5.8.3', ...spec },
  });
}
