import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logTail } from './pod-worker.ts';

test('logTail: the last 80 lines, at most the last 2048 bytes (the kubelet’s FallbackToLogsOnError limits)', () => {
  assert.equal(logTail([]), '');
  assert.equal(logTail(['a', 'b']), 'a\nb');
  const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
  const tail = logTail(lines);
  assert.equal(tail.split('\n').length, 80);
  assert.ok(tail.startsWith('line 20\n') && tail.endsWith('line 99'), tail);
  const long = logTail(['x'.repeat(3000), 'failed to start the dashboard listener: listen EADDRINUSE']);
  assert.equal(Buffer.byteLength(long), 2048);
  assert.ok(long.endsWith('\nfailed to start the dashboard listener: listen EADDRINUSE'));
});
