import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareText } from './order.ts';

test('compareText orders DNS names and RFC 3339 timestamps by code units, independent of the locale', () => {
  assert.deepEqual(
    ['emqx-core-10', 'emqx-core-1', 'emqx-core-0', 'emqx-core-2', 'emqx-a'].sort(compareText),
    ['emqx-a', 'emqx-core-0', 'emqx-core-1', 'emqx-core-10', 'emqx-core-2'],
  );
  assert.deepEqual(
    ['2026-12-01T10:00:01Z', '2026-11-30T23:59:59Z', '2026-12-01T09:59:59Z'].sort(compareText),
    ['2026-11-30T23:59:59Z', '2026-12-01T09:59:59Z', '2026-12-01T10:00:01Z'],
  );
  // code units, not a collation: upper case before lower case, as kinds and names appear in messages
  assert.deepEqual(['Service/b', 'ConfigMap/z', 'configmap/a'].sort(compareText), [
    'ConfigMap/z',
    'Service/b',
    'configmap/a',
  ]);
  assert.equal(compareText('x', 'x'), 0);
  assert.ok(compareText('a', 'b') < 0 && compareText('b', 'a') > 0);
});
