// The in-process "Erlang distribution" shared by every emulated EMQX node of a process, and the test-only control
// API (load, cluster DB, faults, time). A node reaches another only if it resolves the peer's host (through its
// container's DNS) to the pod IP of a live emulated node with that exact name, both carry the same cookie, and no
// partition separates them.
import { ScaledClock } from './clock.ts';
import type { EmqxClock } from './clock.ts';
import type { JsonValue } from './store.ts';
import type { EmqxNode } from './node.ts';

export interface ApiFault {
  /** Extra latency of every `/api/v5/*` answer except the status endpoints, emulated ms. */
  delayMs?: number;
  /** Answer every `/api/v5/*` request except the status endpoints with this 5xx status. */
  status?: number;
}

export interface NodeFaults {
  api?: ApiFault;
  /** `/status` and `/api/v5/status` answer 503 with an empty body (a stopped dashboard listener). */
  statusFail?: boolean;
  /** RPC to this node fails: other nodes omit it from `/nodes` and answer 503 RPC_ERROR for calls aimed at it. */
  rpcFail?: boolean;
  /**
   * The node's evacuation makes no progress: it stays in its current state until the fault is cleared (a test
   * holds an upgrade at one of its phases, whatever the machine's speed).
   */
  holdEvacuation?: boolean;
}

/** Faults given to every node that matches, the live ones and those that start later, until released. */
interface FaultRule {
  match: (node: NodeSummary) => boolean;
  faults: NodeFaults;
}

export interface NodeSummary {
  name: string;
  role: 'core' | 'replicant';
  status: string;
  podIP: string;
  pod: string;
  version: string;
  edition: string;
  /** Connected clients (`live_connections`). */
  connections: number;
  /** Sessions, connected or not (`connections` in the REST API). */
  sessions: number;
  /** Names of the running nodes this node sees in its cluster, itself included. */
  cluster: string[];
  /** Core nodes this node's schema holds that are not running. */
  stoppedCores: string[];
  attachedTo?: string;
  evacuation?: string;
  apiPort?: number;
}

export interface LoadCounts {
  /** Connections cut by a node going away (see droppedConnections). */
  dropped: number;
  total: { connections: number; sessions: number };
  nodes: Array<{ name: string; role: string; status: string; connections: number; sessions: number }>;
}

/** A node that exited while it still held clients or sessions (they are gone with it unless durable). */
export interface NodeExit {
  node: string;
  /** `namespace/name` of its pod. */
  pod: string;
  /** Real time of the exit (ISO). */
  at: string;
  /** 0 stopped (SIGTERM), else a crash or SIGKILL code. */
  code: number;
  reason: string;
  /** Clients connected at the exit. */
  connections: number;
  /** Sessions, connected or not, at the exit. */
  sessions: number;
  /** The node's evacuation state at the exit, if one ran. */
  evacuation?: string;
}

export interface FabricOptions {
  /** Emulated time runs `timeScale` times faster than real time (default 1). Ignored when `clock` is given. */
  timeScale?: number;
  clock?: EmqxClock;
  /** When a node goes away, its connected clients reconnect to other nodes of its cluster (default true). */
  reconnectOnNodeLoss?: boolean;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

export class EmqxFabric {
  readonly clock: EmqxClock;
  readonly reconnectOnNodeLoss: boolean;
  /** Live incarnations (not yet exited). */
  readonly #nodes = new Set<EmqxNode>();
  readonly #byName = new Map<string, EmqxNode>();
  readonly #partitions = new Set<string>();
  readonly #isolated = new Set<string>();
  /** When each core name was last seen going down (emulated ms), for cluster.autoclean. */
  readonly downSince = new Map<string, number>();
  /** Every node name that ever ran in this fabric (the "atoms" a node may know). */
  readonly everSeen = new Set<string>();
  /**
   * Client connections cut because their node went away (stopped, crashed, deleted) while they were connected.
   * They reconnect elsewhere (reconnectOnNodeLoss), but each one was a dropped connection: an upgrade that moves
   * clients by node evacuation first keeps this at zero.
   */
  droppedConnections = 0;
  readonly #droppedByNamespace = new Map<string, number>();

  /** Records connections cut by a node of `namespace` going away. */
  recordDropped(namespace: string, n: number): void {
    this.droppedConnections += n;
    this.#droppedByNamespace.set(namespace, (this.#droppedByNamespace.get(namespace) ?? 0) + n);
  }

  readonly #exits: NodeExit[] = [];

