// Which EMQX API target to try first, per set of credentials: the one that answered last time, so one slow or dead
// core costs one timeout, not one per pass. Entries not used for `ttlMs` are dropped (a deleted cluster's, or a
// rotated key's), so the map follows the fleet instead of growing with every cluster ever seen.

/** What the remembered client tells once its calls are done: the target that answered last. */
export interface AnsweringClient {
  readonly currentTarget?: string;
}

interface Entry {
  client: AnsweringClient;
  preferred?: string;
  usedAt: number;
}

export class PreferredTargets {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly clock: () => number;
  private lastSweep: number;

  constructor(ttlMs = 10 * 60_000, clock: () => number = Date.now) {
    this.ttlMs = ttlMs;
    this.clock = clock;
    this.lastSweep = clock();
  }

  /** `targets` with the one that answered last for `id` first (if it is still among them). */
  order(id: string, targets: string[]): string[] {
    const preferred = this.preferred(id);
    return preferred && targets.includes(preferred)
      ? [preferred, ...targets.filter((t) => t !== preferred)]
      : targets;
  }

  /** The client that now serves `id`: its answering target is the preference next time. */
  remember(id: string, client: AnsweringClient): void {
    const now = this.clock();
    const preferred = this.preferred(id);
    this.entries.set(id, { client, ...(preferred !== undefined && { preferred }), usedAt: now });
    if (now - this.lastSweep >= this.ttlMs / 10) {
      this.lastSweep = now;
      for (const [k, e] of this.entries) if (now - e.usedAt > this.ttlMs) this.entries.delete(k);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private preferred(id: string): string | undefined {
    const e = this.entries.get(id);
    return e?.client.currentTarget ?? e?.preferred;
  }
}
