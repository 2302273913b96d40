import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AddressClaims, claimTestIp, inPodRange, IpAllocator, ipToNumber } from './ipam.ts';

function claimsDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipam-claims-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

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

test('two sandboxes that start at the same offset: without claims they share addresses, with claims never', (t) => {
  // the crash loops of bench:scale: two sandboxes (or a sandbox and the emulator's unit tests) on one machine gave
  // pods the same loopback address, and the later pod's EMQX could not listen (EADDRINUSE, exit 1) until the other
  // one went away
  const a = new IpAllocator(1000);
  const b = new IpAllocator(1000);
  assert.equal(a.allocate('a-0'), b.allocate('b-0'), 'unclaimed allocators collide');

  const dir = claimsDir(t);
  const sandboxes = [0, 1].map(() => new IpAllocator(1000, new AddressClaims(dir)));
  const seen = new Map<string, string>();
  for (let i = 0; i < 200; i++) {
    for (const [n, ipam] of sandboxes.entries()) {
      const ip = ipam.allocate(`scale-${String(i + 1).padStart(3, '0')}/emqx-core-0`);
      assert.ok(inPodRange(ip), ip);
      assert.equal(seen.get(ip), undefined, `${ip} handed out to sandbox ${n} and ${seen.get(ip)}`);
      seen.set(ip, `sandbox ${n}`);
    }
  }
  assert.equal(seen.size, 400);
  assert.equal(fs.readdirSync(dir).length, 400, 'one claim file per address');
  // releasing an address frees its claim; stopping a sandbox frees all of them
  const ip = sandboxes[0]!.get('scale-001/emqx-core-0')!;
  sandboxes[0]!.release('scale-001/emqx-core-0');
  assert.ok(!fs.existsSync(path.join(dir, ip)));
  sandboxes[1]!.releaseAll();
  assert.equal(fs.readdirSync(dir).length, 199);
  sandboxes[0]!.releaseAll();
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('reserve refuses an address another sandbox has claimed (the pod gets a new one)', (t) => {
  const dir = claimsDir(t);
  const other = new AddressClaims(dir);
  assert.ok(other.claim('127.1.9.9'));
  const ipam = new IpAllocator(0, new AddressClaims(dir));
  assert.equal(ipam.reserve('a', '127.1.9.9'), false);
  assert.equal(ipam.reserve('a', '127.1.9.10'), true);
  other.releaseAll();
  assert.equal(ipam.reserve('b', '127.1.9.9'), true);
  ipam.releaseAll();
});

test('a claim of a live process is respected; a dead process leaves a stale claim that is taken over', async (t) => {
  const dir = claimsDir(t);
  const ip = '127.1.44.44';
  // another process holds the address (the claim file is the protocol: its pid and a token)
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  fs.writeFileSync(path.join(dir, ip), `${child.pid} deadbeef\n`);
  const mine = new AddressClaims(dir);
  assert.equal(mine.claim(ip), false, 'held by a live process');
  const ipam = new IpAllocator(ipToNumber(ip)! & 0xffff, mine);
  assert.notEqual(ipam.allocate('p'), ip, 'the allocator skips it');
  // the holder is killed without releasing
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(mine.claim(ip), true, 'stale claim taken over');
  assert.match(fs.readFileSync(path.join(dir, ip), 'utf8'), new RegExp(`^${process.pid} `));
  mine.releaseAll();
  assert.ok(!fs.existsSync(path.join(dir, ip)));
});

test('claims go when the process exits, even without releaseAll', (t) => {
  const dir = claimsDir(t);
  const script = `import { readdirSync } from 'node:fs';
    import { AddressClaims } from ${JSON.stringify(new URL('./ipam.ts', import.meta.url).href)};
    const c = new AddressClaims(${JSON.stringify(dir)});
    if (!c.claim('127.1.5.5')) process.exit(3);
    console.log(readdirSync(${JSON.stringify(dir)}).join(','));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '127.1.5.5', 'held while the process ran');
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('test addresses: 127.2.0.0/16, distinct, never in the pod range, and free to listen on', async (t) => {
  const dir = claimsDir(t);
  const claims = new AddressClaims(dir);
  const ips = Array.from({ length: 50 }, () => claimTestIp(claims));
  assert.equal(new Set(ips).size, 50);
  for (const ip of ips) {
    assert.match(ip, /^127\.2\.\d+\.\d+$/);
    assert.ok(!inPodRange(ip), ip);
    const last = ipToNumber(ip)! & 255;
    assert.ok(last !== 0 && last !== 255, ip);
  }
  // a second claimant (another test process) never gets the same ones
  const other = new AddressClaims(dir);
  const more = Array.from({ length: 50 }, () => claimTestIp(other));
  assert.ok(more.every((ip) => !ips.includes(ip)));
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, ips[0], () => resolve());
  });
  server.close();
  claims.releaseAll();
  other.releaseAll();
});
