import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_EMQX_NAME, MAX_REVISION_HASH_LENGTH } from '../api/names.ts';
import type { EMQXSpec } from '../api/types.ts';
import { parseEmqxConfig } from '../emqx/config.ts';
import { buildAll } from './index.ts';
import { MAX_REPLICASET_NAME, MAX_STATEFULSET_NAME, objectIssues } from './limits.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';

const inputs = {
  cookie: 'c',
  operatorKey: { key: 'emqx-operator-controller', secret: 'secret' },
  userKeys: [],
};

/** Everything the operator may build for `name`: blue-green cores, replicants, discovery RBAC, a licence. */
function everything(name: string, spec: Partial<EMQXSpec> = {}) {
  const longest = 'h'.repeat(MAX_REVISION_HASH_LENGTH);
  const conf = parseEmqxConfig('cluster.discovery_strategy = k8s\nlicense.key = "evaluation"\n');
  return buildAll(
    makeEmqx(
      { replicantTemplate: {}, updateStrategy: { core: { type: 'BlueGreen' } }, ...spec },
      { name, namespace: 'ns' },
    ),
    conf,
    { ...inputs, coreHash: longest, replicantHash: longest },
  );
}

test('objectIssues: nothing to report for ordinary names', () => {
  assert.deepEqual(objectIssues(buildAll(makeEmqx({ replicantTemplate: {} }), {}, inputs)), []);
});

test('the longest EMQX name the schema allows builds only valid objects, with the longest revision hashes', () => {
  assert.equal(MAX_EMQX_NAME, 36);
  const name = 'e'.repeat(MAX_EMQX_NAME);
  const objs = everything(name);
  assert.deepEqual(objectIssues(objs), []);
  const named = (kind: string) => objs.filter((o) => o.kind === kind).map((o) => o.metadata?.name ?? '');
  // The two children that set the limit are exactly at theirs.
  assert.deepEqual(
    named('StatefulSet').map((n) => n.length),
    [MAX_STATEFULSET_NAME],
  );
  assert.deepEqual(
    named('ReplicaSet').map((n) => n.length),
    [MAX_REPLICASET_NAME],
  );
  // Discovery RBAC and the licence Secret were built too, so every kind of child was checked.
  for (const kind of [
    'ServiceAccount',
    'Role',
    'RoleBinding',
    'Secret',
    'ConfigMap',
    'Service',
    'PodDisruptionBudget',
  ])
    assert.ok(named(kind).length > 0, kind);
  // The in-place core StatefulSet is shorter still.
  assert.deepEqual(objectIssues(everything(name, { updateStrategy: { core: { type: 'InPlace' } } })), []);
});

test('one character more breaks the blue-green core StatefulSet and the replicant ReplicaSet', () => {
  const name = 'e'.repeat(MAX_EMQX_NAME + 1);
  const issues = objectIssues(everything(name));
  assert.deepEqual(
    issues.map((i) => [i.object.split('/')[0], i.path]),
    [
      ['StatefulSet', 'metadata.name'],
      ['ReplicaSet', 'metadata.name'],
    ],
  );
  assert.match(issues[0]!.message, /at most 52, because its pods get the label controller-revision-hash/);
  assert.match(issues[1]!.message, /at most 57, because its pods are named <name>-<5 random characters>/);
});

test('objectIssues: a StatefulSet name too long for the controller-revision-hash label is reported', () => {
  const name = 'e'.repeat(48); // <name>-core is 53 characters
  const issues = objectIssues(buildAll(makeEmqx({}, { name, namespace: 'ns' }), {}, inputs));
  assert.equal(issues.length, 1);
  assert.equal(issues[0]?.object, `StatefulSet/${name}-core`);
  assert.equal(issues[0]?.path, 'metadata.name');
  assert.match(issues[0]?.message ?? '', /at most 52/);
  const ok = 'e'.repeat(47);
  assert.deepEqual(objectIssues(buildAll(makeEmqx({}, { name: ok, namespace: 'ns' }), {}, inputs)), []);
});

test('objectIssues: Service names must be DNS-1035 labels of at most 63 characters', () => {
  const issues = objectIssues([
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x'.repeat(64) } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: '1abc' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ok-name' } },
  ]);
  assert.deepEqual(
    issues.map((i) => i.object),
    [`Service/${'x'.repeat(64)}`, 'Service/1abc'],
  );
});
