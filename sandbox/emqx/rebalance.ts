// Node evacuation and cluster rebalance (EE apps emqx_node_rebalance + emqx_eviction_agent), as state machines
// advanced by a 1 s tick of emulated time. Evicted clients reconnect to the target nodes at once (so the total
// stays constant unless there is nowhere to go); disconnected persistent sessions move in the session phase.
import type { EmqxNode } from './node.ts';

export type EvacuationState =
  'waiting_health_check' | 'evicting_conns' | 'waiting_takeover' | 'evicting_sessions' | 'prohibiting';

export type RebalanceState = 'wait_health_check' | 'evicting_conns' | 'wait_takeover' | 'evicting_sessions';

export interface EvacuationOpts {
  connEvictRate: number;
  sessEvictRate: number;
  /** seconds */
  waitHealthCheck: number;
  /** seconds */
  waitTakeover: number;
  migrateTo: string[];
  redirectTo?: string;
}

export interface RebalanceOpts {
  connEvictRate: number;
  sessEvictRate: number;
  waitHealthCheck: number;
  waitTakeover: number;
  absConnThreshold: number;
  relConnThreshold: number;
  absSessThreshold: number;
  relSessThreshold: number;
}

export const SESSION_RETRY_MS = 30_000;

/** The nodes among `names` that `from` sees running and that take new clients (least loaded first). */
function targetsOf(from: EmqxNode, names: string[] | undefined): EmqxNode[] {
  return from
    .runningNodes()
    .filter((n) => n !== from && (names === undefined || names.includes(n.name)) && n.acceptsNewClients())
    .sort((a, b) => a.load.sessions - b.load.sessions || a.name.localeCompare(b.name));
}

export class Evacuation {
  readonly node: EmqxNode;
  readonly opts: EvacuationOpts;
  state: EvacuationState;
  stateSince: number;
  readonly initialConnected: number;
  readonly initialSessions: number;
  #nextSessionTry = 0;

  constructor(node: EmqxNode, opts: EvacuationOpts, resume = false) {
    this.node = node;
    this.opts = opts;
    this.state = resume ? 'evicting_conns' : 'waiting_health_check';
    this.stateSince = node.clock.now();
    this.initialConnected = node.load.live;
    this.initialSessions = node.load.sessions;
  }

  #enter(state: EvacuationState): void {
    this.state = state;
    this.stateSince = this.node.clock.now();
    this.node.log('info', `node evacuation: ${state}`);
  }

  /** `migrate_to` as given, else every other running node at start. */
  get recipients(): string[] {
    return this.opts.migrateTo;
  }

  tick(now: number): void {
    const elapsed = now - this.stateSince;
    switch (this.state) {
      case 'waiting_health_check':
        if (elapsed >= this.opts.waitHealthCheck * 1000) this.#enter('evicting_conns');
        return;
      case 'evicting_conns': {
        if (this.node.load.live > 0) {
          this.node.evictConnections(this.opts.connEvictRate, targetsOf(this.node, this.recipients));
        }
        if (this.node.load.live === 0) this.#enter('waiting_takeover');
        return;
      }
      case 'waiting_takeover':
        if (elapsed >= this.opts.waitTakeover * 1000) this.#enter('evicting_sessions');
        return;
      case 'evicting_sessions': {
        if (this.node.load.disconnected > 0 && now >= this.#nextSessionTry) {
          const targets = targetsOf(this.node, this.recipients);
          if (targets.length === 0) {
            this.#nextSessionTry = now + SESSION_RETRY_MS;
            this.node.log('warning', 'node evacuation: no session recipient is available, retrying in 30s');
          } else {
            this.node.migrateSessions(this.opts.sessEvictRate, targets);
          }
        }
        if (this.node.load.sessions === 0) this.#enter('prohibiting');
        return;
      }
      case 'prohibiting':
        return;
    }
  }

  get done(): boolean {
    return this.state === 'prohibiting';
  }

  status(): Record<string, unknown> {
    return {
      node: this.node.name,
      state: this.state,
      connection_eviction_rate: this.opts.connEvictRate,
      session_eviction_rate: this.opts.sessEvictRate,
      connection_goal: 0,
      session_goal: 0,
      session_recipients: this.recipients,
      stats: {
        initial_connected: this.initialConnected,
        current_connected: this.node.load.live,
        initial_sessions: this.initialSessions,
        current_sessions: this.node.load.sessions,
      },
    };
  }

  toJSON(): Record<string, unknown> {
    return {
      conn_evict_rate: this.opts.connEvictRate,
      sess_evict_rate: this.opts.sessEvictRate,
      wait_health_check: this.opts.waitHealthCheck,
      wait_takeover: this.opts.waitTakeover,
      migrate_to: this.opts.migrateTo,
      ...(this.opts.redirectTo === undefined ? {} : { redirect_to: this.opts.redirectTo }),
    };
  }

  static fromJSON(node: EmqxNode, obj: unknown): Evacuation | undefined {
    if (!obj || typeof obj !== 'object') return undefined;
    const o = obj as Record<string, unknown>;
    const num = (k: string, d: number): number => (typeof o[k] === 'number' ? (o[k] as number) : d);
    return new Evacuation(
      node,
      {
        connEvictRate: num('conn_evict_rate', 500),
        sessEvictRate: num('sess_evict_rate', 500),
        waitHealthCheck: num('wait_health_check', 60),
        waitTakeover: num('wait_takeover', 60),
        migrateTo: Array.isArray(o['migrate_to']) ? (o['migrate_to'] as unknown[]).map(String) : [],
        ...(typeof o['redirect_to'] === 'string' ? { redirectTo: o['redirect_to'] } : {}),
      },
      true,
    );
  }
}

