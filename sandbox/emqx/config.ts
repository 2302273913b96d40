// The configuration model of an emulated EMQX node: schema defaults, the boot layers (defaults/base.hocon <
// data/configs/cluster.hocon < etc/emqx.conf < EMQX_* env), the text and JSON views of `GET /configs`, and the
// rules of `PUT /configs` (read-only roots, merge/replace, the error bodies). Pure functions; no I/O.
import {
  HoconError,
  cloneHocon,
  deepMerge,
  envOverrides,
  getPath,
  isHoconObject,
  parseHocon,
  printHocon,
} from '../../src/hocon/index.ts';
import type { HoconObject, HoconValue } from '../../src/hocon/index.ts';
import type { Edition } from './image.ts';

/** Config roots EMQX knows. Env overrides and `PUT /configs` for anything else are refused or ignored. */
export const KNOWN_ROOTS: readonly string[] = [
  'actions',
  'alarm',
  'api_key',
  'authentication',
  'authorization',
  'auto_subscribe',
  'bridges',
  'broker',
  'cluster',
  'conn_congestion',
  'connectors',
  'crl_cache',
  'dashboard',
  'delayed',
  'durable_sessions',
  'durable_storage',
  'exhook',
  'file_transfer',
  'flapping_detect',
  'force_gc',
  'force_shutdown',
  'gateway',
  'license',
  'limiter',
  'listeners',
  'log',
  'message_transformation',
  'mqtt',
  'node',
  'opentelemetry',
  'overload_protection',
  'plugins',
  'prometheus',
  'psk_authentication',
  'retainer',
  'rewrite',
  'rpc',
  'rule_engine',
  'schema_registry',
  'schema_validation',
  'slow_subs',
  'sources',
  'stats',
  'sys_topics',
  'sysmon',
  'telemetry',
  'topic_metrics',
  'zones',
  'a2a_registry',
];

/** Roots `GET /configs` (text) never prints. */
export const HIDDEN_ROOTS: readonly string[] = ['stats', 'broker', 'plugins', 'zones'];
/** Roots `PUT /configs` refuses (or drops with ignore_readonly=true); `cluster.*` except `cluster.links` too. */
export const READONLY_ROOTS: readonly string[] = ['rpc', 'node'];
export const DISCOVERY_STRATEGIES = ['manual', 'static', 'dns', 'etcd', 'k8s', 'singleton'] as const;
export type DiscoveryStrategy = (typeof DISCOVERY_STRATEGIES)[number];
export const LISTENER_TYPES = ['tcp', 'ssl', 'ws', 'wss', 'quic'] as const;
export type ListenerType = (typeof LISTENER_TYPES)[number];
const LOG_LEVELS = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
  'all',
  'none',
];

export interface ConfigFacts {
  edition: Edition;
  major: number;
  minor: number;
}

const CERTS = {
  cacertfile: '${EMQX_ETC_DIR}/certs/cacert.pem',
  certfile: '${EMQX_ETC_DIR}/certs/cert.pem',
  keyfile: '${EMQX_ETC_DIR}/certs/key.pem',
};

const SSL_OPTIONS: HoconObject = {
  ...CERTS,
  ciphers: [],
  depth: 10,
  enable_crl_check: false,
  fail_if_no_peer_cert: false,
  handshake_timeout: '15s',
  hibernate_after: '5s',
  honor_cipher_order: true,
  log_level: 'notice',
  reuse_sessions: true,
  secure_renegotiate: true,
  verify: 'verify_none',
  versions: ['tlsv1.3', 'tlsv1.2'],
};

const WEBSOCKET: HoconObject = {
  allow_origin_absence: true,
  check_origin_enable: false,
  check_origins: 'http://localhost:18083, http://127.0.0.1:18083',
  compress: false,
  fail_if_no_subprotocol: true,
  idle_timeout: '7200s',
  max_frame_size: 'infinity',
  mqtt_path: '/mqtt',
  mqtt_piggyback: 'multiple',
  proxy_address_header: 'x-forwarded-for',
  proxy_port_header: 'x-forwarded-port',
  supported_subprotocols: 'mqtt, mqtt-v3, mqtt-v3.1.1, mqtt-v5',
  validate_utf8: true,
};

