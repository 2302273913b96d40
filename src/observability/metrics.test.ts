import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from './metrics.ts';

test('counter with labels renders in the text format', () => {
  const r = new Registry();
  const c = r.counter({ name: 'writes_total', help: 'Writes.', labelNames: ['verb', 'kind'] });
  c.inc({ verb: 'apply', kind: 'StatefulSet' });
  c.inc({ verb: 'apply', kind: 'StatefulSet' }, 2);
  c.inc({ kind: 'Service', verb: 'delete' });
  assert.equal(c.get({ verb: 'apply', kind: 'StatefulSet' }), 3);
  assert.equal(c.total(), 4);
  assert.equal(c.total({ verb: 'apply' }), 3);
  assert.equal(
    r.render(),
    '# HELP writes_total Writes.\n# TYPE writes_total counter\n' +
      'writes_total{verb="apply",kind="StatefulSet"} 3\n' +
      'writes_total{verb="delete",kind="Service"} 1\n',
  );
  assert.throws(() => c.inc({ verb: 'x' }), /missing label "kind"/);
  assert.throws(() => c.inc({ verb: 'x', kind: 'y', z: 1 }), /unknown label "z"/);
  assert.throws(() => c.inc({ verb: 'x', kind: 'y' }, -1), /cannot increase/);
});

test('label values and help are escaped', () => {
  const r = new Registry();
  r.gauge({ name: 'g', help: 'a\\b\nc', labelNames: ['l'] }).set({ l: 'q"u\\o\nte' }, 1.5);
  assert.equal(r.render(), '# HELP g a\\\\b\\nc\n# TYPE g gauge\ng{l="q\\"u\\\\o\\nte"} 1.5\n');
});

test('gauge set/inc/dec/remove', () => {
  const r = new Registry();
  const g = r.gauge({ name: 'depth', help: 'd' });
  g.inc();
  g.inc(undefined, 4);
  g.dec();
  assert.equal(g.get(), 4);
  g.set(undefined, -2);
  assert.equal(r.render(), '# HELP depth d\n# TYPE depth gauge\ndepth -2\n');
  g.remove();
  assert.equal(r.render(), '# HELP depth d\n# TYPE depth gauge\n');
});

test('histogram buckets are cumulative with +Inf, sum and count', () => {
  const r = new Registry();
  const h = r.histogram({ name: 'lat_seconds', help: 'l', labelNames: ['op'], buckets: [0.1, 1] });
  h.observe({ op: 'get' }, 0.05);
  h.observe({ op: 'get' }, 0.5);
  h.observe({ op: 'get' }, 3);
  assert.deepEqual(h.get({ op: 'get' }), {
    count: 3,
    sum: 3.55,
    buckets: [
      [0.1, 1],
      [1, 2],
      [Infinity, 3],
    ],
  });
  assert.equal(
    r.render(),
    '# HELP lat_seconds l\n# TYPE lat_seconds histogram\n' +
      'lat_seconds_bucket{op="get",le="0.1"} 1\n' +
      'lat_seconds_bucket{op="get",le="1"} 2\n' +
      'lat_seconds_bucket{op="get",le="+Inf"} 3\n' +
      'lat_seconds_sum{op="get"} 3.55\n' +
      'lat_seconds_count{op="get"} 3\n',
  );
  assert.throws(() => r.histogram({ name: 'bad', help: 'x', buckets: [1, 0.5] }), /increase/);
  assert.throws(() => r.histogram({ name: 'bad2', help: 'x', labelNames: ['le'] }), /reserved/);
});

test('registering the same name returns the same metric; conflicting registrations throw', () => {
  const r = new Registry();
  const a = r.counter({ name: 'c_total', help: 'x', labelNames: ['a'] });
  assert.equal(r.counter({ name: 'c_total', help: 'x', labelNames: ['a'] }), a);
  assert.throws(() => r.gauge({ name: 'c_total', help: 'x', labelNames: ['a'] }), /already registered/);
  assert.throws(() => r.counter({ name: 'c_total', help: 'x', labelNames: ['b'] }), /already registered/);
  assert.throws(() => r.counter({ name: 'bad-name', help: 'x' }), /valid Prometheus name/);
});

test('render sorts metrics by name', () => {
  const r = new Registry();
  r.counter({ name: 'b_total', help: 'b' }).inc();
  r.counter({ name: 'a_total', help: 'a' }).inc();
  const names = r
    .render()
    .split('\n')
    .filter((l) => l.startsWith('# TYPE'))
    .map((l) => l.split(' ')[2]);
  assert.deepEqual(names, ['a_total', 'b_total']);
});
