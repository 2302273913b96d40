import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, fnv1a32, hashObject, safeEncode } from './hash.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

test('fnv1a32 matches the published FNV-1a 32-bit test vectors', () => {
  assert.equal(fnv1a32(bytes('')), 0x811c9dc5);
  assert.equal(fnv1a32(bytes('a')), 0xe40c292c);
  assert.equal(fnv1a32(bytes('foobar')), 0xbf9cf968);
});

test('canonicalJson sorts keys at every level, drops undefined, keeps array order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, 1], c: undefined } }), '{"a":{"d":[3,1]},"b":1}');
  assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
});

test('safeEncode uses only consonants and digits', () => {
  assert.match(safeEncode('0123456789'), /^[bcdfghjklmnpqrstvwxz2456789]{10}$/);
});

test('hashObject: short [a-z0-9], independent of key order, changes with content and collisionCount', () => {
  const h = hashObject({ a: 1, b: [1, 2] });
  assert.match(h, /^[a-z0-9]{1,10}$/);
  assert.equal(hashObject({ b: [1, 2], a: 1 }), h);
  assert.notEqual(hashObject({ a: 2, b: [1, 2] }), h);
  assert.notEqual(hashObject({ a: 1, b: [2, 1] }), h);
  assert.equal(hashObject({ a: 1, b: [1, 2] }, 0), h, 'collisionCount 0 is no collision');
  assert.notEqual(hashObject({ a: 1, b: [1, 2] }, 1), h);
  assert.notEqual(hashObject({ a: 1, b: [1, 2] }, 2), hashObject({ a: 1, b: [1, 2] }, 1));
});
