import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parseHocon } from './parser.ts';
import { deepMerge, deletePath, getPath, setPath } from './path.ts';
import { isHoconObject } from './types.ts';
import type { HoconObject } from './types.ts';

const conf = parseHocon(`
  listeners.tcp.default { bind = "0.0.0.0:1883", enable = true }
  authentication = [{ mechanism = password_based, backend = built_in_database }]
  "a.b" { c = 1 }
  n = null
`);

describe('getPath', () => {
  it('reads by dotted string or by segments', () => {
    assert.equal(getPath(conf, 'listeners.tcp.default.bind'), '0.0.0.0:1883');
    assert.equal(getPath(conf, ['listeners', 'tcp', 'default', 'enable']), true);
    assert.deepEqual(getPath(conf, 'listeners.tcp'), { default: { bind: '0.0.0.0:1883', enable: true } });
  });

  it('names keys containing dots with the segment form', () => {
    assert.equal(getPath(conf, ['a.b', 'c']), 1);
    assert.equal(getPath(conf, 'a.b.c'), undefined);
  });

  it('indexes arrays with numeric segments', () => {
    assert.equal(getPath(conf, 'authentication.0.mechanism'), 'password_based');
    assert.equal(getPath(conf, 'authentication.1.mechanism'), undefined);
    assert.equal(getPath(conf, 'authentication.x'), undefined);
  });

  it('returns undefined for missing paths and null for a null value', () => {
    assert.equal(getPath(conf, 'listeners.ssl.default.bind'), undefined);
    assert.equal(getPath(conf, 'listeners.tcp.default.bind.deeper'), undefined);
    assert.equal(getPath(conf, 'toString'), undefined);
    assert.equal(getPath(conf, 'n'), null);
  });

  it('returns the root for an empty path', () => {
    assert.equal(getPath(conf, ''), conf);
    assert.equal(getPath(conf, []), conf);
  });
});

describe('setPath', () => {
  it('returns a copy with the value set, leaving the input alone', () => {
    const before = structuredClone(conf);
    const out = setPath(conf, 'listeners.tcp.default.bind', '0.0.0.0:11883');
    assert.equal(getPath(out, 'listeners.tcp.default.bind'), '0.0.0.0:11883');
    assert.equal(getPath(out, 'listeners.tcp.default.enable'), true);
    assert.deepEqual(conf, before);
    // untouched branches are copies too, so editing the result cannot reach the input
    (out['a.b'] as HoconObject).c = 2;
    assert.equal(getPath(conf, ['a.b', 'c']), 1);
  });

  it('creates missing objects and replaces non-objects on the way', () => {
    assert.deepEqual(setPath({}, 'a.b.c', 1), { a: { b: { c: 1 } } });
    assert.deepEqual(setPath({ a: 5 }, ['a', 'b'], true), { a: { b: true } });
    assert.deepEqual(setPath({ a: { x: 1 } }, 'a.y', [1]), { a: { x: 1, y: [1] } });
  });

  it('copies the value it stores', () => {
    const value = { deep: { v: 1 } };
    const out = setPath({}, 'k', value);
    value.deep.v = 2;
    assert.equal(getPath(out, 'k.deep.v'), 1);
  });

  it('rejects an empty path', () => {
    assert.throws(() => setPath({}, '', 1), /path is empty/);
  });

  it('sets a __proto__ key as data', () => {
    const out = setPath({}, ['__proto__', 'polluted'], true);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('deletePath', () => {
  it('returns a copy without the key', () => {
    const out = deletePath(conf, 'listeners.tcp.default.enable');
    assert.deepEqual(getPath(out, 'listeners.tcp.default'), { bind: '0.0.0.0:1883' });
    assert.equal(getPath(conf, 'listeners.tcp.default.enable'), true);
  });

  it('removes whole roots, as when stripping read-only roots before a config push', () => {
    const pushed = ['node', 'rpc', 'dashboard'].reduce(
      (acc, root) => deletePath(acc, root),
      parseHocon(
        'node.name = "emqx@a"\nrpc.port = 5369\ndashboard.listeners.http.bind = 18083\nlog.console.level = info',
      ),
    );
    assert.deepEqual(pushed, { log: { console: { level: 'info' } } });
  });

  it('leaves the copy unchanged when the path is missing', () => {
    assert.deepEqual(deletePath(conf, 'nope.nothing'), conf);
    assert.deepEqual(deletePath(conf, 'listeners.tcp.default.bind.x'), conf);
    assert.notEqual(deletePath(conf, 'nope'), conf);
  });
});

describe('deepMerge', () => {
  it('merges objects recursively and lets anything else replace', () => {
    const base = { a: { x: 1, y: { p: 1 } }, arr: [1, 2], s: 'old', keep: true };
    const over = { a: { y: { q: 2 }, z: 3 }, arr: [3], s: null };
    assert.deepEqual(deepMerge(base, over), {
      a: { x: 1, y: { p: 1, q: 2 }, z: 3 },
      arr: [3],
      s: null,
      keep: true,
    });
  });

  it('replaces an object with a scalar and a scalar with an object', () => {
    assert.deepEqual(deepMerge({ a: { x: 1 } }, { a: 1 }), { a: 1 });
    assert.deepEqual(deepMerge({ a: 1 }, { a: { x: 1 } }), { a: { x: 1 } });
  });

  it('builds a new object that shares nothing with its inputs', () => {
    const base = { a: { x: 1 } };
    const over = { b: { y: [1] } };
    const out = deepMerge(base, over);
    (out.a as HoconObject).x = 9;
    ((out.b as HoconObject).y as number[]).push(2);
    assert.deepEqual(base, { a: { x: 1 } });
    assert.deepEqual(over, { b: { y: [1] } });
  });

  it('merges a __proto__ key as data', () => {
    const over = parseHocon('"__proto__" { polluted = true }');
    const out = deepMerge({}, over);
    assert.ok(isHoconObject(out['__proto__']));
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
