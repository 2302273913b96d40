// Emulated time for the EMQX node emulator. Every delay inside the emulator (boot time, autocluster retries,
// evacuation ticks, cluster.autoclean, uptime) is expressed in emulated milliseconds and goes through a clock, so
// tests can run faster than real time (ScaledClock with timeScale > 1) or step time by hand (ManualClock).

export interface TimerHandle {
  cancel(): void;
}

export interface EmqxClock {
  /** How many emulated milliseconds pass per real millisecond (1 for ManualClock). */
  readonly timeScale: number;
  /** Emulated wall-clock time, epoch milliseconds. */
  now(): number;
  /** Runs `fn` once after `delayMs` emulated milliseconds. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** Runs `fn` every `periodMs` emulated milliseconds until cancelled. */
  setRepeating(periodMs: number, fn: () => void): TimerHandle;
  /** Resolves after `ms` emulated milliseconds. */
  sleep(ms: number): Promise<void>;
}

/**
 * Real time, optionally sped up: with `timeScale: 10`, 60 emulated seconds take 6 real seconds and `now()` moves
 * ten times faster than `Date.now()` (starting from the real time at construction). Timers are unref'd: they never
 * keep the process alive on their own.
 */
export class ScaledClock implements EmqxClock {
  readonly timeScale: number;
  readonly #realOrigin: number;
  readonly #emulatedOrigin: number;

  constructor(timeScale = 1, origin: number = Date.now()) {
    if (!(timeScale > 0) || !Number.isFinite(timeScale))
      throw new Error(`timeScale must be > 0, got ${timeScale}`);
    this.timeScale = timeScale;
    this.#realOrigin = performance.now();
    this.#emulatedOrigin = origin;
  }

  now(): number {
    return Math.floor(this.#emulatedOrigin + (performance.now() - this.#realOrigin) * this.timeScale);
  }

  #real(ms: number): number {
    // setTimeout caps at 2^31-1 ms; longer emulated waits (cluster.autoclean = 24h at scale 1) are chained.
    return Math.max(0, ms / this.timeScale);
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const MAX = 2 ** 31 - 1;
    let t: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = (remainingReal: number): void => {
      const step = Math.min(remainingReal, MAX);
      t = setTimeout(() => {
        if (cancelled) return;
        if (remainingReal > MAX) arm(remainingReal - MAX);
        else fn();
      }, step);
      t.unref();
    };
    arm(this.#real(delayMs));
    return {
      cancel: () => {
        cancelled = true;
        if (t) clearTimeout(t);
      },
    };
  }

  setRepeating(periodMs: number, fn: () => void): TimerHandle {
    const t = setInterval(fn, Math.max(1, this.#real(periodMs)));
    t.unref();
    return { cancel: () => clearInterval(t) };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, this.#real(ms));
      // a sleeping caller is waiting for this; keep the process alive meanwhile
      void t;
    });
  }
}

interface ManualTimer {
  due: number;
  seq: number;
  period: number | undefined;
  fn: () => void;
  cancelled: boolean;
}

/**
 * Time that moves only when a test calls `advance(ms)`. Due timers run in order; between timers the clock lets
 * pending promises and I/O callbacks settle, so async work started by a timer (a DNS lookup, say) completes before
 * the next timer fires.
 */
export class ManualClock implements EmqxClock {
  readonly timeScale = 1;
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  #add(delayMs: number, period: number | undefined, fn: () => void): TimerHandle {
    const timer: ManualTimer = {
      due: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      period,
      fn,
      cancelled: false,
    };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
        this.#timers = this.#timers.filter((x) => x !== timer);
      },
    };
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.#add(delayMs, undefined, fn);
  }

  setRepeating(periodMs: number, fn: () => void): TimerHandle {
    return this.#add(periodMs, Math.max(1, periodMs), fn);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#add(ms, undefined, resolve));
  }

  /** Number of timers waiting (for tests that check nothing keeps ticking). */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#timers
        .filter((t) => t.due <= target)
        .sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.#now = Math.max(this.#now, next.due);
      if (next.period !== undefined) {
        next.due += next.period;
        next.seq = this.#seq++;
      } else {
        this.#timers = this.#timers.filter((t) => t !== next);
      }
      next.fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }
}

/** Lets queued promise continuations and immediate callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
