import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inPodRange, IpAllocator, ipToNumber } from './ipam.ts';

test('allocates distinct addresses in 127.1.0.0/16, stable per owner', () => {
  const ipam = new IpAllocator(0);
  const seen = new Set<string>();
  for (let i = 0; i < 600; i++) {
    const ip = ipam.allocate(`pod-${i}`);
    assert.ok(inPodRange(ip), ip);
    assert.ok(!seen.has(ip), `${ip} handed out twice`);
    seen.add(ip);
  }
  assert.equal(ipam.allocate('pod-7'), ipam.get('pod-7'));
  assert.equal(ipam.size, 600);
});

test('never hands out .0 or .255 addresses', () => {
  const ipam = new IpAllocator(250);
  for (let i = 0; i < 20; i++) {
    const last = ipToNumber(ipam.allocate(`p${i}`))! & 255;
    assert.ok(last !== 0 && last !== 255, `last octet ${last}`);
  }
  assert.equal(ipam.reserve('x', '127.1.3.0'), false);
  assert.equal(ipam.reserve('x', '127.1.3.255'), false);
});

test('wraps around at the end of the range', () => {
  const ipam = new IpAllocator(65534);
  assert.equal(ipam.allocate('a'), '127.1.255.254');
  assert.equal(ipam.allocate('b'), '127.1.0.1');
});

test('a live pod keeps its address; released addresses come back only after the rest of the range', () => {
  const ipam = new IpAllocator(0);
  const a = ipam.allocate('a');
  const b = ipam.allocate('b');
  ipam.release('a');
  const c = ipam.allocate('c');
  assert.notEqual(c, a, 'freed address reused at once');
  assert.notEqual(c, b);
  assert.equal(ipam.get('a'), undefined);
});

test('reserve records an existing address and refuses one held by another pod or outside the range', () => {
  const ipam = new IpAllocator(0);
  assert.equal(ipam.reserve('a', '127.1.0.1'), true);
  assert.equal(ipam.reserve('b', '127.1.0.1'), false);
  assert.equal(ipam.reserve('c', '10.0.0.5'), false);
  assert.equal(ipam.reserve('c', '127.2.0.5'), false);
  assert.notEqual(ipam.allocate('d'), '127.1.0.1');
});

test('random start offsets differ between allocators (two sandboxes rarely collide)', () => {
  const firsts = new Set(Array.from({ length: 20 }, () => new IpAllocator().allocate('x')));
  assert.ok(firsts.size > 10, `only ${firsts.size} distinct first addresses`);
});