  /** Records a node of the fabric exiting while it held clients or sessions. */
  recordExit(exit: NodeExit): void {
    this.#exits.push(exit);
  }

  /**
   * Nodes of one namespace that exited holding clients or sessions, oldest first: where a lost session was when
   * its node went away (an upgrade that evacuates first leaves this empty).
   */
  exitsWithSessionsIn(namespace: string): NodeExit[] {
    return this.#exits.filter((e) => e.pod.startsWith(`${namespace}/`));
  }

  /** Connections cut by nodes of one namespace going away (tests run clusters side by side in one fabric). */
  droppedConnectionsIn(namespace: string): number {
    return this.#droppedByNamespace.get(namespace) ?? 0;
  }
  #notifyScheduled = false;
  readonly #faultRules = new Set<FaultRule>();
  #closers: Array<() => Promise<void>> = [];

  constructor(opts: FabricOptions = {}) {
    this.clock = opts.clock ?? new ScaledClock(opts.timeScale ?? 1);
    this.reconnectOnNodeLoss = opts.reconnectOnNodeLoss ?? true;
  }

  // ----- registry (used by nodes) -----

  register(node: EmqxNode): string | undefined {
    const other = this.#byName.get(node.name);
    if (other && other !== node) return `node name ${node.name} is already in use`;
    this.#nodes.add(node);
    this.#byName.set(node.name, node);
    this.everSeen.add(node.name);
    for (const rule of this.#faultRules) {
      if (rule.match(node.summary())) node.faults = { ...node.faults, ...rule.faults };
    }
    return undefined;
  }

