// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics and defaults:
//   leaseDuration 15 s  how long a lease is valid after its last renewal;
//   renewDeadline 10 s  how long the leader keeps retrying a failed renewal before it gives up leadership;
//   retryPeriod    2 s  the pause between attempts (acquiring: with up to 20 % jitter).
// - the Lease is created when it does not exist (a 409 on create means another candidate won);
// - a Lease held by someone else is taken over only when `renewTime + leaseDurationSeconds < now` (or when its
//   holderIdentity is empty: released); clocks of candidates are assumed roughly in sync (as with client-go's
//   renewTime; client-go additionally measures expiry on its own clock, which we do when renewTime is missing);
// - every update is an optimistic PUT with the resourceVersion read just before (409 = lost the race);
// - `stop()` releases the Lease (empty holderIdentity, leaseDurationSeconds 1) when this candidate holds it, so a
//   successor takes over at once.
// acquireTime/renewTime are MicroTime: the API server only accepts exactly 6 fractional digits (client-node
// serialises a Date with 3 and gets a 400 "cannot parse"), so the Lease is sent as raw JSON through KubeClient
// with `microTime()`, and read back with the lenient `parseMicroTime()`.

import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { nullLogger, type Logger } from '../observability/logger.ts';
import { defaultRegistry } from '../observability/metrics.ts';
import { isConflict, isNotFound, type KubeClient, type KubeObject } from './rest.ts';
import { microTime } from './time.ts';

/** A unique candidate identity: `$POD_NAME` (or the host name) plus a random suffix, as client-go suggests. */
export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.POD_NAME || os.hostname() || 'emqx-operator';
  return `${base}_${randomUUID()}`;
}

export { microTime } from './time.ts';

/** Parses RFC 3339 with any number of fractional digits (or none); undefined when unparsable. */
export function parseMicroTime(s: unknown): number | undefined {
  if (s instanceof Date) return s.getTime();
  if (typeof s !== 'string') return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(s.trim());
  if (!m) return undefined;
  const frac = (m[2] ?? '').padEnd(3, '0').slice(0, 3);
  const t = Date.parse(`${m[1]}.${frac}${m[3]}`);
  return Number.isNaN(t) ? undefined : t;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectorOptions {
  namespace: string;
  /** Lease name. */
  name: string;
  /** This candidate's identity (e.g. pod name + a random suffix): unique per process. */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Called once this candidate became the leader. Errors are logged. */
  onStartedLeading?: () => void | Promise<void>;
  /** Called when leadership ends (lost, or released by stop()). The operator should stop reconciling (or exit). */
  onStoppedLeading?: () => void;
  /** Called when the observed leader changes (including to this candidate). */
  onNewLeader?: (identity: string) => void;
  /** Release the lease on stop(); default true. */
  releaseOnStop?: boolean;
  logger?: Logger;
  /** For tests. */
  now?: () => number;
}

const isLeaderGauge = defaultRegistry.gauge({
  name: 'emqx_operator_leader',
  help: '1 while this process holds the leader lease.',
  labelNames: ['lease'],
});

const LEASES = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };

export class LeaderElector {
  private readonly client: KubeClient;
  private readonly o: Required<
    Omit<LeaderElectorOptions, 'onStartedLeading' | 'onStoppedLeading' | 'onNewLeader' | 'logger'>
  > &
    LeaderElectorOptions;
  private readonly log: Logger;
  private leading = false;
  private stopped = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private observed: { holder: string; rv?: string; seenAt: number; renewTime?: string } | undefined;
  private lastLeader = '';

  constructor(client: KubeClient, opts: LeaderElectorOptions) {
    this.client = client;
    this.o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      releaseOnStop: true,
      now: () => Date.now(),
      ...opts,
    };
    if (this.o.leaseDurationMs <= this.o.renewDeadlineMs) {
      throw new Error('leader election: leaseDuration must be greater than renewDeadline');
    }
    if (this.o.renewDeadlineMs <= this.o.retryPeriodMs) {
      throw new Error('leader election: renewDeadline must be greater than retryPeriod');
    }
    this.log = (opts.logger ?? nullLogger).child({
      lease: `${opts.namespace}/${opts.name}`,
      identity: opts.identity,
    });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The last observed holder of the lease ('' when released or unknown). */
  get leader(): string {
    return this.lastLeader;
  }

