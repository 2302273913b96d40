// Write fights: another controller, or a mutating webhook, changes a field the operator applies. Every pass then
// sees a difference, writes it back, and the other side's change re-queues the key at once: a write loop that
// never ends. This detector notices the same field of the same object written again and again with the same
// desired object (`threshold` times within `windowMs`; a spec edited three times writes three different objects and
// is no fight), and holds that object for an exponentially growing time (`baseMs`, doubled each time the fight goes
// on after a hold, at most `maxMs`). After a hold the first write (restoring the operator's value) is expected; a
// second write back of the field within the window means the other side is still at it. The plan leaves a held
// object out, and Ready says which object and which field are fought over (and who else writes the object). Pure:
// the reconciler keeps the state per resource.

export interface FightOptions {
  threshold: number;
  windowMs: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_FIGHT_OPTIONS: FightOptions = {
  threshold: 3,
  windowMs: 5 * 60_000,
  baseMs: 10_000,
  maxMs: 10 * 60_000,
};

/** One update of a live object by this operator: `Kind/name` and the paths its apply changed. */
export interface ObjectWrite {
  object: string;
  /** Hash of the desired object that was applied. */
  desired: string;
  fields: readonly string[];
  /** Other field managers of the object, as its managedFields listed them before the write. */
  otherManagers: readonly string[];
}

/** An object held back, and why. */
export interface WriteHold {
  object: string;
  field: string;
  otherManagers: readonly string[];
  /** How many times the field was written back in the window when the fight was noticed. */
  writes: number;
  /** 1 for the first hold, +1 each time the fight resumed after one. */
  level: number;
  /** Epoch ms: noticed, and until when the object is not written. */
  since: number;
  until: number;
  /** The first write after the hold ended (it restores the operator's value). */
  resumedAt?: number;
}

export interface FightState {
  /** Recent writes: when, which object, which field. */
  readonly history: ReadonlyArray<{ at: number; object: string; desired: string; field: string }>;
  /** The fight under way (held, or its hold expired and the next write back escalates it). */
  readonly fight?: WriteHold;
}

export const NO_FIGHT: FightState = { history: [] };

/** The state after this pass's writes (at `now`). */
export function recordWrites(
  state: FightState,
  writes: readonly ObjectWrite[],
  now: number,
  opts: FightOptions = DEFAULT_FIGHT_OPTIONS,
): FightState {
  const fresh = writes.flatMap((w) =>
    w.fields.map((field) => ({ at: now, object: w.object, desired: w.desired, field })),
  );
  const history = [...state.history.filter((h) => now - h.at < opts.windowMs), ...fresh];
  const same = (a: { object: string; field: string }, b: { object: string; field: string }) =>
    a.object === b.object && a.field === b.field;
  const countOf = (f: { object: string; desired: string; field: string }) =>
    history.filter((h) => same(h, f) && h.desired === f.desired).length;
  const hold = (f: { object: string; field: string }, level: number, count: number): WriteHold => ({
    object: f.object,
    field: f.field,
    otherManagers:
      writes.find((w) => w.object === f.object)?.otherManagers ?? state.fight?.otherManagers ?? [],
    writes: count,
    level,
    since: now,
    until: now + Math.min(opts.maxMs, opts.baseMs * 2 ** (level - 1)),
  });
  const fight = state.fight;
  if (fight) {
    const again = fresh.find((f) => same(f, fight));
    if (again && now >= fight.until) {
      // the first write after the hold restores the operator's value; changed back once more: still fighting
      if (fight.resumedAt === undefined) return { history, fight: { ...fight, resumedAt: now } };
      return { history, fight: hold(fight, fight.level + 1, countOf(again)) };
    }
    // over once no write back came for a whole window
    if (now < (fight.resumedAt ?? fight.until) + opts.windowMs) return { history, fight };
  }
  for (const f of fresh) {
    const count = countOf(f);
    if (count >= opts.threshold) return { history, fight: hold(f, 1, count) };
  }
  return history.length === 0 ? NO_FIGHT : { history };
}

/** The hold in force at `now`, if any. */
export function activeHold(state: FightState | undefined, now: number): WriteHold | undefined {
  const f = state?.fight;
  return f && now < f.until ? f : undefined;
}

export const REASON_WRITE_CONFLICT = 'WriteConflict';

/** What Ready and the Event say about a hold (names the object, the field, the other writers; never a value). */
export function writeHoldMessage(h: WriteHold): string {
  const who =
    h.otherManagers.length > 0
      ? `field manager ${h.otherManagers.map((m) => `"${m}"`).join(', ')} (or a mutating webhook)`
      : 'a mutating webhook or another controller';
  const until = new Date(h.until).toISOString().replace(/\.\d+Z$/, 'Z');
  const secs = Math.round((h.until - h.since) / 1000);
  return `${h.object}: field ${h.field} is changed back by ${who} after every write (${h.writes} writes within the window); not written again for ${secs} s, until ${until} (hold ${h.level})`;
}
