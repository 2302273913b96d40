import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEmqxConfig } from '../emqx/config.ts';
import { discoveryRbac } from './rbac.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';

test('discoveryRbac: nothing for DNS; ServiceAccount, Role on endpoints and RoleBinding for k8s', () => {
  assert.deepEqual(discoveryRbac(makeEmqx(), {}), []);
  const conf = parseEmqxConfig('cluster.discovery_strategy = k8s');
  const objs = discoveryRbac(makeEmqx(), conf);
  assert.deepEqual(
    objs.map((o) => `${o.kind}/${o.metadata?.name}`),
    ['ServiceAccount/emqx-discovery', 'Role/emqx-discovery', 'RoleBinding/emqx-discovery'],
  );
  const roleObj = objs[1] as { rules: unknown };
  assert.deepEqual(roleObj.rules, [
    { apiGroups: [''], resources: ['endpoints'], verbs: ['get', 'list', 'watch'] },
  ]);
  const binding = objs[2] as { subjects: unknown; roleRef: unknown };
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'emqx-discovery', namespace: 'ns1' }]);
  assert.deepEqual(binding.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'Role',
    name: 'emqx-discovery',
  });
  for (const o of objs) assert.equal(o.metadata?.ownerReferences?.[0]?.uid, 'uid-1234');
  const own = discoveryRbac(makeEmqx({ serviceAccountName: 'mine' }), conf);
  assert.deepEqual(
    own.map((o) => o.kind),
    ['Role', 'RoleBinding'],
    "the user's ServiceAccount is bound, not created",
  );
  assert.equal((own[1] as { subjects: { name: string }[] }).subjects[0]?.name, 'mine');
});
