import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAll } from './index.ts';
import { objectIssues } from './limits.ts';
import { makeEmqx } from './testing.ts';

const inputs = {
  cookie: 'c',
  operatorKey: { key: 'emqx-operator-controller', secret: 'secret' },
  userKeys: [],
};

test('objectIssues: nothing to report for ordinary names', () => {
  assert.deepEqual(objectIssues(buildAll(makeEmqx({ replicantTemplate: {} }), {}, inputs)), []);
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
