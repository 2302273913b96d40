// Pod IP allocation in 127.1.0.0/16. Linux routes all of 127.0.0.0/8 to the loopback interface, so a "pod" can
// listen on its own address without any network setup. Addresses ending in .0 or .255 are never handed out, and
// an address stays taken until its pod is gone from the API server.
//
// Loopback is shared by every process on the machine: two sandboxes (a test's, the demo's, a benchmark's, another
// worktree's) would otherwise hand out the same address, and the second pod to listen on it exits with EADDRINUSE
// until the first one goes. So a sandbox's allocator claims each address machine-wide (AddressClaims: one file per
// address, created exclusively, holding the claimant's pid), and tests that run emulated nodes without a kubelet
// take their addresses from another range, 127.2.0.0/16, through the same claims (claimTestIp).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export const POD_CIDR = '127.1.0.0/16';
const BASE = (127 << 24) | (1 << 16); // 127.1.0.0
const SIZE = 1 << 16;
/** Addresses for emulated nodes that tests run without a kubelet; no sandbox hands these out. */
export const TEST_CIDR = '127.2.0.0/16';
const TEST_BASE = (127 << 24) | (2 << 16); // 127.2.0.0

export function ipToString(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function ipToNumber(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function inPodRange(ip: string): boolean {
  const n = ipToNumber(ip);
  return n !== undefined && n >>> 16 === BASE >>> 16;
}

/** Where AddressClaims keeps its files unless told otherwise (shared by every process of the machine). */
export const DEFAULT_CLAIMS_DIR = path.join(os.tmpdir(), 'emqx-sandbox-addresses');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const liveClaims = new Set<AddressClaims>();
let exitHook = false;

/**
 * Machine-wide claims on loopback addresses: `claim(ip)` creates `<dir>/<ip>` exclusively with this process's pid
 * and a token of this instance, so two instances (in one process or two) never both hold an address. A claim whose
 * process is gone (killed before it released) is stale and taken over. Claims are released one by one, by
 * `releaseAll()`, and at the latest when the process exits.
 */
export class AddressClaims {
  readonly dir: string;
  readonly #token = `${process.pid} ${randomBytes(6).toString('hex')}`;
  readonly #held = new Set<string>();

  constructor(dir: string = DEFAULT_CLAIMS_DIR) {
    this.dir = dir;
    fs.mkdirSync(dir, { recursive: true });
    liveClaims.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const c of liveClaims) c.releaseAll();
      });
    }
  }

  /** True when this instance now holds `ip` (or already did); false when another live claimant holds it. */
  claim(ip: string): boolean {
    if (this.#held.has(ip)) return true;
    const file = path.join(this.dir, ip);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(file, `${this.#token}\n`, { flag: 'wx' });
        this.#held.add(ip);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let holder: string;
      try {
        holder = fs.readFileSync(file, 'utf8').trim();
      } catch {
        continue; // released meanwhile: try again
      }
      const pid = Number(holder.split(' ')[0]);
      // a half-written file (empty) or a live holder: taken
      if (holder === '' || !Number.isInteger(pid) || pid <= 0 || alive(pid)) return false;
      // stale: its process died without releasing (read again just before, in case it was taken over meanwhile)
      try {
        if (fs.readFileSync(file, 'utf8').trim() === holder) fs.unlinkSync(file);
      } catch {
        // someone else took it over first
      }
    }
    return false;
  }

  release(ip: string): void {
    if (!this.#held.delete(ip)) return;
    const file = path.join(this.dir, ip);
    try {
      if (fs.readFileSync(file, 'utf8').trim() === this.#token) fs.unlinkSync(file);
    } catch {
      // already gone
    }
  }

  /** Releases every claim of this instance (the sandbox stops). */
  releaseAll(): void {
    for (const ip of [...this.#held]) this.release(ip);
    liveClaims.delete(this);
  }

  get held(): number {
    return this.#held.size;
  }
}

let testClaims: AddressClaims | undefined;
let testCursor = Math.floor(Math.random() * SIZE);

/**
 * A fresh address in 127.2.0.0/16 for an emulated node that a test runs without a kubelet, claimed machine-wide (two
 * test processes never get the same one, and no sandbox pod ever has it). Released when the process exits.
 */
export function claimTestIp(claims?: AddressClaims): string {
  const c = claims ?? (testClaims ??= new AddressClaims());
  for (let i = 0; i < SIZE; i++) {
    const offset = testCursor;
    testCursor = (testCursor + 1) % SIZE;
    const last = offset & 255;
    if (last === 0 || last === 255) continue;
    const ip = ipToString(TEST_BASE + offset);
    if (c.claim(ip)) return ip;
  }
  throw new Error(`no free test address left in ${TEST_CIDR}`);
}

export class IpAllocator {
  private readonly byOwner = new Map<string, string>();
  private readonly owners = new Map<string, string>();
  private readonly claims: AddressClaims | undefined;
  private cursor: number;

  /**
   * `start` is the offset in the range where the search begins (random by default). With `claims`, every address is
   * also claimed machine-wide, so other sandboxes on the machine (other processes, or other allocators of this one)
   * never hand out the same one; without, only this allocator's own pods are kept apart.
   */
  constructor(start: number = Math.floor(Math.random() * SIZE), claims?: AddressClaims) {
    this.cursor = ((start % SIZE) + SIZE) % SIZE;
    this.claims = claims;
  }

  /** The address of `owner` (a pod UID), allocating one if needed. Throws when the range is exhausted. */
  allocate(owner: string): string {
    const existing = this.byOwner.get(owner);
    if (existing) return existing;
    for (let i = 0; i < SIZE; i++) {
      const offset = (this.cursor + i) % SIZE;
      const last = offset & 255;
      if (last === 0 || last === 255) continue;
      const ip = ipToString(BASE + offset);
      if (this.owners.has(ip)) continue;
      if (this.claims && !this.claims.claim(ip)) continue; // another sandbox on this machine has it
      this.cursor = (offset + 1) % SIZE;
      this.take(owner, ip);
      return ip;
    }
    throw new Error(`no free pod IP left in ${POD_CIDR}`);
  }

  /**
   * Records an address that a pod already has (seen in its status after a restart of the emulator). Returns false,
   * taking nothing, when the address is outside the range, invalid, or held by another pod.
   */
  reserve(owner: string, ip: string): boolean {
    const n = ipToNumber(ip);
    if (n === undefined || !inPodRange(ip) || (n & 255) === 0 || (n & 255) === 255) return false;
    const holder = this.owners.get(ip);
    if (holder !== undefined) return holder === owner;
    if (this.byOwner.has(owner)) return this.byOwner.get(owner) === ip;
    if (this.claims && !this.claims.claim(ip)) return false;
    this.take(owner, ip);
    return true;
  }

  release(owner: string): void {
    const ip = this.byOwner.get(owner);
    if (ip === undefined) return;
    this.byOwner.delete(owner);
    this.owners.delete(ip);
    this.claims?.release(ip);
  }

  /** Gives up every address and machine-wide claim (the kubelet stops). */
  releaseAll(): void {
    for (const owner of [...this.byOwner.keys()]) this.release(owner);
    this.claims?.releaseAll();
  }

  get(owner: string): string | undefined {
    return this.byOwner.get(owner);
  }

  get size(): number {
    return this.byOwner.size;
  }

  private take(owner: string, ip: string): void {
    this.byOwner.set(owner, ip);
    this.owners.set(ip, owner);
  }
}