function avg(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** EMQX's test: the donors' average is above the recipients' by more than both thresholds. */
export function needRebalance(
  donorCounts: number[],
  recipientCounts: number[],
  abs: number,
  rel: number,
): boolean {
  if (donorCounts.length === 0 || recipientCounts.length === 0) return false;
  const d = avg(donorCounts);
  const r = avg(recipientCounts);
  return d > r + abs && d > r * rel;
}

/** Donors are the nodes at or above the average connection count; the rest are recipients. */
export function splitDonors(counts: Map<string, number>): { donors: string[]; recipients: string[] } {
  const a = avg([...counts.values()]);
  const donors: string[] = [];
  const recipients: string[] = [];
  for (const [name, c] of [...counts.entries()].sort((x, y) => x[0].localeCompare(y[0]))) {
    (c >= a ? donors : recipients).push(name);
  }
  return { donors, recipients };
}

export class Rebalance {
  readonly coordinator: EmqxNode;
  readonly nodes: string[];
  readonly donors: string[];
  readonly recipients: string[];
  readonly opts: RebalanceOpts;
  state: RebalanceState = 'wait_health_check';
  stateSince: number;
  connectionGoal = 0;
  sessionGoal = 0;

  constructor(
    coordinator: EmqxNode,
    nodes: string[],
    donors: string[],
    recipients: string[],
    opts: RebalanceOpts,
  ) {
    this.coordinator = coordinator;
    this.nodes = nodes;
    this.donors = donors;
    this.recipients = recipients;
    this.opts = opts;
    this.stateSince = coordinator.clock.now();
  }

  #enter(state: RebalanceState): void {
    this.state = state;
    this.stateSince = this.coordinator.clock.now();
    this.coordinator.log('info', `rebalance: ${state}`);
  }

  #resolve(names: string[]): EmqxNode[] {
    const running = new Map(this.coordinator.runningNodes().map((n) => [n.name, n]));
    return names.map((n) => running.get(n)).filter((n): n is EmqxNode => n !== undefined);
  }

  /** Advances the state machine; returns false once the rebalance is over. */
  tick(now: number): boolean {
    const elapsed = now - this.stateSince;
    switch (this.state) {
      case 'wait_health_check':
        if (elapsed >= this.opts.waitHealthCheck * 1000) this.#enter('evicting_conns');
        return true;
      case 'evicting_conns': {
        if (!this.#evict('conns')) this.#enter('wait_takeover');
        return true;
      }
      case 'wait_takeover':
        if (elapsed >= this.opts.waitTakeover * 1000) this.#enter('evicting_sessions');
        return true;
      case 'evicting_sessions':
        return this.#evict('sessions');
    }
  }

  /** One eviction step; false when balanced (or nothing can move). */
  #evict(kind: 'conns' | 'sessions'): boolean {
    const donors = this.#resolve(this.donors);
    const recipients = this.#resolve(this.recipients).filter((n) => n.acceptsNewClients());
    if (donors.length === 0 || recipients.length === 0) return false;
    const count = (n: EmqxNode): number => (kind === 'conns' ? n.load.live : n.load.sessions);
    const abs = kind === 'conns' ? this.opts.absConnThreshold : this.opts.absSessThreshold;
    const rel = kind === 'conns' ? this.opts.relConnThreshold : this.opts.relSessThreshold;
    if (!needRebalance(donors.map(count), recipients.map(count), abs, rel)) return false;
    const goal = Math.ceil(avg([...donors, ...recipients].map(count)));
    if (kind === 'conns') this.connectionGoal = goal;
    else this.sessionGoal = goal;
    let moved = 0;
    for (const d of donors) {
      const excess = count(d) - goal;
      if (excess <= 0) continue;
      const rate = kind === 'conns' ? this.opts.connEvictRate : this.opts.sessEvictRate;
      const targets = [...recipients].sort((a, b) => count(a) - count(b) || a.name.localeCompare(b.name));
      moved +=
        kind === 'conns'
          ? d.evictConnections(Math.min(rate, excess), targets)
          : d.migrateSessions(Math.min(rate, excess), targets);
    }
    return moved > 0;
  }

  status(): Record<string, unknown> {
    return {
      node: this.coordinator.name,
      coordinator_node: this.coordinator.name,
      state: this.state,
      donors: this.donors,
      recipients: this.recipients,
      connection_eviction_rate: this.opts.connEvictRate,
      session_eviction_rate: this.opts.sessEvictRate,
      connection_goal: this.connectionGoal,
      session_goal: this.sessionGoal,
    };
  }
}