  unregister(node: EmqxNode): void {
    this.#nodes.delete(node);
    if (this.#byName.get(node.name) === node) this.#byName.delete(node.name);
  }

  /** All live incarnations (booting, running, stopping, app stopped). */
  all(): EmqxNode[] {
    return [...this.#nodes];
  }

  byName(name: string): EmqxNode | undefined {
    return this.#byName.get(name);
  }

  byIp(ip: string): EmqxNode[] {
    return [...this.#nodes].filter((n) => n.podIP === ip);
  }

  /** True when two live nodes can talk: same cookie and no partition. */
  reachable(a: EmqxNode, b: EmqxNode): boolean {
    if (a === b) return true;
    if (!this.#nodes.has(a) || !this.#nodes.has(b)) return false;
    if (!a.sameCookie(b)) return false;
    if (this.#isolated.has(a.name) || this.#isolated.has(b.name)) return false;
    return !this.#partitions.has(pairKey(a.name, b.name));
  }

  /** Tells every node, once per burst of changes, that membership or reachability changed. */
  topologyChanged(): void {
    if (this.#notifyScheduled) return;
    this.#notifyScheduled = true;
    queueMicrotask(() => {
      this.#notifyScheduled = false;
      for (const n of [...this.#nodes]) n.onTopologyChange();
    });
  }

  onClose(fn: () => Promise<void>): void {
    this.#closers.push(fn);
  }

  // ----- control API: inspection -----

  #node(name: string): EmqxNode {
    const n = this.byName(name);
    if (!n) throw new Error(`no live emulated node named ${name}`);
    return n;
  }

  /** Live nodes, sorted by name. */
  nodes(): NodeSummary[] {
    return this.all()
      .map((n) => n.summary())
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  node(name: string): NodeSummary | undefined {
    return this.byName(name)?.summary();
  }

  /** The live node running in a pod (`namespace/name` or just the name). */
  nodeOfPod(pod: string): NodeSummary | undefined {
    const match = this.all().find((n) => n.podKey === pod || n.podName === pod);
    return match?.summary();
  }

  /** Per-node and total connection and session counts over live nodes. */
  counts(): LoadCounts {
    const nodes = this.all()
      .map((n) => ({
        name: n.name,
        role: n.role,
        status: n.status,
        connections: n.load.live,
        sessions: n.load.sessions,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const total = { connections: 0, sessions: 0 };
    for (const n of nodes) {
      total.connections += n.connections;
      total.sessions += n.sessions;
    }
    return { total, nodes, dropped: this.droppedConnections };
  }

  // ----- control API: load -----

  /**
   * Puts clients on a node: `connections` connected clients and `sessions - connections` disconnected persistent
   * sessions (sessions defaults to connections). Replaces what the node had. `cleanStart` clients lose their session
   * when they are disconnected with nowhere to go; others keep it.
   */
  setClients(name: string, opts: { connections: number; sessions?: number; cleanStart?: boolean }): void {
    this.#node(name).setClients(opts);
  }

  /** Connects `n` more clients to a node. Returns how many it accepted (0 while it refuses new connections). */
  connect(name: string, n: number, opts: { cleanStart?: boolean } = {}): number {
    return this.#node(name).connectClients(n, opts.cleanStart ?? false);
  }

  /** Disconnects `n` clients; persistent sessions stay behind unless `dropSessions`. */
  disconnect(name: string, n: number, opts: { dropSessions?: boolean } = {}): number {
    return this.#node(name).disconnectClients(n, opts.dropSessions ?? false);
  }

  // ----- control API: cluster database -----

  /** Writes an entry through a node (replicated to its cluster). Throws when the node has no running core. */
  dbPut(name: string, table: string, key: string, value: JsonValue): void {
    this.#node(name).dbWrite([{ table, key, value }]);
  }

  dbPutMany(name: string, table: string, entries: Record<string, JsonValue>): void {
    this.#node(name).dbWrite(Object.entries(entries).map(([key, value]) => ({ table, key, value })));
  }

  dbDelete(name: string, table: string, key: string): void {
    this.#node(name).dbWrite([{ table, key, value: undefined }]);
  }

  /** Reads a node's local copy. */
  dbGet(name: string, table: string, key: string): JsonValue | undefined {
    return this.#node(name).dbRead(table, key);
  }

  dbList(name: string, table: string): Record<string, JsonValue> {
    return Object.fromEntries(this.#node(name).dbList(table));
  }

  /** Shortcut for the `retained` table. */
  retain(name: string, topic: string, payload: string): void {
    this.dbPut(name, 'retained', topic, payload);
  }

  // ----- control API: faults -----

  /** Kills a node without leaving the cluster; its `exited` resolves with `exitCode` so the kubelet restarts it. */
  crash(name: string, exitCode = 1): void {
    this.#node(name).crash(exitCode, 'crashed by the control API');
  }

  /** Stops the emqx application (VM stays up): peers see the node stopped, `/status` answers 503. */
  stopApp(name: string): void {
    this.#node(name).stopApp();
  }

  startApp(name: string): void {
    this.#node(name).startApp();
  }

  setFaults(name: string, faults: NodeFaults): void {
    this.#node(name).faults = { ...faults };
  }

  clearFaults(name?: string): void {
    for (const n of this.all()) if (name === undefined || n.name === name) n.faults = {};
  }

  /**
   * Gives `faults` to every live node that `match`es and to every node that starts while the rule is in place (it
   * is matched when it registers, before its dashboard listens). Returns the release: the rule goes and the
   * matching live nodes lose those faults (others they have stay).
   */
  faultsWhere(match: (node: NodeSummary) => boolean, faults: NodeFaults): () => void {
    const rule: FaultRule = { match, faults: { ...faults } };
    this.#faultRules.add(rule);
    for (const n of this.all()) if (match(n.summary())) n.faults = { ...n.faults, ...rule.faults };
    return () => {
      this.#faultRules.delete(rule);
      for (const n of this.all()) {
        if (!match(n.summary())) continue;
        const rest: Record<string, unknown> = { ...n.faults };
        for (const k of Object.keys(rule.faults)) delete rest[k];
        n.faults = rest as NodeFaults;
      }
    };
  }

  /** Cuts the link between two nodes, or (with one name) between that node and every other. */
  partition(a: string, b?: string): void {
    if (b === undefined) this.#isolated.add(a);
    else this.#partitions.add(pairKey(a, b));
    this.topologyChanged();
  }

  /** Removes partitions: all of them, those of one node, or one link. Autoheal then merges split clusters. */
  heal(a?: string, b?: string): void {
    if (a === undefined) {
      this.#partitions.clear();
      this.#isolated.clear();
    } else if (b === undefined) {
      this.#isolated.delete(a);
      for (const k of [...this.#partitions]) if (k.split('|').includes(a)) this.#partitions.delete(k);
    } else {
      this.#partitions.delete(pairKey(a, b));
    }
    for (const n of this.all()) n.autoheal();
    this.topologyChanged();
  }

  partitions(): { isolated: string[]; links: Array<[string, string]> } {
    return {
      isolated: [...this.#isolated],
      links: [...this.#partitions].map((k) => k.split('|') as [string, string]),
    };
  }

  /** Stops every live node (no leave) and the control server. */
  async close(): Promise<void> {
    await Promise.all(this.all().map((n) => n.shutdown(true)));
    for (const fn of this.#closers.splice(0)) await fn();
  }
}