const TCP_OPTIONS: HoconObject = {
  active_n: 100,
  backlog: 1024,
  buffer: '4KB',
  high_watermark: '1MB',
  keepalive: 'none',
  nodelay: true,
  reuseaddr: true,
  send_timeout: '15s',
  send_timeout_close: true,
};

const LISTENER_COMMON: HoconObject = {
  access_rules: ['allow all'],
  acceptors: 16,
  enable: true,
  enable_authn: true,
  max_conn_rate: 'infinity',
  max_connections: 'infinity',
  mountpoint: '',
  proxy_protocol: false,
  proxy_protocol_timeout: '3s',
  zone: 'default',
};

/** Per-instance defaults of a listener of each type (the schema fills these for every named listener). */
export const LISTENER_TEMPLATES: Record<ListenerType, HoconObject> = {
  tcp: { ...LISTENER_COMMON, bind: '0.0.0.0:1883', tcp_options: TCP_OPTIONS },
  ssl: { ...LISTENER_COMMON, bind: '0.0.0.0:8883', ssl_options: SSL_OPTIONS, tcp_options: TCP_OPTIONS },
  ws: { ...LISTENER_COMMON, bind: '0.0.0.0:8083', tcp_options: TCP_OPTIONS, websocket: WEBSOCKET },
  wss: {
    ...LISTENER_COMMON,
    bind: '0.0.0.0:8084',
    ssl_options: SSL_OPTIONS,
    tcp_options: TCP_OPTIONS,
    websocket: WEBSOCKET,
  },
  quic: {
    ...LISTENER_COMMON,
    bind: '0.0.0.0:14567',
    ssl_options: { ...CERTS, verify: 'verify_none' },
  },
};

const DEFAULT_LISTENERS: HoconObject = {
  tcp: { default: { bind: '0.0.0.0:1883' } },
  ssl: { default: { bind: '0.0.0.0:8883' } },
  ws: { default: { bind: '0.0.0.0:8083' } },
  wss: { default: { bind: '0.0.0.0:8084' } },
};

