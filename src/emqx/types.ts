// JSON shapes of the EMQX 5.x/6.x REST API (dashboard listener, base path /api/v5) that the operator reads or sends.
// Fields the API may omit are optional; unknown extra fields are kept (index signatures) but not relied upon.

export type NodeStatus = 'running' | 'stopped';
export type NodeRole = 'core' | 'replicant';

/** One entry of `GET /api/v5/nodes` (a stopped core is a 3-field stub: node, node_status, role). */
export interface EmqxNode {
  node: string;
  node_status: NodeStatus | (string & {});
  role?: NodeRole | (string & {});
  /** `Opensource` (≤ 5.8 CE) or `Enterprise`. */
  edition?: string;
  version?: string;
  otp_release?: string;
  /** Milliseconds. */
  uptime?: number;
  /** Sessions, including disconnected persistent ones. */
  connections?: number;
  /** Connected clients (5.1+). */
  live_connections?: number;
  cluster_sessions?: number;
  load1?: number;
  load5?: number;
  load15?: number;
  memory_total?: string;
  memory_used?: string;
  max_fds?: number;
  process_available?: number;
  process_used?: number;
  sys_path?: string;
  log_path?: string;
  [key: string]: unknown;
}

/** `GET /api/v5/cluster`: `nodes` lists running nodes only. */
export interface EmqxCluster {
  name: string;
  description?: string;
  nodes: string[];
  self?: string;
  [key: string]: unknown;
}

export interface ListenerStatus {
  running: boolean | 'inconsistent';
  max_connections: number | 'infinity';
  current_connections: number;
}

/** One entry of `GET /api/v5/listeners`, merged over running nodes. */
export interface EmqxListener {
  /** `type:name`, e.g. `tcp:default`. */
  id: string;
  type: 'tcp' | 'ssl' | 'ws' | 'wss' | 'quic' | (string & {});
  name: string;
  enable?: boolean;
  /** `0.0.0.0:1883`, `:1883` or a bare port. */
  bind: string | number;
  acceptors?: number;
  number?: number;
  status?: ListenerStatus;
  node_status?: Array<{ node: string; status: ListenerStatus }>;
  [key: string]: unknown;
}

export interface EvacuationStatus {
  node: string;
  /** waiting_health_check, evicting_conns, waiting_takeover, evicting_sessions, prohibiting (terminal). */
  state: string;
  connection_eviction_rate?: number;
  session_eviction_rate?: number;
  connection_goal?: number;
  session_goal?: number;
  session_recipients?: string[];
  stats?: {
    initial_connected?: number;
    current_connected?: number;
    initial_sessions?: number;
    current_sessions?: number;
  };
  [key: string]: unknown;
}

export interface RebalanceStatus {
  node: string;
  coordinator_node?: string;
  /** wait_health_check, evicting_conns, wait_takeover, evicting_sessions; gone from the list once done. */
  state: string;
  donors?: string[];
  recipients?: string[];
  connection_eviction_rate?: number;
  session_eviction_rate?: number;
  connection_goal?: number;
  session_goal?: number;
  stats?: Record<string, number>;
  [key: string]: unknown;
}

/** `GET /api/v5/load_rebalance/global_status` (EE). */
export interface GlobalStatus {
  evacuations: EvacuationStatus[];
  rebalances: RebalanceStatus[];
  purges?: unknown[];
  [key: string]: unknown;
}

/** Durations are integer seconds or strings such as "10s". */
export type Duration = number | string;

export interface EvacuationStartBody {
  conn_evict_rate?: number;
  sess_evict_rate?: number;
  wait_health_check?: Duration;
  wait_takeover?: Duration;
  /** Defaults to all other running nodes. */
  migrate_to?: string[];
  redirect_to?: string;
}

export interface RebalanceStartBody {
  nodes: string[];
  conn_evict_rate?: number;
  sess_evict_rate?: number;
  wait_health_check?: Duration;
  wait_takeover?: Duration;
  abs_conn_threshold?: number;
  rel_conn_threshold?: number;
  abs_sess_threshold?: number;
  rel_sess_threshold?: number;
}

/** `GET /api/v5/monitor_current`: a flat object of integers. */
export interface MonitorCurrent {
  connections?: number;
  live_connections?: number;
  topics?: number;
  subscriptions?: number;
  retained_msg_count?: number;
  shared_subscriptions?: number;
  cluster_sessions?: number;
  license_quota?: number;
  received_msg_rate?: number;
  sent_msg_rate?: number;
  dropped_msg_rate?: number;
  sessions_hist_hwmark?: { peak_time?: number; peak_value?: number; current_value?: number };
  [key: string]: unknown;
}

/** `GET /status` (no auth): 200 when the emqx application runs, 503 otherwise (or while booting). */
export interface NodeStatusResult {
  /** HTTP 200. */
  running: boolean;
  httpStatus: number;
  /** `Node emqx@… is started\nemqx is running` */
  text: string;
}

export interface PutConfigsOptions {
  /** Default `merge` (deep merge per root); `replace` swaps whole roots. */
  mode?: 'merge' | 'replace';
  /** Drop read-only keys (node, rpc, cluster.* except cluster.links) instead of failing (EMQX ≥ 5.7). */
  ignoreReadonly?: boolean;
}
