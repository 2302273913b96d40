// When an EMQX API failure is worth telling a person (pure). One failed or slow read of `/api/v5/nodes` on a Ready
// cluster (a timeout on a busy machine, a core restarting) is not news: reporting it at once costs a status write,
// a Warning Event and, on the next good pass, another status write — noise for the reader and writes for nothing.
// So on a cluster that was Ready, a failure counts only once it lasts `graceMs`; meanwhile the pass looks again
// after `retryMs` (instead of the 30 s Ready interval), and the status leaves the failure out. A failure on a
// cluster that is not Ready is reported at once. Each outage is announced by one Warning Event (when a read failed)
// and, once EMQX answers again, one Normal Event. Only the report waits: a pass without the node list never takes a
// destructive rollout step (the strategies wait for `snapshot.nodes`), grace or not.
//
// The memory (`ApiOutage`) is kept per resource uid by the reconciler and fed back here each pass.
import type { PlannedEvent } from './rollout/types.ts';
import type { Snapshot } from './snapshot.ts';

/** An outage under way: since when, and what was said about it. */
export interface ApiOutage {
  /** The first pass that saw it (ms). */
  readonly since: number;
  /** The status shows it (the grace is over, or the cluster was not Ready). */
  readonly reported: boolean;
  /** A Warning Event said so. */
  readonly announced: boolean;
}

export interface ApiOutageOptions {
  /** A failure on a Ready cluster is reported once it lasts this long. */
  graceMs: number;
  /** While it is not reported yet, look again this soon. */
  retryMs: number;
}

/**
 * 15 s: about three retries 5 s apart (a read times out after 5 s), so one slow pass under load is absorbed, while a
 * real outage shows within ~20 s of its first failed pass plus that pass's own time (well under the 30 s Ready
 * interval at which it could have been first seen).
 */
export const DEFAULT_API_OUTAGE_OPTIONS: ApiOutageOptions = { graceMs: 15_000, retryMs: 5_000 };

/** The reason of the Warning Event that announces an outage (the Go operator's name for it). */
export const REASON_API_FAILED = 'FailedToGetNodeStatuses';
export const REASON_API_RECOVERED = 'NodeStatusesRestored';

export interface ApiOutageInput {
  /** Why the node list is missing this pass (`Snapshot.apiError`); undefined when EMQX answered. */
  readonly error?: string;
  /** A read was tried and failed (not merely no ready core to ask): worth a Warning Event once reported. */
  readonly readFailed: boolean;
  /** Ready was True in the status last written. */
  readonly wasReady: boolean;
}

export interface ApiOutageVerdict {
  /** What to remember for the next pass (undefined: no outage). */
  readonly next?: ApiOutage;
  /** The status leaves the failure out this pass (within the grace). */
  readonly hidden: boolean;
  /** At most one Event: the outage announced, or its end. */
  readonly event?: PlannedEvent;
  /** Look again this soon (while the failure is hidden). */
  readonly retryMs?: number;
}

/**
 * The EMQX API failure of a pass, as the grace sees it: the node list's, else durable storage's (`/ds` is read
 * through the same API, after the node list: one slow call among its several is the same one-off failure). None
 * while paused (nothing is read, nothing to report).
 */
export function apiFailureOf(s: Pick<Snapshot, 'paused' | 'apiError' | 'ds'>): string | undefined {
  if (s.apiError !== undefined) return s.apiError;
  if (s.paused || !s.ds?.active || s.ds.observed) return undefined;
  return s.ds.error;
}

function seconds(ms: number): number {
  return Math.round(ms / 1000);
}

export function apiOutageVerdict(
  prev: ApiOutage | undefined,
  input: ApiOutageInput,
  now: number,
  opts: ApiOutageOptions = DEFAULT_API_OUTAGE_OPTIONS,
): ApiOutageVerdict {
  if (input.error === undefined) {
    if (!prev?.announced) return { hidden: false };
    return {
      hidden: false,
      event: {
        type: 'Normal',
        reason: REASON_API_RECOVERED,
        message: `the EMQX API answers again (it failed for ${seconds(now - prev.since)} s)`,
      },
    };
  }
  const since = prev?.since ?? now;
  const lasted = now - since;
  if (!prev?.reported && input.wasReady && lasted < opts.graceMs) {
    return {
      next: { since, reported: false, announced: false },
      hidden: true,
      retryMs: Math.min(opts.retryMs, opts.graceMs - lasted),
    };
  }
  const announce = input.readFailed && !prev?.announced;
  return {
    next: { since, reported: true, announced: Boolean(prev?.announced) || announce },
    hidden: false,
    ...(announce && {
      event: {
        type: 'Warning' as const,
        reason: REASON_API_FAILED,
        message:
          lasted > 0
            ? `EMQX API: ${input.error} (failing for ${seconds(lasted)} s)`
            : `EMQX API: ${input.error}`,
      },
    }),
  };
}