/** The schema defaults of every root the emulator models (EMQX has many more fields; see README.md). */
export function schemaDefaults(facts: ConfigFacts): HoconObject {
  const v6 = facts.major >= 6;
  const d: HoconObject = {
    node: {
      name: 'emqx@127.0.0.1',
      cookie: 'emqxsecretcookie',
      data_dir: 'data',
      role: 'core',
      process_limit: 2097152,
      max_ports: 1048576,
      dist_buffer_size: '8MB',
      max_ets_tables: 262144,
      global_gc_interval: '15m',
      crash_dump_file: '${EMQX_LOG_DIR}/erl_crash.dump',
      crash_dump_seconds: '30s',
      crash_dump_bytes: '100MB',
      backtrace_depth: 23,
      broker_pool_size: 16,
      generic_pool_size: 16,
      channel_cleanup_batch_size: 100000,
    },
    cluster: {
      name: 'emqxcl',
      discovery_strategy: 'manual',
      autoclean: '24h',
      autoheal: true,
      proto_dist: 'inet_tcp',
      links: [],
      static: { seeds: [] },
      dns: { name: 'localhost', record_type: 'a' },
      etcd: { server: 'http://127.0.0.1:2379', prefix: 'emqxcl', node_ttl: '1m' },
      k8s: {
        apiserver: 'https://kubernetes.default.svc:443',
        service_name: 'emqx',
        address_type: 'ip',
        namespace: 'default',
        suffix: 'pod.local',
      },
    },
    rpc: {
      mode: 'async',
      protocol: 'tcp',
      port_discovery: 'stateless',
      server_port: 5369,
      tcp_server_port: 5369,
      ssl_server_port: 5369,
      tcp_client_num: 10,
      connect_timeout: '5s',
      call_receive_timeout: '15s',
      socket_keepalive_idle: '15m',
      socket_keepalive_interval: '75s',
      socket_keepalive_count: 9,
    },
    dashboard: {
      listeners: {
        http: {
          bind: 18083,
          enable: true,
          num_acceptors: 8,
          max_connections: 512,
          backlog: 1024,
          send_timeout: '10s',
          inet6: false,
          ipv6_v6only: false,
          proxy_header: false,
        },
        https: {
          // Off while bind is 0; setting a bind port is enough to turn it on (emqx-node-api.md).
          bind: 0,
          enable: true,
          num_acceptors: 8,
          max_connections: 512,
          backlog: 1024,
          send_timeout: '10s',
          inet6: false,
          ipv6_v6only: false,
          proxy_header: false,
          ssl_options: { ...CERTS, verify: 'verify_none' },
        },
      },
      default_username: 'admin',
      default_password: 'public',
      token_expired_time: '60m',
      cors: false,
      i18n_lang: 'en',
      swagger_support: true,
      unsuccessful_login_lock_duration: '600s',
      unsuccessful_login_max_attempts: 5,
      password_expired_time: '0s',
    },
    listeners: DEFAULT_LISTENERS,
    log: {
      console: { enable: true, level: 'warning', formatter: 'text', time_offset: 'system' },
      file: {
        default: {
          enable: false,
          level: 'warning',
          path: '${EMQX_LOG_DIR}/emqx.log',
          rotation_count: 10,
          rotation_size: '50MB',
          formatter: 'text',
          time_offset: 'system',
        },
      },
    },
    mqtt: {
      max_packet_size: '1MB',
      max_clientid_len: 65535,
      max_topic_levels: 128,
      max_topic_alias: 65535,
      max_qos_allowed: 2,
      retain_available: true,
      wildcard_subscription: true,
      shared_subscription: true,
      exclusive_subscription: false,
      idle_timeout: '15s',
      keepalive_multiplier: 1.5,
      max_inflight: 32,
      max_mqueue_len: 1000,
      mqueue_store_qos0: true,
      session_expiry_interval: '2h',
      upgrade_qos: false,
      retry_interval: 'infinity',
      await_rel_timeout: '300s',
      max_awaiting_rel: 100,
      strict_mode: false,
      response_information: '',
      server_keepalive: 'disabled',
      ignore_loop_deliver: false,
      use_username_as_clientid: false,
      peer_cert_as_username: 'disabled',
      peer_cert_as_clientid: 'disabled',
    },
    api_key: { bootstrap_file: '' },
    alarm: { actions: ['log', 'publish'], size_limit: 1000, validity_period: '24h' },
    sys_topics: {
      sys_msg_interval: '1m',
      sys_heartbeat_interval: '30s',
      sys_event_messages: {
        client_connected: true,
        client_disconnected: true,
        client_subscribed: false,
        client_unsubscribed: false,
      },
    },
    sysmon: {
      vm: {
        process_check_interval: '30s',
        process_high_watermark: '80%',
        process_low_watermark: '60%',
        long_gc: 'disabled',
        long_schedule: '240ms',
        large_heap: '32MB',
        busy_dist_port: true,
        busy_port: true,
      },
      os: {
        cpu_check_interval: '60s',
        cpu_high_watermark: '80%',
        cpu_low_watermark: '60%',
        mem_check_interval: '60s',
        sysmem_high_watermark: '70%',
        procmem_high_watermark: '5%',
      },
      top: { num_items: 10, sample_interval: '2s', max_procs: 1000000 },
    },
    authentication: [],
    authorization: {
      no_match: 'allow',
      deny_action: 'ignore',
      cache: { enable: true, max_size: 32, ttl: '1m' },
      sources: [{ type: 'file', enable: true, path: '${EMQX_ETC_DIR}/acl.conf' }],
    },
    retainer: {
      enable: true,
      max_retained_messages: 0,
      max_payload_size: '1MB',
      msg_expiry_interval: '0s',
      msg_clear_interval: '0s',
      backend: { type: 'built_in_database', storage_type: 'ram', max_retained_messages: 0 },
    },
    durable_sessions: {
      enable: false,
      batch_size: 100,
      idle_poll_interval: '10s',
      heartbeat_interval: '5000ms',
      session_gc_interval: '10m',
    },
    flapping_detect: { enable: false, max_count: 15, window_time: '1m', ban_time: '5m' },
    force_shutdown: { enable: true, max_mailbox_size: 1000, max_heap_size: '32MB' },
    force_gc: { enable: true, count: 16000, bytes: '16MB' },
    overload_protection: {
      enable: false,
      backoff_delay: 1,
      backoff_gc: false,
      backoff_hibernation: true,
      backoff_new_conn: true,
    },
    conn_congestion: { enable_alarm: true, min_alarm_sustain_duration: '1m' },
    prometheus: { enable_basic_auth: false },
    delayed: { enable: true, max_delayed_messages: 0 },
    rule_engine: { ignore_sys_message: true, jq_function_default_timeout: '10s', rules: {} },
    stats: { enable: true },
    broker: {
      enable_session_registry: true,
      session_locking_strategy: 'quorum',
      shared_subscription_strategy: 'round_robin',
      shared_subscription_initial_sticky_pick: 'random',
      shared_dispatch_ack_enabled: false,
      route_batch_clean: false,
      perf: { trie_compaction: true },
    },
    zones: {},
    plugins: { install_dir: 'plugins', states: [], check_interval: '5s' },
  };
  if (facts.edition === 'Enterprise') {
    d['license'] = {
      key: 'default',
      connection_low_watermark: '75%',
      connection_high_watermark: '80%',
    };
    d['file_transfer'] = {
      enable: false,
      init_timeout: '10s',
      store_segment_timeout: '5m',
      assemble_timeout: '5m',
    };
  }
  if (v6) d['a2a_registry'] = { enable: false };
  return d;
}

