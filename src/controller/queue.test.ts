import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { metricTotal, metricValue, Registry, type Counter, type Gauge } from '../observability/metrics.ts';
import { ManualClock } from '../../test/support/manual-clock.ts';
import { WorkQueue, type WorkQueueOptions } from './queue.ts';

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets started handlers run (several rounds of the event loop). */
async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await tick();
}

function harness(opts: WorkQueueOptions = {}) {
  const clock = new ManualClock(0);
  const registry = new Registry();
  const calls: Array<{ key: string; at: number }> = [];
  const running = new Map<string, number>();
  let maxPerKey = 0;
  let maxTotal = 0;
  const gates = new Map<string, Array<ReturnType<typeof deferred>>>();
  let failWith: ((key: string) => unknown) | undefined;
  const q = new WorkQueue(
    async (key) => {
      calls.push({ key, at: clock.now() });
      running.set(key, (running.get(key) ?? 0) + 1);
      maxPerKey = Math.max(maxPerKey, running.get(key)!);
      maxTotal = Math.max(
        maxTotal,
        [...running.values()].reduce((a, b) => a + b, 0),
      );
      try {
        const g = gates.get(key)?.shift();
        if (g) await g.promise;
        const err = failWith?.(key);
        if (err) throw err;
      } finally {
        running.set(key, running.get(key)! - 1);
      }
    },
    { clock, registry, onError: () => {}, ...opts },
  );
  return {
    q,
    clock,
    registry,
    calls,
    gate(key: string) {
      const d = deferred();
      gates.set(key, [...(gates.get(key) ?? []), d]);
      return d;
    },
    setFail(f: ((key: string) => unknown) | undefined) {
      failWith = f;
    },
    get maxPerKey() {
      return maxPerKey;
    },
    get maxTotal() {
      return maxTotal;
    },
  };
}

test('pending keys are deduplicated', async () => {
  const h = harness({ workers: 1 });
  const g = h.gate('block');
  h.q.add('block'); // occupies the only worker
  await flush();
  h.q.add('a');
  h.q.add('a');
  h.q.add('a');
  assert.equal(h.q.len(), 1);
  g.resolve();
  await h.q.idle();
  assert.deepEqual(
    h.calls.map((c) => c.key),
    ['block', 'a'],
  );
});

test('a key is never processed twice at once; re-adds while processing run once afterwards', async () => {
  const h = harness({ workers: 4 });
  const g = h.gate('a');
  h.q.add('a');
  await flush();
  assert.equal(h.q.isProcessing('a'), true);
  h.q.add('a');
  h.q.add('a');
  await flush();
  assert.equal(h.calls.length, 1, 'second run must wait for the first');
  assert.equal(h.q.len(), 0, 'a processing key is not in the ready list');
  g.resolve();
  await h.q.idle();
  assert.equal(h.calls.length, 2);
  assert.equal(h.maxPerKey, 1);
});

test('N workers process different keys in parallel, never more than N', async () => {
  const h = harness({ workers: 2 });
  const ga = h.gate('a');
  const gb = h.gate('b');
  const gc = h.gate('c');
  h.q.add('a');
  h.q.add('b');
  h.q.add('c');
  await flush();
  assert.deepEqual(
    h.calls.map((c) => c.key),
    ['a', 'b'],
  );
  assert.equal(h.q.len(), 1);
  gb.resolve();
  await flush();
  assert.deepEqual(
    h.calls.map((c) => c.key),
    ['a', 'b', 'c'],
  );
  ga.resolve();
  gc.resolve();
  await h.q.idle();
  assert.equal(h.maxTotal, 2);
});

test('addAfter: the earliest due time wins and fires once', async () => {
  const h = harness();
  h.q.addAfter('k', 1000);
  h.q.addAfter('k', 500);
  h.q.addAfter('k', 800);
  assert.deepEqual(h.q.delayedKeys(), ['k']);
  h.clock.advance(499);
  await flush();
  assert.equal(h.calls.length, 0);
  h.clock.advance(1);
  await flush();
  assert.deepEqual(h.calls, [{ key: 'k', at: 500 }]);
  h.clock.advance(2000);
  await flush();
  assert.equal(h.calls.length, 1, 'the replaced later timers must not fire');
  assert.equal(h.clock.pending(), 0);
});

test('addAfter with 0 adds at once; a delayed key already ready is processed once when due', async () => {
  const h = harness();
  h.q.addAfter('x', 0);
  await h.q.idle();
  assert.equal(h.calls.length, 1);
  h.q.addAfter('y', 100);
  h.q.add('y');
  await h.q.idle();
  h.clock.advance(100);
  await flush();
  assert.deepEqual(
    h.calls.map((c) => `${c.key}@${c.at}`),
    ['x@0', 'y@0', 'y@100'],
  );
});

