// Pod IP allocation in 127.1.0.0/16. Linux routes all of 127.0.0.0/8 to the loopback interface, so a "pod" can
// listen on its own address without any network setup. Addresses ending in .0 or .255 are never handed out, and
// an address stays taken until its pod is gone from the API server.

export const POD_CIDR = '127.1.0.0/16';
const BASE = (127 << 24) | (1 << 16); // 127.1.0.0
const SIZE = 1 << 16;

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

export class IpAllocator {
  private readonly byOwner = new Map<string, string>();
  private readonly owners = new Map<string, string>();
  private cursor: number;

  /**
   * `start` is the offset in the range where the search begins. By default it is random, so that two sandboxes on
   * one machine (say, a test's and the CLI's) are unlikely to hand out the same address.
   */
  constructor(start: number = Math.floor(Math.random() * SIZE)) {
    this.cursor = ((start % SIZE) + SIZE) % SIZE;
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
    this.take(owner, ip);
    return true;
  }

  release(owner: string): void {
    const ip = this.byOwner.get(owner);
    if (ip === undefined) return;
    this.byOwner.delete(owner);
    this.owners.delete(ip);
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
