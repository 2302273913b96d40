import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enableProcessMetrics, metricSamples, metricTotal, metricValue, Registry } from './metrics.ts';

test('counter with labels renders in the text format; values read back', async () => {
  const r = new Registry();
  const c = r.counter({ name: 'writes_total', help: 'Writes.', labelNames: ['verb', 'kind'] });
  c.inc({ verb: 'apply', kind: 'StatefulSet' });
  c.inc({ verb: 'apply', kind: 'StatefulSet' }, 2);
  c.inc({ verb: 'delete', kind: 'Service' });
  assert.equal(await metricValue(c, { verb: 'apply', kind: 'StatefulSet' }), 3);
  assert.equal(await metricValue(c, { verb: 'apply', kind: 'Pod' }), 0);
  assert.equal(await metricTotal(c), 4);
  assert.equal(await metricTotal(c, { verb: 'apply' }), 3);
  assert.equal(
    await r.render(),
    '# HELP writes_total Writes.\n# TYPE writes_total counter\n' +
      'writes_total{verb="apply",kind="StatefulSet"} 3\n' +
      'writes_total{verb="delete",kind="Service"} 1\n',
  );
  // @ts-expect-error: an undeclared label is a type error, and prom-client rejects it at run time
  assert.throws(() => c.inc({ verb: 'x', kind: 'y', z: 1 }), /label "z"/);
  assert.throws(() => c.inc({ verb: 'x', kind: 'y' }, -1), /not possible to decrease/);
});

test('label values and help are escaped', async () => {
  const r = new Registry();
  r.gauge({ name: 'g', help: 'a\\b\nc', labelNames: ['l'] }).set({ l: 'q"u\\o\nte' }, 1.5);
  assert.equal(await r.render(), '# HELP g a\\\\b\\nc\n# TYPE g gauge\ng{l="q\\"u\\\\o\\nte"} 1.5\n');
});

test('gauge set/inc/dec/remove', async () => {
  const r = new Registry();
  const g = r.gauge({ name: 'depth', help: 'd', labelNames: ['q'] });
  g.inc({ q: 'a' });
  g.inc({ q: 'a' }, 4);
  g.dec({ q: 'a' });
  assert.equal(await metricValue(g, { q: 'a' }), 4);
  g.set({ q: 'a' }, -2);
  assert.equal(await r.render(), '# HELP depth d\n# TYPE depth gauge\ndepth{q="a"} -2\n');
  g.remove({ q: 'a' });
  assert.equal(await r.render(), '# HELP depth d\n# TYPE depth gauge\n');
});

test('histogram buckets are cumulative with +Inf, sum and count', async () => {
  const r = new Registry();
  const h = r.histogram({ name: 'lat_seconds', help: 'l', labelNames: ['op'], buckets: [0.1, 1] });
  h.observe({ op: 'get' }, 0.05);
  h.observe({ op: 'get' }, 0.5);
  h.observe({ op: 'get' }, 3);
  assert.equal(await metricValue(h, { op: 'get' }), 3);
  const samples = await metricSamples(h);
  assert.deepEqual(
    samples.filter((s) => s.name === 'lat_seconds_bucket').map((s) => [s.labels.le, s.labels.op, s.value]),
    [
      ['0.1', 'get', 1],
      ['1', 'get', 2],
      ['+Inf', 'get', 3],
    ],
  );
  assert.equal(
    await r.render(),
    '# HELP lat_seconds l\n# TYPE lat_seconds histogram\n' +
      'lat_seconds_bucket{le="0.1",op="get"} 1\n' +
      'lat_seconds_bucket{le="1",op="get"} 2\n' +
      'lat_seconds_bucket{le="+Inf",op="get"} 3\n' +
      'lat_seconds_sum{op="get"} 3.55\n' +
      'lat_seconds_count{op="get"} 3\n',
  );
  assert.throws(() => r.histogram({ name: 'bad', help: 'x', labelNames: ['le'] }), /le/);
});

test('registering the same name returns the same metric; conflicting registrations throw', () => {
  const r = new Registry();
  const a = r.counter({ name: 'c_total', help: 'x', labelNames: ['a'] });
  assert.equal(r.counter({ name: 'c_total', help: 'x', labelNames: ['a'] }), a);
  assert.throws(() => r.gauge({ name: 'c_total', help: 'x', labelNames: ['a'] }), /already registered/);
  assert.throws(() => r.counter({ name: 'c_total', help: 'x', labelNames: ['b'] }), /already registered/);
  const h = r.histogram({ name: 'h_seconds', help: 'x', buckets: [1, 2] });
  assert.equal(r.histogram({ name: 'h_seconds', help: 'x', buckets: [1, 2] }), h);
  assert.throws(() => r.histogram({ name: 'h_seconds', help: 'x', buckets: [1, 3] }), /other buckets/);
  assert.throws(() => r.counter({ name: 'bad-name', help: 'x' }), /name/i);
});

test('metrics of separate registries are independent', async () => {
  const a = new Registry();
  const b = new Registry();
  a.counter({ name: 'n_total', help: 'x' }).inc();
  assert.equal(await metricValue(b.counter({ name: 'n_total', help: 'x' })), 0);
});

test('process metrics: CPU, RSS, heap, GC and event-loop lag, added once', async () => {
  const r = new Registry();
  enableProcessMetrics(r);
  enableProcessMetrics(r); // a second call must not register twice (prom-client would throw)
  const text = await r.render();
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_heap_size_used_bytes',
    'nodejs_gc_duration_seconds',
    'nodejs_eventloop_lag_seconds',
  ]) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  const rss = /^process_resident_memory_bytes (\d+)/m.exec(text);
  assert.ok(rss && Number(rss[1]) > 10 * 1024 * 1024, 'RSS is reported in bytes');
});