  /**
   * Campaigns until it leads, then renews until leadership is lost or `stop()` is called. Resolves when it ends
   * (after onStoppedLeading). Calling it twice returns the same run.
   */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Stops campaigning/renewing; releases the lease if held (unless releaseOnStop is false); waits for run(). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    // acquire
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) break;
      await this.sleep(this.o.retryPeriodMs * (1 + Math.random() * 0.2));
    }
    if (this.stopped) return;
    this.leading = true;
    isLeaderGauge.set({ lease: this.o.name }, 1);
    this.log.info('became leader');
    void Promise.resolve()
      .then(() => this.o.onStartedLeading?.())
      .catch((err: unknown) => this.log.error('onStartedLeading failed', { err }));

    // renew
    let lastRenew = this.o.now();
    while (!this.stopped) {
      await this.sleep(this.o.retryPeriodMs);
      if (this.stopped) break;
      const ok = await this.tryAcquireOrRenew();
      if (ok) {
        lastRenew = this.o.now();
        continue;
      }
      if (this.observed && this.observed.holder !== this.o.identity && this.observed.holder !== '') {
        this.log.warn('leadership lost: lease taken by another candidate', { holder: this.observed.holder });
        break;
      }
      if (this.o.now() - lastRenew >= this.o.renewDeadlineMs) {
        this.log.warn('leadership lost: could not renew within the renew deadline', {
          renewDeadlineMs: this.o.renewDeadlineMs,
        });
        break;
      }
    }
    if (this.stopped && this.o.releaseOnStop) await this.release();
    this.leading = false;
    isLeaderGauge.set({ lease: this.o.name }, 0);
    try {
      this.o.onStoppedLeading?.();
    } catch (err) {
      this.log.error('onStoppedLeading failed', { err });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private requestTimeout(): number {
    return Math.max(500, Math.min(5000, this.o.renewDeadlineMs / 2));
  }

  private noteLeader(holder: string): void {
    if (holder !== this.lastLeader) {
      this.lastLeader = holder;
      if (holder) {
        this.log.info('new leader observed', { leader: holder });
        try {
          this.o.onNewLeader?.(holder);
        } catch (err) {
          this.log.error('onNewLeader failed', { err });
        }
      }
    }
  }

  private async get(): Promise<Lease | undefined> {
    try {
      return await this.client.request<Lease>(
        'GET',
        await this.client.path({ ...LEASES, namespace: this.o.namespace, name: this.o.name }),
        { timeoutMs: this.requestTimeout() },
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** One attempt, as client-go's tryAcquireOrRenew; false on any failure (logged at debug). */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.o.now();
    const nowMicro = microTime(new Date(now));
    const durationSeconds = Math.ceil(this.o.leaseDurationMs / 1000);
    try {
      const lease = await this.get();
      if (!lease) {
        const body: Lease = {
          ...LEASES,
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: {
            holderIdentity: this.o.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: nowMicro,
            renewTime: nowMicro,
            leaseTransitions: 0,
          },
        };
        const created = await this.client.request<Lease>(
          'POST',
          await this.client.path({ ...LEASES, namespace: this.o.namespace }),
          { body, timeoutMs: this.requestTimeout(), write: { verb: 'create', kind: 'Lease', ...this.ref() } },
        );
        this.observe(created, now);
        return true;
      }

      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      this.observe(lease, now);
      const iHold = holder === this.o.identity;
      if (!iHold && holder !== '' && !this.expired(spec, now)) return false;

      const next: LeaseSpec = iHold
        ? { ...spec, renewTime: nowMicro, leaseDurationSeconds: durationSeconds }
        : {
            ...spec,
            holderIdentity: this.o.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: nowMicro,
            renewTime: nowMicro,
            leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
          };
      const updated = await this.client.request<Lease>(
        'PUT',
        await this.client.path({ ...LEASES, namespace: this.o.namespace, name: this.o.name }),
        {
          body: { ...lease, spec: next },
          timeoutMs: this.requestTimeout(),
          write: { verb: 'update', kind: 'Lease', ...this.ref() },
        },
      );
      this.observe(updated, now);
      if (!iHold) this.log.info('lease acquired', { previousHolder: holder || undefined });
      return true;
    } catch (err) {
      if (isConflict(err)) this.log.debug('lease update lost a race');
      else this.log.debug('lease attempt failed', { err });
      return false;
    }
  }

  private ref() {
    return { namespace: this.o.namespace, name: this.o.name };
  }

  private observe(lease: Lease, now: number): void {
    const holder = lease.spec?.holderIdentity ?? '';
    const rv = lease.metadata?.resourceVersion;
    const renewTime = lease.spec?.renewTime;
    if (!this.observed || this.observed.rv !== rv || this.observed.renewTime !== renewTime) {
      this.observed = { holder, rv, seenAt: now, renewTime };
    }
    this.noteLeader(holder);
  }

  private expired(spec: LeaseSpec, now: number): boolean {
    const durationMs = (spec.leaseDurationSeconds ?? Math.ceil(this.o.leaseDurationMs / 1000)) * 1000;
    const renew = parseMicroTime(spec.renewTime) ?? this.observed?.seenAt ?? now;
    return renew + durationMs < now;
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.get();
      if (!lease || lease.spec?.holderIdentity !== this.o.identity) return;
      const nowMicro = microTime(new Date(this.o.now()));
      await this.client.request(
        'PUT',
        await this.client.path({ ...LEASES, namespace: this.o.namespace, name: this.o.name }),
        {
          body: {
            ...lease,
            spec: {
              ...lease.spec,
              holderIdentity: '',
              leaseDurationSeconds: 1,
              acquireTime: nowMicro,
              renewTime: nowMicro,
            },
          },
          timeoutMs: this.requestTimeout(),
          write: { verb: 'update', kind: 'Lease', ...this.ref() },
        },
      );
      this.noteLeader('');
      this.log.info('lease released');
    } catch (err) {
      this.log.warn('could not release the lease', { err });
    }
  }
}