/** The image's own `etc/emqx.conf`, used when nothing is mounted there (empty in 6.x). */
export function imageEmqxConf(major: number): string {
  if (major >= 6) return '';
  return [
    'node {',
    '  name = "emqx@127.0.0.1"',
    '  cookie = "emqxsecretcookie"',
    '  data_dir = "data"',
    '}',
    'cluster {',
    '  name = emqxcl',
    '  discovery_strategy = manual',
    '}',
    'dashboard {',
    '  listeners.http {',
    '    bind = 18083',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Fills the per-instance defaults of every named listener. */
export function fillListenerDefaults(listeners: HoconValue | undefined): HoconObject {
  const out: HoconObject = {};
  if (!isHoconObject(listeners)) return out;
  for (const type of Object.keys(listeners)) {
    const instances = listeners[type];
    const template = (LISTENER_TEMPLATES as Record<string, HoconObject | undefined>)[type];
    if (!isHoconObject(instances) || !template) {
      out[type] = cloneHocon(instances ?? {});
      continue;
    }
    const filled: HoconObject = {};
    for (const name of Object.keys(instances)) {
      const inst = instances[name];
      // `marked_for_deletion` (or any non-object) removes the listener
      if (!isHoconObject(inst)) continue;
      filled[name] = deepMerge(template, inst);
    }
    out[type] = filled;
  }
  return out;
}

/** Defaults for one root when `PUT /configs?mode=replace` swaps it. */
export function rootWithDefaults(root: string, value: HoconValue, facts: ConfigFacts): HoconValue {
  if (root === 'listeners') return fillListenerDefaults(value);
  const def = schemaDefaults(facts)[root];
  if (isHoconObject(def) && isHoconObject(value)) return deepMerge(def, value);
  return cloneHocon(value);
}

export interface ConfigLayers {
  /** data/configs/cluster.hocon, already parsed */
  cluster?: HoconObject;
  /** etc/emqx.conf text */
  emqxConf: string;
  env: Record<string, string>;
}

export class ConfigError extends Error {
  readonly detail: HoconObject;
  constructor(message: string, detail: HoconObject = {}) {
    super(message);
    this.name = 'ConfigError';
    this.detail = detail;
  }
}

/** Only known roots of the environment's EMQX_* overrides. */
export function envLayer(env: Record<string, string>): HoconObject {
  return envOverrides(env, { knownRoots: KNOWN_ROOTS });
}

/**
 * The node's raw config at boot: schema defaults < cluster.hocon < emqx.conf < env, listener instances filled.
 * Throws HoconError for an unparsable emqx.conf and ConfigError for values the schema rejects.
 */
export function bootConfig(facts: ConfigFacts, layers: ConfigLayers): HoconObject {
  let raw = schemaDefaults(facts);
  if (layers.cluster) raw = deepMerge(raw, pickKnown(layers.cluster));
  const conf = parseHocon(layers.emqxConf, { source: 'emqx.conf' });
  raw = deepMerge(raw, pickKnown(conf));
  raw = deepMerge(raw, envLayer(layers.env));
  raw['listeners'] = fillListenerDefaults(raw['listeners']);
  for (const root of Object.keys(raw)) {
    const err = validateRoot(root, raw[root]!);
    if (err) throw new ConfigError(`invalid config: ${JSON.stringify(err)}`, { [root]: err });
  }
  const role = getPath(raw, 'node.role');
  if (role !== 'core' && role !== 'replicant') {
    throw new ConfigError('invalid config: node.role', {
      node: {
        kind: 'validation_error',
        path: 'node.role',
        reason: 'unable_to_convert_to_enum_symbol',
        value: role ?? null,
      },
    });
  }
  const strategy = getPath(raw, 'cluster.discovery_strategy');
  if (!DISCOVERY_STRATEGIES.includes(strategy as DiscoveryStrategy)) {
    throw new ConfigError('invalid config: cluster.discovery_strategy', {
      cluster: {
        kind: 'validation_error',
        path: 'cluster.discovery_strategy',
        reason: 'unable_to_convert_to_enum_symbol',
        value: strategy ?? null,
      },
    });
  }
  return raw;
}

function pickKnown(obj: HoconObject): HoconObject {
  const out: HoconObject = {};
  for (const k of Object.keys(obj)) if (KNOWN_ROOTS.includes(k)) out[k] = obj[k]!;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation (a small part of EMQX's schema: enough for the error shapes of the reference)

const DASHBOARD_FIELDS = new Set([
  'listeners',
  'default_username',
  'default_password',
  'token_expired_time',
  'cors',
  'i18n_lang',
  'swagger_support',
  'bootstrap_users_file',
  'unsuccessful_login_lock_duration',
  'unsuccessful_login_max_attempts',
  'unsuccessful_login_interval',
  'password_expired_time',
  'sso',
  'monitor',
  'mfa',
]);

type ValidationError = HoconObject;

function vErr(path: string, reason: string, value: HoconValue | undefined): ValidationError {
  const e: HoconObject = { kind: 'validation_error', path, reason };
  if (value !== undefined) e['value'] = value;
  return e;
}

function isBool(v: HoconValue | undefined): boolean {
  return v === undefined || typeof v === 'boolean' || v === 'true' || v === 'false';
}

function isBind(v: HoconValue | undefined): boolean {
  if (v === undefined) return true;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 65535;
  if (typeof v !== 'string') return false;
  const m = /^(?:(?:\d{1,3}(?:\.\d{1,3}){3})|\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)?:?(\d{1,5})$/.exec(v);
  return m !== null && Number(m[1]) <= 65535;
}

/** Checks the fields the emulator understands; returns the EMQX-style error object or undefined. */
export function validateRoot(root: string, value: HoconValue): ValidationError | undefined {
  switch (root) {
    case 'dashboard': {
      if (!isHoconObject(value)) return vErr('dashboard', 'not_a_struct', value);
      const unknown = Object.keys(value).filter((k) => !DASHBOARD_FIELDS.has(k));
      if (unknown.length > 0) {
        return { kind: 'validation_error', reason: 'unknown_fields', unknown: unknown.join(',') };
      }
      for (const l of ['http', 'https']) {
        const bind = getPath(value, ['listeners', l, 'bind']);
        if (!isBind(bind)) return vErr(`dashboard.listeners.${l}.bind`, 'bad_port_number', bind);
        const enable = getPath(value, ['listeners', l, 'enable']);
        if (!isBool(enable))
          return vErr(`dashboard.listeners.${l}.enable`, 'unable_to_convert_to_boolean', enable);
      }
      return undefined;
    }
    case 'log': {
      if (!isHoconObject(value)) return vErr('log', 'not_a_struct', value);
      const level = getPath(value, 'console.level');
      if (level !== undefined && !LOG_LEVELS.includes(String(level))) {
        return vErr('log.console.level', 'unable_to_convert_to_enum_symbol', level);
      }
      const files = getPath(value, 'file');
      if (isHoconObject(files)) {
        for (const name of Object.keys(files)) {
          const f = files[name];
          const fl = isHoconObject(f) ? f['level'] : undefined;
          if (fl !== undefined && !LOG_LEVELS.includes(String(fl))) {
            return vErr(`log.file.${name}.level`, 'unable_to_convert_to_enum_symbol', fl);
          }
        }
      }
      return undefined;
    }
    case 'listeners': {
      if (!isHoconObject(value)) return vErr('listeners', 'not_a_struct', value);
      const unknown = Object.keys(value).filter((k) => !(LISTENER_TYPES as readonly string[]).includes(k));
      if (unknown.length > 0) {
        return { kind: 'validation_error', reason: 'unknown_fields', unknown: unknown.join(',') };
      }
      for (const type of Object.keys(value)) {
        const instances = value[type];
        if (!isHoconObject(instances)) return vErr(`listeners.${type}`, 'not_a_struct', instances);
        for (const name of Object.keys(instances)) {
          const inst = instances[name];
          if (inst === 'marked_for_deletion') continue;
          if (!isHoconObject(inst)) return vErr(`listeners.${type}.${name}`, 'not_a_struct', inst);
          if (!isBind(inst['bind']))
            return vErr(`listeners.${type}.${name}.bind`, 'bad_ip_port', inst['bind']);
          if (!isBool(inst['enable'])) {
            return vErr(`listeners.${type}.${name}.enable`, 'unable_to_convert_to_boolean', inst['enable']);
          }
        }
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Views

const SECRET_PATHS = ['node.cookie', 'license.key', 'dashboard.default_password'];
const SECRET_KEYS = new Set(['password', 'secret', 'api_secret', 'aws_secret_access_key']);

/** A copy with secrets replaced by `"******"`. */
export function maskSecrets(raw: HoconObject): HoconObject {
  const walk = (v: HoconValue, path: string): HoconValue => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}.${i}`));
    if (!isHoconObject(v)) return v;
    const out: HoconObject = {};
    for (const k of Object.keys(v)) {
      const p = path === '' ? k : `${path}.${k}`;
      const child = v[k]!;
      if ((SECRET_PATHS.includes(p) || SECRET_KEYS.has(k)) && !isHoconObject(child) && child !== '') {
        out[k] = '******';
      } else {
        out[k] = walk(child, p);
      }
    }
    return out;
  };
  return walk(raw, '') as HoconObject;
}

/** `cluster` keeps only the active discovery strategy's sub-block, as `GET /configs` prints it. */
function pruneCluster(cluster: HoconValue | undefined): HoconValue | undefined {
  if (!isHoconObject(cluster)) return cluster;
  const active = String(cluster['discovery_strategy'] ?? 'manual');
  const out: HoconObject = {};
  for (const k of Object.keys(cluster)) {
    if (['static', 'dns', 'etcd', 'k8s'].includes(k) && k !== active) continue;
    if (k === 'core_nodes') continue;
    out[k] = cloneHocon(cluster[k]!);
  }
  return out;
}

/** The text body of `GET /configs` (optionally one root, `?key=`). */
export function configText(raw: HoconObject, key?: string): string {
  const masked = maskSecrets(raw);
  const out: HoconObject = {};
  for (const root of Object.keys(masked)) {
    if (HIDDEN_ROOTS.includes(root)) continue;
    if (key !== undefined && root !== key) continue;
    const v = root === 'cluster' ? pruneCluster(masked[root]) : masked[root];
    if (v !== undefined) out[root] = v;
  }
  return printHocon(out);
}

/** The JSON body of `GET /configs` with `Accept: application/json`. */
export function configJson(raw: HoconObject, facts: ConfigFacts, key?: string): HoconObject {
  const masked = maskSecrets(raw);
  if (key !== undefined) {
    return key in masked ? { [key]: root(masked, key) } : {};
  }
  const roots = ['dashboard', 'alarm', 'sys_topics', 'sysmon', 'log', 'broker'];
  if (facts.edition === 'Enterprise') roots.push('file_transfer');
  if (facts.major >= 6) roots.push('a2a_registry');
  const out: HoconObject = {};
  for (const r of roots) if (masked[r] !== undefined) out[r] = root(masked, r);
  return out;
}

function root(obj: HoconObject, key: string): HoconValue {
  return key === 'cluster' ? (pruneCluster(obj[key]) ?? {}) : obj[key]!;
}

// ---------------------------------------------------------------------------------------------------------------
// PUT /configs

export type PutMode = 'merge' | 'replace';

export interface ConfigPutPlan {
  /** 200 or 400 */
  status: number;
  /** The 400 body, `{"errors": …}` */
  body?: HoconObject;
  /**
   * The roots that pass every check, as sent (read-only keys dropped). They apply even when other roots fail,
   * as in EMQX; every node of the cluster applies them to its own config with `applyRoots`.
   */
  accepted: HoconObject;
}

/** The new value of one root after a PUT body `body` with `mode`, over the node's current value `cur`. */
function nextRootValue(
  r: string,
  cur: HoconValue | undefined,
  body: HoconValue,
  mode: PutMode,
  facts: ConfigFacts,
): HoconValue {
  if (r === 'cluster') {
    // only cluster.links gets here; the rest of the cluster root is read-only and keeps its value
    const links = isHoconObject(body) ? (body['links'] ?? []) : [];
    return deepMerge(isHoconObject(cur) ? cur : {}, { links });
  }
  if (mode === 'replace') return rootWithDefaults(r, body, facts);
  const merged = isHoconObject(cur) && isHoconObject(body) ? deepMerge(cur, body) : cloneHocon(body);
  return r === 'listeners' ? fillListenerDefaults(merged) : merged;
}

/**
 * Works out what `PUT /configs` does with `text` against the node's current raw config: the error body, if any,
 * and the roots that pass (which apply even when others fail).
 */
export function planConfigPut(
  text: string,
  opts: { mode: PutMode; ignoreReadonly: boolean },
  current: HoconObject,
  facts: ConfigFacts,
): ConfigPutPlan {
  if (text.trim() === '') return { status: 200, accepted: {} };
  let conf: HoconObject;
  try {
    conf = parseHocon(text);
  } catch (e) {
    if (e instanceof HoconError) {
      return {
        status: 400,
        body: {
          errors: {
            line: e.line,
            reason: e.reason,
            type: e.kind === 'scan_error' ? 'scan_error' : 'parse_error',
          },
        },
        accepted: {},
      };
    }
    throw e;
  }
  const readOnly = READONLY_ROOTS.filter((r) => r in conf);
  if (readOnly.length > 0) {
    if (!opts.ignoreReadonly) {
      return {
        status: 400,
        body: { errors: `Cannot update read-only key '${readOnly.join(',')}'.` },
        accepted: {},
      };
    }
    for (const r of readOnly) delete conf[r];
  }
  if ('cluster' in conf) {
    const cluster = conf['cluster'];
    const bad = isHoconObject(cluster)
      ? Object.keys(cluster)
          .filter((k) => k !== 'links')
          .sort()
          .map((k) => `cluster.${k}`)
      : ['cluster'];
    if (bad.length > 0) {
      if (!opts.ignoreReadonly) {
        return {
          status: 400,
          body: { errors: `Cannot update read-only key '${bad.join(',')}'.` },
          accepted: {},
        };
      }
      if (isHoconObject(cluster) && 'links' in cluster) conf['cluster'] = { links: cluster['links']! };
      else delete conf['cluster'];
    }
  }
  const errors: HoconObject = {};
  const accepted: HoconObject = {};
  for (const r of Object.keys(conf).sort()) {
    if (!KNOWN_ROOTS.includes(r)) {
      errors[r] = `{root_key_not_found,<<"${r}">>}`;
      continue;
    }
    const err = validateRoot(r, nextRootValue(r, current[r], conf[r]!, opts.mode, facts));
    if (err) {
      errors[r] = err;
      continue;
    }
    accepted[r] = conf[r]!;
  }
  if (Object.keys(errors).length > 0) return { status: 400, body: { errors }, accepted };
  return { status: 200, accepted };
}

/** A node's raw config after applying accepted roots. */
export function applyRoots(
  raw: HoconObject,
  accepted: HoconObject,
  mode: PutMode,
  facts: ConfigFacts,
): HoconObject {
  const out = cloneHocon(raw);
  for (const r of Object.keys(accepted)) out[r] = nextRootValue(r, out[r], accepted[r]!, mode, facts);
  return out;
}

/** The new cluster.hocon content after applying accepted roots (merge or replace per root). */
export function nextClusterOverrides(
  overrides: HoconObject,
  accepted: HoconObject,
  mode: PutMode,
): HoconObject {
  const out = cloneHocon(overrides);
  for (const r of Object.keys(accepted)) {
    const body = accepted[r]!;
    const prev = out[r];
    if (r === 'cluster') {
      const links = isHoconObject(body) ? (body['links'] ?? []) : [];
      out[r] = deepMerge(isHoconObject(prev) ? prev : {}, { links });
    } else if (mode === 'merge' && isHoconObject(prev) && isHoconObject(body)) {
      out[r] = deepMerge(prev, body);
    } else {
      out[r] = cloneHocon(body);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Small typed readers

export function durationMs(v: HoconValue | undefined, fallbackMs: number): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/i.exec(v.trim());
  if (!m) return fallbackMs;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'ms').toLowerCase();
  const mult =
    unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : unit === 'h' ? 3_600_000 : 86_400_000;
  return n * mult;
}

export function bindPort(v: HoconValue | undefined): { host: string | undefined; port: number } | undefined {
  if (typeof v === 'number') return { host: undefined, port: v };
  if (typeof v !== 'string') return undefined;
  const m = /^(?:(.*):)?(\d+)$/.exec(v.trim());
  if (!m) return undefined;
  const host = m[1] === undefined || m[1] === '' ? undefined : m[1].replace(/^\[|\]$/g, '');
  return { host, port: Number(m[2]) };
}

export function asBool(v: HoconValue | undefined, fallback: boolean): boolean {
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  return fallback;
}

export function asStringList(v: HoconValue | undefined): string[] {
  if (Array.isArray(v)) return v.map((x) => String(x)).filter((s) => s !== '');
  if (typeof v === 'string') {
    return v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  return [];
}
