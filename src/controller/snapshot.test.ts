import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readsKeySecretsFromServer } from './snapshot.ts';

test('readsKeySecretsFromServer: not on a new cluster; once anything of it is cached, or after a refused create', () => {
  // a new cluster: nothing cached, the fresh Secrets are written create-only instead of two GETs answering 404
  assert.equal(readsKeySecretsFromServer({ paused: false, verify: false, cachedChildren: 0 }), false);
  // anything of the cluster cached (pods, a StatefulSet, a Service): a Secret missing from the cache is read first,
  // so the missing-cookie hold sees a Secret put back by hand without the operator's labels
  assert.equal(readsKeySecretsFromServer({ paused: false, verify: false, cachedChildren: 1 }), true);
  // a create-only write was refused (the Secret exists): read it, even with nothing else cached
  assert.equal(readsKeySecretsFromServer({ paused: false, verify: true, cachedChildren: 0 }), true);
  // paused: nothing is read (nor written)
  assert.equal(readsKeySecretsFromServer({ paused: true, verify: true, cachedChildren: 3 }), false);
});
