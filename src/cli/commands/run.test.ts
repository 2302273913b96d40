import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from './run.ts';

test('parseDuration: ms, s and m, decimals allowed, a unit required', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration(' 3s '), 3000);
  for (const bad of ['10', 's', '-1s', '1h', '1 s', '', 'abc'])
    assert.equal(parseDuration(bad), undefined, bad);
});