test('failures back off exponentially per key; success resets', async () => {
  const h = harness({ baseDelayMs: 100, maxDelayMs: 1000 });
  h.setFail((key) => (key === 'bad' ? new Error('reconcile failed') : undefined));
  h.q.add('bad');
  h.q.add('good');
  await flush();
  for (const expected of [100, 200, 400, 800, 1000, 1000]) {
    const before = h.calls.filter((c) => c.key === 'bad').length;
    h.clock.advance(expected - 1);
    await flush();
    assert.equal(h.calls.filter((c) => c.key === 'bad').length, before, `not before ${expected} ms`);
    h.clock.advance(1);
    await flush();
    assert.equal(h.calls.filter((c) => c.key === 'bad').length, before + 1, `retried after ${expected} ms`);
  }
  assert.equal(h.calls.filter((c) => c.key === 'good').length, 1, 'other keys are not retried');
  assert.equal(h.q.numRequeues('good'), 0);
  assert.equal(h.q.numRequeues('bad'), 7);
  h.setFail(undefined);
  h.clock.advance(1000);
  await flush();
  assert.equal(h.q.numRequeues('bad'), 0, 'a success forgets the failures');
  assert.equal(
    await metricTotal(h.registry.getSingleMetric('emqx_operator_workqueue_retries_total') as Counter),
    7,
  );
});

test('addRateLimited and forget can be driven by hand', () => {
  const h = harness({ baseDelayMs: 10, maxDelayMs: 50 });
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => h.q.addRateLimited('k')),
    [10, 20, 40, 50, 50],
  );
  h.q.forget('k');
  assert.equal(h.q.addRateLimited('k'), 10);
});

test('shutdown waits for in-flight work and drops pending and delayed keys', async () => {
  const h = harness({ workers: 1 });
  const g = h.gate('a');
  h.q.add('a');
  await flush();
  h.q.add('b');
  h.q.addAfter('c', 100);
  let done = false;
  const p = h.q.shutdown().then(() => (done = true));
  await flush();
  assert.equal(done, false, 'shutdown must wait for the running handler');
  g.resolve();
  await p;
  assert.equal(done, true);
  h.q.add('d');
  h.clock.advance(1000);
  await flush();
  assert.deepEqual(
    h.calls.map((c) => c.key),
    ['a'],
  );
  assert.equal(h.clock.pending(), 0);
});

test('a failure during shutdown is not re-queued', async () => {
  const h = harness();
  const g = h.gate('a');
  h.setFail(() => new Error('x'));
  h.q.add('a');
  await flush();
  const p = h.q.shutdown();
  g.resolve();
  await p;
  assert.equal(h.clock.pending(), 0);
});

test('metrics: depth, adds and queue latency', async () => {
  const h = harness({ name: 'emqx', workers: 1 });
  const g = h.gate('a');
  h.q.add('a');
  await flush();
  h.q.add('b');
  h.q.add('c');
  h.q.add('c');
  const depth = h.registry.getSingleMetric('emqx_operator_workqueue_depth') as Gauge;
  const adds = h.registry.getSingleMetric('emqx_operator_workqueue_adds_total') as Counter;
  assert.equal(await metricValue(depth, { name: 'emqx' }), 2);
  assert.equal(await metricValue(adds, { name: 'emqx' }), 3);
  h.clock.advance(2000);
  g.resolve();
  await h.q.idle();
  assert.equal(await metricValue(depth, { name: 'emqx' }), 0);
  const text = await h.registry.render();
  assert.match(text, /emqx_operator_workqueue_queue_duration_seconds_count\{name="emqx"\} 3/);
  // b waited 2 s in the queue: the 2.5 s bucket holds all three, the 1 s bucket only a
  assert.match(text, /emqx_operator_workqueue_queue_duration_seconds_bucket\{le="1",name="emqx"\} 1/);
  assert.match(text, /emqx_operator_workqueue_queue_duration_seconds_bucket\{le="2.5",name="emqx"\} 3/);
});

test('works with the real clock and short delays', async () => {
  const seen: string[] = [];
  const q = new WorkQueue(
    (key) => {
      seen.push(key);
    },
    { registry: new Registry() },
  );
  q.addAfter('late', 30);
  q.add('now');
  await q.idle();
  assert.equal(seen[0], 'now');
  // bounded wait, far above the 30 ms, for a busy machine
  const start = Date.now();
  while (seen.length < 2 && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(seen, ['now', 'late']);
  await q.shutdown();
});

test('priority keys go ahead of ordinary ones and use the extra workers; ordinary keys never do', async () => {
  const h = harness({ workers: 1, priorityWorkers: 2 });
  const gLong = h.gate('long');
  const gO = h.gate('o1');
  h.q.add('long'); // the only ordinary worker is busy
  h.q.add('o1');
  h.q.add('o2');
  const gp1 = h.gate('p1');
  const gp2 = h.gate('p2');
  h.q.add('p1', { priority: true });
  h.q.add('p2', { priority: true });
  h.q.add('p3', { priority: true });
  await flush();
  // p1 and p2 run on the two extra workers at once; p3 waits for a free worker, still ahead of o1 and o2
  assert.deepEqual(
    h.calls.map((c) => c.key),
    ['long', 'p1', 'p2'],
    'the priority keys start beside the busy ordinary worker',
  );
  gp2.resolve();
  await flush();
  assert.deepEqual(
    h.calls.map((c) => c.key),
    ['long', 'p1', 'p2', 'p3'],
    'p2 finished, so p3 takes its extra worker',
  );
  assert.equal(h.q.len(), 2, 'o1 and o2 still wait: no ordinary key runs on an extra worker');
  gp1.resolve();
  await flush();
  assert.equal(h.calls.length, 4, 'an extra worker freed does not start an ordinary key');
  gLong.resolve();
  await flush();
  assert.deepEqual(
    h.calls.map((c) => c.key),
    ['long', 'p1', 'p2', 'p3', 'o1'],
  );
  gO.resolve();
  await h.q.idle();
  assert.deepEqual(
    h.calls.map((c) => c.key),
    ['long', 'p1', 'p2', 'p3', 'o1', 'o2'],
  );
  assert.equal(h.maxTotal, 3, 'never more than workers + priorityWorkers');
});

test('without extra workers a priority key still jumps the line; a waiting key keeps its class', async () => {
  const h = harness({ workers: 1 });
  const g = h.gate('block');
  h.q.add('block');
  await flush();
  h.q.add('a');
  h.q.add('b');
  h.q.add('a', { priority: true }); // already waiting: keeps its place
  h.q.add('c', { priority: true });
  assert.equal(h.q.len(), 3);
  g.resolve();
  await h.q.idle();
  assert.deepEqual(
    h.calls.map((c) => c.key),
    ['block', 'c', 'a', 'b'],
  );
});

test('a re-run after processing is ordinary unless an add during the run asked for priority', async () => {
  const h = harness({ workers: 1, priorityWorkers: 1 });
  const gBlock = h.gate('block');
  const gp = h.gate('p');
  h.q.add('block');
  h.q.add('p', { priority: true });
  await flush();
  h.q.add('p'); // ordinary re-run
  h.q.add('o');
  gp.resolve();
  await flush();
  assert.deepEqual(
    h.calls.map((c) => c.key),
    ['block', 'p'],
    'the re-run of p is ordinary: it waits for the busy ordinary worker',
  );
  assert.equal(h.q.len(), 2);
  gBlock.resolve();
  await h.q.idle();
  assert.deepEqual(
    h.calls.map((c) => c.key),
    ['block', 'p', 'o', 'p'],
  );
});

test('requeueAfter replaces the delayed add: an event-driven pass re-arms the safety net (one look per interval)', async () => {
  // The manager's handler: every pass asks for its next look in 30 s (a Ready cluster's safety net).
  const clock = new ManualClock(0);
  const calls: number[] = [];
  const q: WorkQueue = new WorkQueue(
    (key) => {
      calls.push(clock.now());
      q.requeueAfter(key, 30_000);
    },
    { clock, registry: new Registry() },
  );
  q.add('k');
  await flush();
  clock.advance(20_000);
  q.add('k'); // an informer change at 20 s: a pass now, the next look 30 s after it, not also at 30 s
  await flush();
  clock.advance(29_999);
  await flush();
  assert.deepEqual(calls, [0, 20_000], 'no second look at 30 s');
  clock.advance(1);
  await flush();
  assert.deepEqual(calls, [0, 20_000, 50_000]);
  // an idle minute after that: exactly one pass per 30 s
  for (let i = 0; i < 4; i++) {
    clock.advance(15_000);
    await flush();
  }
  assert.deepEqual(calls, [0, 20_000, 50_000, 80_000, 110_000]);
  assert.equal(clock.pending(), 1, 'one timer, never two');
  // a shorter wait replaces a longer one too
  q.requeueAfter('k', 1000);
  clock.advance(1000);
  await flush();
  assert.deepEqual(calls.at(-1), 111_000);
  await q.shutdown();
});

test('addAfter keeps the earlier due time where requeueAfter replaces it', async () => {
  const h = harness();
  h.q.addAfter('k', 500);
  h.q.addAfter('k', 1000);
  h.q.requeueAfter('j', 500);
  h.q.requeueAfter('j', 1000);
  h.clock.advance(500);
  await flush();
  assert.deepEqual(h.calls, [{ key: 'k', at: 500 }]);
  h.clock.advance(500);
  await flush();
  assert.deepEqual(h.calls, [
    { key: 'k', at: 500 },
    { key: 'j', at: 1000 },
  ]);
  assert.equal(h.clock.pending(), 0);
});
