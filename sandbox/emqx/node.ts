// One emulated EMQX node: identity and config from the pod, boot, cluster membership (core schema, replicant
// attachment), the replicated database, client load, and shutdown. The REST API (api.ts) and `emqx ctl`
// (ctl.ts) are thin layers over this class.
import fs from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ContainerContext } from '../kubelet/handler.ts';
import { cloneHocon, getPath, HoconError } from '../../src/hocon/index.ts';
import type { HoconObject } from '../../src/hocon/index.ts';
import { bootstrapKeyName, parseBootstrapFile, storeApiKey } from './bootstrap-keys.ts';
import type { StoredApiKey } from './bootstrap-keys.ts';
import type { TimerHandle, EmqxClock } from './clock.ts';
import {
  applyRoots,
  asBool,
  asStringList,
  bindPort,
  bootConfig,
  ConfigError,
  durationMs,
  imageEmqxConf,
  nextClusterOverrides,
} from './config.ts';
import type { ConfigFacts, PutMode } from './config.ts';
import type { EmqxFabric, NodeFaults, NodeSummary } from './fabric.ts';
import { hasCommunityLicense, parseEmqxImage } from './image.ts';
import type { EmqxImageInfo } from './image.ts';
import { DEFAULT_DS_TIMING, NodeDs } from './ds.ts';
import type { DsTiming } from './ds.ts';
import { NodeMqtt, RC } from './mqtt.ts';
import { Evacuation } from './rebalance.ts';
import type { Rebalance } from './rebalance.ts';
import { Db, NodeStore } from './store.ts';
import { loadTls, sslOptionsOf, TlsReloader } from './tls.ts';
import type { JsonValue } from './store.ts';

export type NodeStatus = 'booting' | 'running' | 'app_stopped' | 'stopping' | 'exited';
export type Role = 'core' | 'replicant';

export interface NodeTiming extends DsTiming {
  /** From container start to the emqx application running (emulated ms). */
  bootMs: number;
  /** The application restart after a join or leave. */
  joinRestartMs: number;
  /** Graceful shutdown time. */
  stopMs: number;
  autoclusterRetryMs: number;
  replicantRetryMs: number;
  /** How long a ≥5.9 node with the community licence waits for a clustering licence once clustered. */
  licenseWaitMs: number;
}

export const DEFAULT_TIMING: NodeTiming = {
  bootMs: 2000,
  joinRestartMs: 1000,
  stopMs: 300,
  autoclusterRetryMs: 5000,
  replicantRetryMs: 1000,
  licenseWaitMs: 30_000,
  ...DEFAULT_DS_TIMING,
};

export interface NodeOptions {
  latestVersion?: string;
  timing?: Partial<NodeTiming>;
}

const SHORT_NAME_RE = /^[0-9A-Za-z_-]+$/;
const DEFAULT_COOKIE = 'emqxsecretcookie';

/**
 * Client load: counted clients of the control API (connected with a clean or persistent session, disconnected
 * persistent sessions) plus the real MQTT connections and sessions of the node's broker.
 */
export class Load {
  clean = 0;
  persistent = 0;
  detached = 0;
  readonly #mqtt: { liveCount: number; sessionCount: number } | undefined;
  constructor(mqtt?: { liveCount: number; sessionCount: number }) {
    this.#mqtt = mqtt;
  }
  /** Connected clients, counted and real. */
  get live(): number {
    return this.clean + this.persistent + (this.#mqtt?.liveCount ?? 0);
  }
  /** Sessions, connected or not, counted and real. */
  get sessions(): number {
    return this.clean + this.persistent + this.detached + (this.#mqtt?.sessionCount ?? 0);
  }
  /** Disconnected persistent sessions, counted and real. */
  get disconnected(): number {
    return this.sessions - this.live;
  }
  /** Connected clients of the control API only. */
  get counted(): number {
    return this.clean + this.persistent;
  }
}

type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error';

export class EmqxNode {
  readonly fabric: EmqxFabric;
  readonly ctx: ContainerContext;
  readonly clock: EmqxClock;
  readonly timing: NodeTiming;
  readonly image: EmqxImageInfo;
  readonly facts: ConfigFacts;
  readonly podIP: string;
  readonly podName: string;
  readonly podKey: string;

  name = '';
  short = '';
  host = '';
  role: Role = 'core';
  status: NodeStatus = 'booting';
  /** Emulated time the "VM" started (node age for autocluster's oldest-node choice). */
  readonly startedAt: number;
  /** When the emqx application last came up. */
  runningSince = 0;
  raw: HoconObject = {};
  clusterOverrides: HoconObject = {};
  members = new Set<string>();
  db = new Db();
  /** Replicants: the core this node replicates from. */
  attachedTo: string | undefined;
  /**
   * Replicants: the core this node last replicated from, kept while detached (its core went away, or no core of
   * its version runs during a rolling upgrade). Such a replicant keeps routing messages with the rest of that
   * cluster over the distribution, as EMQX's stale route table does; cleared when the replicant leaves.
   */
  lastCore: string | undefined;
  readonly mqtt: NodeMqtt = new NodeMqtt(this);
  /** Durable storage (sites, shards, durable sessions): `ds.ts`. */
  readonly ds: NodeDs = new NodeDs(this);
  load = new Load(this.mqtt);
  evacuation: Evacuation | undefined;
  rebalance: Rebalance | undefined;
  /** Set while this node is a donor of a rebalance coordinated by that node. */
  donorOf: string | undefined;
  faults: NodeFaults = {};
  server: http.Server | undefined;
  /** The https dashboard listener, when configured. */
  httpsServer: https.Server | undefined;
  #httpsReloader: TlsReloader | undefined;
  apiPort: number | undefined;

  readonly exited: Promise<number>;
  #resolveExit!: (code: number) => void;
  #cookie = DEFAULT_COOKIE;
  #emqxConf = '';
  #env: Record<string, string> = {};
  #store: NodeStore | undefined;
  #scratchDir: string | undefined;
  #timers = new Map<string, TimerHandle>();
  #ticker: TimerHandle | undefined;
  #autoclusterDisabled = false;
  #replicantLeft = false;
  #lastCoreWarning = 0;

  constructor(fabric: EmqxFabric, ctx: ContainerContext, opts: NodeOptions = {}) {
    this.fabric = fabric;
    this.ctx = ctx;
    this.clock = fabric.clock;
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.image = parseEmqxImage(ctx.container.image ?? '', opts.latestVersion);
    this.facts = { edition: this.image.edition, major: this.image.major, minor: this.image.minor };
    this.podIP = ctx.podIP;
    this.podName = ctx.pod.metadata?.name ?? '';
    this.podKey = `${ctx.pod.metadata?.namespace ?? 'default'}/${this.podName}`;
    this.startedAt = this.clock.now();
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  log(level: LogLevel, msg: string): void {
    const ts = new Date(this.clock.now()).toISOString();
    this.ctx.log(`${ts} [${level}] ${msg}`);
  }

  // =============================================================================================================
  // Boot

  /**
   * Reads identity and config from the pod and starts booting. Never throws for bad input: a node that cannot
   * start logs why and exits (its `exited` resolves non-zero), as EMQX does.
   */
  async start(): Promise<void> {
    this.log('info', `starting EMQX ${this.image.edition} ${this.image.version} (image ${this.image.image})`);
    if (this.image.versionGuessed) {
      this.log('notice', `image tag gives no version; emulating ${this.image.version}`);
    }
    try {
      this.#loadIdentityAndConfig();
    } catch (e) {
      const msg =
        e instanceof HoconError
          ? // the reason may quote text from the file (which can hold secrets): position and kind only
            `failed to load config: ${e.source ?? 'config'} line ${e.line}, column ${e.column}: ${e.kind}`
          : e instanceof ConfigError || e instanceof StartError
            ? e.message
            : `failed to start: ${(e as Error).message}`;
      this.#finish(1, msg);
      return;
    }
    const clash = this.fabric.register(this);
    if (clash) {
      this.#finish(1, `failed to start distribution: ${clash}`);
      return;
    }
    try {
      await this.#listenDashboard();
    } catch (e) {
      this.#finish(1, `failed to start the dashboard listener: ${(e as Error).message}`);
      return;
    }
    if (this.status !== 'booting') return;
    this.#setTimer('boot', this.timing.bootMs, () => {
      if (this.role === 'core') this.#bootCore();
      else this.#bootReplicant();
    });
  }

  #loadIdentityAndConfig(): void {
    const env = { ...this.ctx.env };
    // docker-entrypoint.sh / bin/emqx: the node name always comes from the environment
    const name = this.#nodeNameFromEnv(env);
    // bin/emqx takes the name verbatim (it is not read as a HOCON value): quote it for the override layer
    env['EMQX_NODE__NAME'] = JSON.stringify(name);
    delete env['EMQX_NODE_NAME'];
    // bin/emqx also passes an environment cookie verbatim (-setcookie), not as a HOCON value
    const envCookie = env['EMQX_NODE__COOKIE'] ?? env['EMQX_NODE_COOKIE'];
    if (envCookie !== undefined && envCookie !== '') env['EMQX_NODE__COOKIE'] = JSON.stringify(envCookie);
    this.#env = env;
    const confPath = this.ctx.hostPath('/opt/emqx/etc/emqx.conf');
    if (confPath !== undefined) {
      try {
        this.#emqxConf = fs.readFileSync(confPath, 'utf8');
      } catch (e) {
        throw new StartError(
          `cannot read /opt/emqx/etc/emqx.conf: ${(e as NodeJS.ErrnoException).code ?? e}`,
        );
      }
    } else {
      this.#emqxConf = imageEmqxConf(this.image.major);
    }
    // first pass without cluster.hocon, to find the data dir
    const first = bootConfig(this.facts, { emqxConf: this.#emqxConf, env });
    this.name = String(getPath(first, 'node.name'));
    const at = this.name.indexOf('@');
    this.short = at > 0 ? this.name.slice(0, at) : '';
    this.host = at > 0 ? this.name.slice(at + 1) : '';
    if (!SHORT_NAME_RE.test(this.short) || this.host === '') {
      throw new StartError(
        `invalid node name: ${JSON.stringify(this.name)} (expected <name>@<host>, name ^[0-9A-Za-z_-]+$)`,
      );
    }
    const dataDir = this.#resolveDataDir(String(getPath(first, 'node.data_dir') ?? 'data'));
    this.#store = new NodeStore(dataDir, this.name);
    let clusterHocon: HoconObject | undefined;
    try {
      clusterHocon = this.#store.loadClusterHocon();
    } catch (e) {
      throw new StartError(`failed to load data/configs/cluster.hocon: ${(e as Error).message}`);
    }
    this.clusterOverrides = clusterHocon ?? {};
    this.raw = this.#computeRaw();
    this.role = getPath(this.raw, 'node.role') === 'replicant' ? 'replicant' : 'core';
    if (
      this.role === 'replicant' &&
      this.image.edition === 'Opensource' &&
      this.image.major === 5 &&
      this.image.minor >= 8
    ) {
      throw new StartError(
        'node.role = replicant is not supported by EMQX Opensource edition since 5.8.0; the node does not start',
      );
    }
    this.#cookie = this.#readCookie();
    const profile = env['EMQX_SECURITY_PROFILE'] ?? 'legacy';
    if (profile === 'hardened' && this.#cookie === DEFAULT_COOKIE) {
      throw new StartError('the hardened security profile refuses the default node cookie');
    }
    this.log('info', `node ${this.name}, role ${this.role}, data dir ${dataDir}`);
  }

  #nodeNameFromEnv(env: Record<string, string>): string {
    const given = env['EMQX_NODE__NAME'] || env['EMQX_NODE_NAME'];
    if (given) return given;
    let host = env['EMQX_HOST'] ?? '';
    if (host === '') {
      // entrypoint guess: with dns+srv, `$(hostname).$EMQX_CLUSTER__DNS__NAME` when /etc/hosts lists it
      const spec = this.ctx.pod.spec;
      const hostname = spec?.hostname ?? this.podName;
      const dnsName = env['EMQX_CLUSTER__DNS__NAME'];
      const ns = this.ctx.pod.metadata?.namespace ?? 'default';
      const fqdn = spec?.subdomain
        ? `${hostname}.${spec.subdomain}.${ns}.svc.${this.ctx.dns.clusterDomain}`
        : undefined;
      if (
        env['EMQX_CLUSTER__DISCOVERY_STRATEGY'] === 'dns' &&
        env['EMQX_CLUSTER__DNS__RECORD_TYPE'] === 'srv' &&
        dnsName &&
        fqdn === `${hostname}.${dnsName}`
      ) {
        host = fqdn;
      } else {
        host = this.podIP;
      }
    }
    return `${env['EMQX_NAME'] || 'emqx'}@${host}`;
  }

  #resolveDataDir(dataDir: string): string {
    const containerPath = path.posix.isAbsolute(dataDir) ? dataDir : path.posix.join('/opt/emqx', dataDir);
    const mounted = this.ctx.hostPath(containerPath);
    if (mounted !== undefined) return mounted;
    // nothing mounted: the container's own writable layer, lost when the container goes
    this.#scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emqx-emulator-'));
    return this.#scratchDir;
  }

  #readCookie(): string {
    const c = getPath(this.raw, 'node.cookie');
    const cookie = c === undefined || c === null ? DEFAULT_COOKIE : String(c);
    if (cookie.startsWith('file://')) {
      const file = cookie.slice('file://'.length);
      const host = this.ctx.hostPath(file);
      try {
        if (host === undefined) throw new Error('not mounted');
        return fs.readFileSync(host, 'utf8').trim();
      } catch {
        throw new StartError(`cannot read the node cookie file ${file}`);
      }
    }
    return cookie;
  }

  #computeRaw(): HoconObject {
    return bootConfig(this.facts, {
      cluster: this.clusterOverrides,
      emqxConf: this.#emqxConf,
      env: this.#env,
    });
  }

  /** The https dashboard listener, when `dashboard.listeners.https` is enabled with a bind port. */
  async #listenDashboardHttps(): Promise<void> {
    const conf = getPath(this.raw, 'dashboard.listeners.https');
    if (!conf || typeof conf !== 'object' || Array.isArray(conf)) return;
    const enabled = asBool(getPath(conf as HoconObject, 'enable'), true);
    const bind = bindPort(getPath(conf as HoconObject, 'bind'));
    if (!enabled || !bind || bind.port === 0) return;
    const ssl = sslOptionsOf(getPath(conf as HoconObject, 'ssl_options') as HoconObject | undefined);
    if (!ssl) throw new Error('dashboard.listeners.https: ssl_options has no certfile or keyfile');
    const hostPath = (p: string) => this.ctx.hostPath(p);
    const { apiRequestListener } = await import('./api.ts');
    const server = https.createServer(loadTls(ssl, hostPath), apiRequestListener(this));
    server.keepAliveTimeout = 5000;
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bind.port, this.podIP, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.httpsServer = server;
    this.#httpsReloader = new TlsReloader(ssl, hostPath, server, {
      error: (msg) => this.log('error', `dashboard https listener: cannot reload the certificate: ${msg}`),
      reload: () => this.log('info', 'dashboard https listener: certificate files changed'),
    });
    this.apiPort ??= bind.port;
    this.log('info', `dashboard listener https:${this.podIP}:${bind.port} started`);
  }

  async #listenDashboard(): Promise<void> {
    await this.#listenDashboardHttps();
    const http = getPath(this.raw, 'dashboard.listeners.http');
    const enabled = asBool(getPath(this.raw, 'dashboard.listeners.http.enable'), true);
    const bind = bindPort(getPath(this.raw, 'dashboard.listeners.http.bind'));
    if (!http || !enabled || !bind || bind.port === 0) {
      if (!this.httpsServer)
        this.log('warning', 'dashboard HTTP listener disabled: the REST API is not served');
      return;
    }
    if (bind.host !== undefined && !['0.0.0.0', '::', this.podIP].includes(bind.host)) {
      this.log('warning', `dashboard HTTP listener bound to ${bind.host}: not reachable on the pod IP`);
      return;
    }
    const { createApiServer } = await import('./api.ts');
    const server = createApiServer(this);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bind.port, this.podIP, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.apiPort = bind.port;
    this.log('info', `dashboard listener http:${this.podIP}:${bind.port} started`);
  }

  #bootCore(): void {
    const store = this.#store!;
    let persisted;
    try {
      persisted = store.loadDb();
    } catch (e) {
      this.#finish(1, `failed to load the database: ${(e as Error).message}`);
      return;
    }
    this.members = new Set([...(persisted?.members ?? []), this.name]);
    this.db = persisted?.db ?? new Db();
    if (this.members.size > 1) {
      const peers = [...this.members]
        .filter((m) => m !== this.name)
        .map((m) => this.fabric.byName(m))
        .filter((n): n is EmqxNode => !!n && n.status === 'running' && n.role === 'core' && this.#reach(n));
      const mutual = peers.find((p) => p.members.has(this.name));
      if (mutual) {
        this.log('info', `rejoining the cluster through ${mutual.name}`);
        this.#adoptCluster(mutual);
      } else if (peers.length > 0) {
        this.log('warning', 'this node was removed from the cluster while it was down; starting standalone');
        this.members = new Set([this.name]);
        this.db = new Db();
      }
    }
    this.fabric.downSince.delete(this.name);
    this.persistDb();
    this.#appsUp(true);
  }

  #bootReplicant(): void {
    this.#startAttachLoop();
  }

  /** The emqx applications come up (after boot, or after the restart that a join or leave causes). */
  #appsUp(firstBoot: boolean): void {
    if (this.status === 'exited' || this.status === 'stopping') return;
    if (this.role === 'core') {
      this.#loadBootstrapKeys();
      this.#ensureDashboardAdmin();
    }
    if (firstBoot) {
      const saved = this.#store?.loadEvacuation();
      const evac = saved === undefined ? undefined : Evacuation.fromJSON(this, saved);
      if (evac) {
        this.log('info', 'resuming the node evacuation found in data/.evacuation');
        this.evacuation = evac;
        this.ensureTicker();
      }
    }
    this.status = 'running';
    this.runningSince = this.clock.now();
    this.fabric.downSince.delete(this.name);
    this.log('info', `EMQX ${this.image.version} is running now!`);
    this.ds.onAppsUp(this.#store?.dataDir);
    void this.mqtt.start();
    this.fabric.topologyChanged();
    this.#checkLicense();
    if (firstBoot) this.#startAutocluster();
  }

  #restartApps(reason: string): void {
    this.log('info', `restarting applications: ${reason}`);
    this.status = 'booting';
    this.#dropMqtt();
    this.fabric.topologyChanged();
    this.#setTimer('restart', this.timing.joinRestartMs, () => this.#appsUp(false));
  }

  #loadBootstrapKeys(): void {
    const file = getPath(this.raw, 'api_key.bootstrap_file');
    if (typeof file !== 'string' || file === '') return;
    const host = this.ctx.hostPath(file);
    let text: string;
    try {
      if (host === undefined) throw new Error('not mounted');
      text = fs.readFileSync(host, 'utf8');
    } catch {
      this.log('error', `failed to read the API key bootstrap file ${file}`);
      return;
    }
    const { keys, error } = parseBootstrapFile(text);
    const ops = keys.map((k) => {
      const stored = storeApiKey(bootstrapKeyName(k.key), k.key, k.secret, k.role, this.clock.now(), {
        desc: 'Bootstrap API Key',
        ...(k.namespace === undefined ? {} : { namespace: k.namespace }),
        ...(k.scopes === undefined ? {} : { scopes: k.scopes }),
      });
      return { table: 'api_keys', key: stored.name, value: stored as unknown as JsonValue };
    });
    // the file wins over an existing key with the same value
    for (const [name, v] of this.db.list('api_keys')) {
      const existing = v as unknown as StoredApiKey;
      if (keys.some((k) => k.key === existing.api_key) && !ops.some((o) => o.key === name)) {
        ops.push({ table: 'api_keys', key: name, value: undefined as unknown as JsonValue });
      }
    }
    if (ops.length > 0) this.dbWrite(ops, true);
    if (error) {
      this.log(
        'error',
        `bad line ${error.line} in the API key bootstrap file ${file} (${error.reason}); rest skipped`,
      );
    } else {
      this.log('info', `loaded ${keys.length} API key(s) from the bootstrap file`);
    }
  }

  #ensureDashboardAdmin(): void {
    const user = String(getPath(this.raw, 'dashboard.default_username') ?? 'admin');
    if (this.db.get('dashboard_users', user) !== undefined) return;
    const password = String(getPath(this.raw, 'dashboard.default_password') ?? 'public');
    const stored = storeApiKey(user, user, password, 'administrator', this.clock.now());
    this.dbWrite([{ table: 'dashboard_users', key: user, value: stored as unknown as JsonValue }], true);
  }

  // =============================================================================================================
  // Identity helpers

  sameCookie(other: EmqxNode): boolean {
    return this.#cookie === other.#cookie;
  }

  get discoveryStrategy(): string {
    return String(getPath(this.raw, 'cluster.discovery_strategy') ?? 'manual');
  }

  get clusterName(): string {
    return String(getPath(this.raw, 'cluster.name') ?? 'emqxcl');
  }

  /** ≥5.9: false while `license.key` is the default community licence (single node). */
  licenseAllowsClustering(): boolean {
    if (!hasCommunityLicense(this.image)) return true;
    return String(getPath(this.raw, 'license.key') ?? 'default') !== 'default';
  }

  get uptimeMs(): number {
    return this.clock.now() - this.startedAt;
  }

  #reach(other: EmqxNode): boolean {
    return this.fabric.reachable(this, other);
  }

  // =============================================================================================================
  // Cluster views

  /** The core whose schema defines this node's cluster: itself for a core, the attached core for a replicant. */
  viewCore(): EmqxNode | undefined {
    if (this.role === 'core') return this;
    if (this.attachedTo === undefined) return undefined;
    const c = this.fabric.byName(this.attachedTo);
    return c && c.status === 'running' && this.#reach(c) ? c : undefined;
  }

  /** Running cores that `core` counts as members and that count it back. */
  static peersOf(core: EmqxNode): EmqxNode[] {
    const out: EmqxNode[] = [];
    for (const m of core.members) {
      if (m === core.name) continue;
      const n = core.fabric.byName(m);
      if (
        n &&
        n.role === 'core' &&
        n.status === 'running' &&
        core.fabric.reachable(core, n) &&
        n.members.has(core.name)
      ) {
        out.push(n);
      }
    }
    return out;
  }

  /**
   * Live cores (any status but exited) that `core` counts as members and that count it back: the nodes a schema
   * change or a database write reaches (a core restarting its applications after a join keeps its database).
   */
  static livePeersOf(core: EmqxNode): EmqxNode[] {
    const out: EmqxNode[] = [];
    for (const m of core.members) {
      if (m === core.name) continue;
      const n = core.fabric.byName(m);
      if (
        n &&
        n.role === 'core' &&
        n.status !== 'exited' &&
        core.fabric.reachable(core, n) &&
        n.members.has(core.name)
      ) {
        out.push(n);
      }
    }
    return out;
  }

  runningCores(): EmqxNode[] {
    const core = this.viewCore();
    if (!core) return [];
    const out = EmqxNode.peersOf(core);
    if (core.status === 'running') out.push(core);
    return out.sort(byName);
  }

  runningReplicants(): EmqxNode[] {
    const core = this.viewCore();
    if (!core) return [];
    const cores = new Set([core.name, ...EmqxNode.peersOf(core).map((n) => n.name)]);
    return this.fabric
      .all()
      .filter(
        (r) =>
          r.role === 'replicant' &&
          r.status === 'running' &&
          r.attachedTo !== undefined &&
          cores.has(r.attachedTo) &&
          this.fabric.reachable(core, r),
      )
      .sort(byName);
  }

  /** `mria:running_nodes()` as this node sees it. */
  runningNodes(): EmqxNode[] {
    if (this.role === 'replicant' && !this.viewCore()) return this.status === 'running' ? [this] : [];
    return [...this.runningCores(), ...this.runningReplicants()].sort(byName);
  }

  /** Core members of the schema that are not running (the stubs of `GET /nodes`). */
  stoppedCores(): string[] {
    const core = this.viewCore();
    if (!core) return [];
    const running = new Set(this.runningCores().map((n) => n.name));
    return [...core.members].filter((m) => !running.has(m)).sort();
  }

  /** True when `name` is a member of this node's cluster (a core in the schema or a running replicant). */
  inCluster(name: string): boolean {
    const core = this.viewCore();
    if (!core) return false;
    return core.members.has(name) || this.runningReplicants().some((r) => r.name === name);
  }

  summary(): NodeSummary {
    const s: NodeSummary = {
      name: this.name,
      role: this.role,
      status: this.status,
      podIP: this.podIP,
      pod: this.podKey,
      version: this.image.version,
      edition: this.image.edition,
      connections: this.load.live,
      sessions: this.load.sessions,
      cluster: this.runningNodes().map((n) => n.name),
      stoppedCores: this.stoppedCores(),
    };
    if (this.attachedTo !== undefined) s.attachedTo = this.attachedTo;
    if (this.evacuation) s.evacuation = this.evacuation.state;
    if (this.apiPort !== undefined) s.apiPort = this.apiPort;
    return s;
  }

  // =============================================================================================================
  // Topology changes, autocluster, replicant attachment, autoclean

  onTopologyChange(): void {
    if (this.status === 'exited') return;
    if (this.role === 'replicant' && this.attachedTo !== undefined) {
      const c = this.fabric.byName(this.attachedTo);
      if (!c || c.status !== 'running' || !this.#reach(c) || c.role !== 'core') {
        this.log('warning', `lost the connection to core ${this.attachedTo}; looking for another core`);
        this.attachedTo = undefined;
        this.#startAttachLoop();
      }
    }
    if (this.role === 'core' && this.status === 'running') {
      this.#scheduleAutoclean();
      if (this.ds.enabled) this.ds.kick();
    }
  }

  /** Discovered node names, per `cluster.discovery_strategy`. */
  async discover(): Promise<string[]> {
    const strategy = this.discoveryStrategy;
    try {
      if (strategy === 'static') return [...new Set(asStringList(getPath(this.raw, 'cluster.static.seeds')))];
      if (strategy === 'dns') {
        const name = String(getPath(this.raw, 'cluster.dns.name') ?? '');
        const type = String(getPath(this.raw, 'cluster.dns.record_type') ?? 'a').toLowerCase();
        if (type === 'srv') {
          const recs = await this.ctx.dns.resolveSrv(name);
          return [...new Set(recs.map((r) => `${this.short}@${r.name.replace(/\.$/, '')}`))];
        }
        const ips = await this.ctx.dns.resolveHost(name);
        return [...new Set(ips.map((ip) => `${this.short}@${ip}`))];
      }
    } catch (e) {
      this.log('warning', `discovery (${strategy}) failed: ${(e as Error).message}`);
    }
    return [];
  }

  /** The live node a name leads to through DNS, if this node can reach it. */
  async resolvePeer(name: string): Promise<EmqxNode | undefined> {
    const at = name.indexOf('@');
    if (at <= 0) return undefined;
    const host = name.slice(at + 1);
    let ips: string[];
    try {
      ips = isIP(host) ? [host] : await this.ctx.dns.resolveHost(host);
    } catch {
      return undefined;
    }
    for (const ip of ips) {
      for (const n of this.fabric.byIp(ip)) {
        if (n.name === name && n.status !== 'exited' && this.#reach(n)) return n;
      }
    }
    return undefined;
  }

  #startAutocluster(): void {
    if (this.role !== 'core' || this.#autoclusterDisabled) return;
    if (['manual', 'singleton', 'etcd', 'k8s'].includes(this.discoveryStrategy)) return;
    if (this.#timers.has('autocluster')) return;
    this.#setTimer('autocluster', 0, () => void this.#autoclusterRound());
  }

  async #autoclusterRound(): Promise<void> {
    if (this.status === 'exited' || this.status === 'stopping' || this.#autoclusterDisabled) return;
    const again = (): void => {
      if (!this.#autoclusterDisabled) {
        this.#setTimer('autocluster', this.timing.autoclusterRetryMs, () => void this.#autoclusterRound());
      }
    };
    if (this.status !== 'running') return again();
    const discovered = (await this.discover()).filter((n) => n !== this.name);
    const alive = (await Promise.all(discovered.map((n) => this.resolvePeer(n)))).filter(
      (n): n is EmqxNode => n !== undefined,
    );
    if (this.status !== 'running') return again();
    const missing = alive.filter((n) => !this.members.has(n.name));
    if (missing.length === 0) {
      this.log('debug', 'autocluster: discovery complete');
      return;
    }
    // cores that cannot take a join right now (booting, restarting after a join) are left for a later round
    const cores = alive.filter((n) => n.role === 'core' && n.status === 'running');
    const oldest = [this, ...cores].sort((a, b) => a.startedAt - b.startedAt || byName(a, b))[0]!;
    if (oldest !== this && !(this.members.has(oldest.name) && oldest.members.has(this.name))) {
      const r = this.join(oldest, { auto: true });
      if ('error' in r) this.log('warning', `autocluster: failed to join ${oldest.name}: ${r.error}`);
      else this.log('info', `autocluster: joined ${oldest.name}`);
    }
    again();
  }

  #startAttachLoop(): void {
    if (this.role !== 'replicant' || this.#replicantLeft || this.#timers.has('attach')) return;
    this.#setTimer('attach', 0, () => void this.#attachRound());
  }

  async #attachRound(): Promise<void> {
    if (this.status === 'exited' || this.status === 'stopping' || this.status === 'app_stopped') return;
    if (this.attachedTo !== undefined || this.#replicantLeft) return;
    const discovered = (await this.discover()).filter((n) => n !== this.name);
    const peers = (await Promise.all(discovered.map((n) => this.resolvePeer(n)))).filter(
      (n): n is EmqxNode =>
        n !== undefined &&
        n.role === 'core' &&
        n.status === 'running' &&
        n.image.version === this.image.version,
    );
    if (this.attachedTo !== undefined || this.#gone()) return;
    if (peers.length > 0) {
      const load = (c: EmqxNode): number =>
        this.fabric.all().filter((r) => r.role === 'replicant' && r.attachedTo === c.name).length;
      const core = peers.sort((a, b) => load(a) - load(b) || byName(a, b))[0]!;
      this.#attach(core);
      return;
    }
    const now = this.clock.now();
    if (this.status === 'running' && now - this.#lastCoreWarning >= 30_000) {
      this.#lastCoreWarning = now;
      this.log('warning', 'no core node is reachable; database writes stall');
    }
    this.#setTimer('attach', this.timing.replicantRetryMs, () => void this.#attachRound());
  }

  #attach(core: EmqxNode): void {
    this.attachedTo = core.name;
    this.lastCore = core.name;
    this.db = core.db.clone();
    this.#adoptClusterConfig(core);
    this.log('info', `replicant attached to core ${core.name}`);
    if (this.status === 'booting') this.#appsUp(true);
    else this.fabric.topologyChanged();
    this.#checkLicense();
  }

  #adoptClusterConfig(from: EmqxNode): void {
    this.clusterOverrides = cloneHocon(from.clusterOverrides);
    this.#store?.saveClusterHocon(this.clusterOverrides);
    try {
      this.raw = this.#computeRaw();
    } catch (e) {
      this.log('error', `cluster config from ${from.name} does not apply here: ${(e as Error).message}`);
    }
  }

  #adoptCluster(peer: EmqxNode): void {
    this.members = new Set([...peer.members, this.name]);
    this.db = peer.db.clone();
    this.#adoptClusterConfig(peer);
  }

  #scheduleAutoclean(): void {
    const stopped = this.stoppedCores();
    const ms = durationMs(getPath(this.raw, 'cluster.autoclean'), 24 * 3_600_000);
    this.#timers.get('autoclean')?.cancel();
    this.#timers.delete('autoclean');
    if (stopped.length === 0 || !(ms > 0)) return;
    const now = this.clock.now();
    let first = Infinity;
    for (const s of stopped) {
      if (!this.fabric.downSince.has(s)) this.fabric.downSince.set(s, now);
      first = Math.min(first, this.fabric.downSince.get(s)!);
    }
    this.#setTimer('autoclean', Math.max(0, first + ms - now), () => this.#autoclean(ms));
  }

  #autoclean(ms: number): void {
    if (this.status !== 'running') return;
    const now = this.clock.now();
    const stale = this.stoppedCores().filter((s) => now - (this.fabric.downSince.get(s) ?? now) >= ms);
    if (stale.length > 0) {
      for (const core of [this, ...EmqxNode.livePeersOf(this)]) {
        for (const s of stale) core.members.delete(s);
        core.persistDb();
      }
      this.log('info', `cluster.autoclean removed stopped node(s) ${stale.join(', ')}`);
      this.fabric.topologyChanged();
    }
    this.#scheduleAutoclean();
  }

  /** After a partition heals: cores that see each other again take the oldest running core's database. */
  autoheal(): void {
    if (this.role !== 'core' || this.status !== 'running') return;
    if (!asBool(getPath(this.raw, 'cluster.autoheal'), true)) return;
    const peers = EmqxNode.peersOf(this);
    if (peers.length === 0) return;
    const winner = [this, ...peers].sort((a, b) => a.startedAt - b.startedAt || byName(a, b))[0]!;
    if (winner !== this) {
      this.db = winner.db.clone();
      this.persistDb();
    }
  }

  // =============================================================================================================
  // Join / leave

  /** Joins the cluster of `target` (`auto` for autocluster, which skips the community-licence refusal). */
  join(target: EmqxNode, opts: { auto: boolean }): { ok: true } | { error: string } {
    if (target === this) return { error: 'cannot_join_self' };
    if (this.role !== 'core') return { error: 'replicant_cannot_join' };
    if (target.status !== 'running' || !this.#reach(target)) return { error: `{node_down,'${target.name}'}` };
    if (target.role !== 'core') return { error: `{not_a_core_node,'${target.name}'}` };
    if (!opts.auto && !target.licenseAllowsClustering())
      return { error: `Node ${target.name} has a single node license` };
    if (this.members.has(target.name) && target.members.has(this.name)) {
      return { error: `{already_in_cluster,'${target.name}'}` };
    }
    this.#detachFromPeers();
    const cluster = [target, ...EmqxNode.livePeersOf(target)];
    for (const p of cluster) {
      p.members.add(this.name);
      p.persistDb();
    }
    this.#adoptCluster(target);
    this.persistDb();
    this.#restartApps(`joined the cluster of ${target.name}`);
    return { ok: true };
  }

  #detachFromPeers(): void {
    for (const p of EmqxNode.livePeersOf(this)) {
      p.members.delete(this.name);
      p.persistDb();
    }
  }

  /** `emqx ctl cluster leave` (and the target side of force_leave). */
  leave(): { ok: true } | { error: string } {
    // the DS applications refuse while this node's site still holds (or is getting) shard replicas
    if (this.role === 'core' && this.ds.enabled && this.ds.nodeHoldsReplicas(this.name)) {
      return { error: 'nonempty_ds_site' };
    }
    this.#autoclusterDisabled = true;
    this.#timers.get('autocluster')?.cancel();
    this.#timers.delete('autocluster');
    if (this.role === 'replicant') {
      if (this.attachedTo === undefined) return { error: 'node_not_in_cluster' };
      this.attachedTo = undefined;
      this.lastCore = undefined;
      this.#replicantLeft = true;
      this.fabric.topologyChanged();
      return { ok: true };
    }
    if (this.members.size <= 1) return { error: 'node_not_in_cluster' };
    this.#detachFromPeers();
    this.members = new Set([this.name]);
    this.db = new Db();
    this.#store?.wipeDb();
    this.persistDb();
    this.#restartApps('left the cluster');
    return { ok: true };
  }

  /** `force_leave` of another node, run on this node. */
  forceLeave(name: string): { ok: true } | { error: string } {
    if (name === this.name) return { error: "Can't leave self" };
    if (!this.inCluster(name)) return { error: 'node_not_in_cluster' };
    const running = this.runningNodes().find((n) => n.name === name);
    if (running) return running.leave();
    const core = this.viewCore();
    if (!core) return { error: 'node_not_in_cluster' };
    if (this.ds.enabled && this.ds.nodeHoldsReplicas(name)) return { error: 'nonempty_ds_site' };
    for (const c of [core, ...EmqxNode.livePeersOf(core)]) {
      c.members.delete(name);
      c.persistDb();
    }
    this.fabric.topologyChanged();
    return { ok: true };
  }

  #checkLicense(): void {
    if (!hasCommunityLicense(this.image)) return;
    const clustered = this.role === 'core' ? this.members.size > 1 : this.attachedTo !== undefined;
    if (!clustered || this.licenseAllowsClustering()) {
      this.#timers.get('license')?.cancel();
      this.#timers.delete('license');
      return;
    }
    if (this.#timers.has('license')) return;
    this.log('warning', 'single-node (community) license in a cluster: waiting for a clustering license');
    this.#setTimer('license', this.timing.licenseWaitMs, () => {
      const still = this.role === 'core' ? this.members.size > 1 : this.attachedTo !== undefined;
      if (still && !this.licenseAllowsClustering()) {
        this.#finish(
          1,
          'emqx_license failed to start: SINGLE_NODE_LICENSE, make sure this node and peer nodes are configured with a valid license',
        );
      }
    });
  }

  // =============================================================================================================
  // Database

  persistDb(): void {
    if (this.role !== 'core' || !this.#store) return;
    this.#store.saveDb(() => ({ members: [...this.members].sort(), db: this.db }));
  }

  /**
   * Writes through this node: to every running core of its cluster and the replicants attached to them. `value:
   * undefined` deletes. Throws when there is no running core to write to (a core-less replicant stalls).
   */
  dbWrite(
    ops: Array<{ table: string; key: string; value: JsonValue | undefined }>,
    duringBoot = false,
  ): void {
    const core = this.role === 'core' ? this : this.viewCore();
    if (!core || (core.status !== 'running' && !(duringBoot && core === this))) {
      throw new Error(`${this.name}: no running core node, the write stalls`);
    }
    const cores = [core, ...EmqxNode.livePeersOf(core)];
    const names = new Set(cores.map((c) => c.name));
    const replicants = this.fabric
      .all()
      .filter((r) => r.role === 'replicant' && r.attachedTo !== undefined && names.has(r.attachedTo));
    for (const n of [...cores, ...replicants]) {
      for (const op of ops) {
        if (op.value === undefined) n.db.delete(op.table, op.key);
        else n.db.put(op.table, op.key, op.value);
      }
      n.persistDb();
    }
  }

  dbRead(table: string, key: string): JsonValue | undefined {
    return this.db.get(table, key);
  }

  dbList(table: string): Array<[string, JsonValue]> {
    return this.db.list(table);
  }

  apiKeys(): StoredApiKey[] {
    return this.db.list('api_keys').map(([, v]) => v as unknown as StoredApiKey);
  }

  // =============================================================================================================
  // Config at runtime

  /** Applies roots accepted by `PUT /configs` to this node (each node of the cluster runs this). */
  applyConfigRoots(accepted: HoconObject, mode: PutMode): void {
    this.raw = applyRoots(this.raw, accepted, mode, this.facts);
    this.clusterOverrides = nextClusterOverrides(this.clusterOverrides, accepted, mode);
    this.#store?.saveClusterHocon(this.clusterOverrides);
    this.#checkLicense();
    if (this.role === 'core' && this.status === 'running') this.#scheduleAutoclean();
  }

  /** The nodes a cluster-wide config change reaches from here. */
  configTargets(): EmqxNode[] {
    const nodes = this.runningNodes();
    return nodes.includes(this) ? nodes : [this, ...nodes];
  }

  // =============================================================================================================
  // Load

  /** False once the eviction agent refuses new connections, or when the app is not running. */
  acceptsNewClients(): boolean {
    if (this.status !== 'running') return false;
    if (this.evacuation && this.evacuation.state !== 'waiting_health_check') return false;
    if (this.donorOf !== undefined) {
      const coord = this.fabric.byName(this.donorOf);
      if (coord?.rebalance && coord.rebalance.state !== 'wait_health_check') return false;
    }
    return true;
  }

  /** True while an evacuation or a rebalance (as donor) runs on this node: availability_check answers 503. */
  evictionAgentOn(): boolean {
    return this.evacuation !== undefined || this.donorOf !== undefined;
  }

  setClients(opts: { connections: number; sessions?: number; cleanStart?: boolean }): void {
    const c = Math.max(0, Math.floor(opts.connections));
    const s = Math.max(c, Math.floor(opts.sessions ?? c));
    this.load.clean = opts.cleanStart ? c : 0;
    this.load.persistent = opts.cleanStart ? 0 : c;
    this.load.detached = s - c;
  }

  connectClients(n: number, cleanStart: boolean): number {
    if (!this.acceptsNewClients() || n <= 0) return 0;
    if (cleanStart) this.load.clean += n;
    else this.load.persistent += n;
    return n;
  }

  disconnectClients(n: number, dropSessions: boolean): number {
    let k = Math.min(n, this.load.counted);
    const fromClean = Math.min(k, this.load.clean);
    this.load.clean -= fromClean;
    k -= fromClean;
    this.load.persistent -= k;
    if (!dropSessions) this.load.detached += k;
    return fromClean + k;
  }

  /**
   * Disconnects up to `k` connected clients; they reconnect to `targets` (spread evenly, least loaded first) and
   * take their sessions along. With no target, clean-start clients are gone and persistent sessions stay here,
   * disconnected. Returns how many were evicted.
   */
  evictConnections(k: number, targets: EmqxNode[]): number {
    const want = Math.max(0, Math.floor(k));
    // real MQTT clients are told to use another server and reconnect by themselves (their sessions stay here)
    const real = this.mqtt.evictConnections(want, this.evacuation?.opts.redirectTo);
    return real + this.#evictCounted(want - real, targets);
  }

  #evictCounted(k: number, targets: EmqxNode[]): number {
    const n = Math.min(Math.max(0, Math.floor(k)), this.load.counted);
    const clean = Math.min(n, this.load.clean);
    const persistent = n - clean;
    this.load.clean -= clean;
    this.load.persistent -= persistent;
    if (targets.length === 0) {
      this.load.detached += persistent;
      return n;
    }
    spread(targets, clean, (t, c) => (t.load.clean += c));
    spread(targets, persistent, (t, c) => (t.load.persistent += c));
    return n;
  }

  /** Moves up to `k` disconnected persistent sessions to `targets`. Returns how many moved. */
  migrateSessions(k: number, targets: EmqxNode[]): number {
    if (targets.length === 0) return 0;
    const real = this.mqtt.migrateSessions(
      Math.max(0, Math.floor(k)),
      targets.map((t) => t.mqtt),
    );
    return real + this.#migrateCounted(k - real, targets);
  }

  #migrateCounted(k: number, targets: EmqxNode[]): number {
    const n = Math.min(Math.max(0, Math.floor(k)), this.load.detached);
    this.load.detached -= n;
    spread(targets, n, (t, c) => (t.load.detached += c));
    return n;
  }

  /** Starts the 1 s tick that drives evacuation and rebalance. */
  ensureTicker(): void {
    if (this.#ticker) return;
    this.#ticker = this.clock.setRepeating(1000, () => this.#tick());
  }

  #tick(): void {
    const now = this.clock.now();
    if (this.status === 'running') {
      if (!this.faults.holdEvacuation) this.evacuation?.tick(now);
      if (this.rebalance && !this.rebalance.tick(now)) this.endRebalance('completed');
    }
    const evacuationActive = this.evacuation !== undefined && !this.evacuation.done;
    if (!evacuationActive && !this.rebalance) {
      this.#ticker?.cancel();
      this.#ticker = undefined;
    }
  }

  startEvacuation(evac: Evacuation): void {
    this.evacuation = evac;
    this.#store?.saveEvacuation(evac.toJSON());
    this.log('info', 'node evacuation started');
    this.ensureTicker();
  }

  stopEvacuation(): void {
    this.evacuation = undefined;
    this.#store?.saveEvacuation(undefined);
    this.log('info', 'node evacuation stopped');
  }

  startRebalance(r: Rebalance): void {
    this.rebalance = r;
    for (const d of r.donors) {
      const n = this.fabric.byName(d);
      if (n) n.donorOf = this.name;
    }
    this.log(
      'info',
      `rebalance started: donors ${r.donors.join(', ')}, recipients ${r.recipients.join(', ')}`,
    );
    this.ensureTicker();
  }

  endRebalance(why: string): void {
    const r = this.rebalance;
    if (!r) return;
    this.rebalance = undefined;
    for (const d of r.donors) {
      const n = this.fabric.byName(d);
      if (n && n.donorOf === this.name) n.donorOf = undefined;
    }
    this.log('info', `rebalance ${why}`);
  }

  // =============================================================================================================
  // Stop, crash, faults

  crash(code: number, reason: string): void {
    this.#finish(code, reason);
  }

  stopApp(): void {
    if (this.status !== 'running') return;
    this.status = 'app_stopped';
    this.#dropMqtt();
    if (this.role === 'core') this.fabric.downSince.set(this.name, this.clock.now());
    this.log('warning', 'emqx application stopped');
    this.fabric.topologyChanged();
  }

  startApp(): void {
    if (this.status !== 'app_stopped') return;
    this.status = 'booting';
    this.#setTimer('restart', this.timing.joinRestartMs, () => {
      if (this.role === 'replicant' && this.attachedTo === undefined) {
        this.#startAttachLoop();
        return;
      }
      this.#appsUp(false);
    });
  }

  /** SIGTERM (graceful) or SIGKILL. Does not leave the cluster (that is the preStop hook's job). */
  async shutdown(graceful: boolean): Promise<void> {
    if (this.status === 'exited') return;
    if (graceful && this.status !== 'stopping') {
      this.status = 'stopping';
      if (this.role === 'core') this.fabric.downSince.set(this.name, this.clock.now());
      this.log('info', 'received SIGTERM, shutting down');
      this.fabric.topologyChanged();
      await this.clock.sleep(this.timing.stopMs);
    }
    this.#finish(graceful ? 0 : 137, graceful ? 'stopped' : 'killed');
  }

  #finish(code: number, reason: string): void {
    if (this.status === 'exited') return;
    const wasRegistered = this.fabric.all().includes(this);
    // where this node's clients go: the other nodes it sees, before it disappears
    const others = wasRegistered
      ? this.runningNodes().filter((n) => n !== this && n.acceptsNewClients())
      : [];
    this.status = 'exited';
    const held = { connections: this.load.live, sessions: this.load.sessions };
    this.log(
      code === 0 ? 'info' : 'error',
      `${reason}; exit code ${code}; ${held.connections} clients connected, ${held.sessions} sessions`,
    );
    if (wasRegistered && (held.connections > 0 || held.sessions > 0)) {
      this.fabric.recordExit({
        node: this.name,
        pod: this.podKey,
        at: new Date().toISOString(),
        code,
        reason,
        ...held,
        ...(this.evacuation && { evacuation: this.evacuation.state }),
      });
    }
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
    this.ds.stop();
    this.#ticker?.cancel();
    this.#ticker = undefined;
    if (this.rebalance) this.endRebalance('aborted: the coordinator stopped');
    if (wasRegistered) this.fabric.recordDropped(this.podKey.split('/')[0] ?? '', this.load.live);
    void this.mqtt.stop(code === 0);
    if (this.fabric.reconnectOnNodeLoss && others.length > 0) {
      spread(others, this.load.clean, (t, c) => (t.load.clean += c));
      spread(others, this.load.persistent, (t, c) => (t.load.persistent += c));
    }
    this.load = new Load(this.mqtt);
    this.#store?.flush();
    if (wasRegistered) {
      this.fabric.unregister(this);
      if (this.role === 'core') this.fabric.downSince.set(this.name, this.clock.now());
      this.fabric.topologyChanged();
    }
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.close();
      server.closeAllConnections();
    }
    const secure = this.httpsServer;
    this.httpsServer = undefined;
    this.#httpsReloader?.close();
    this.#httpsReloader = undefined;
    if (secure) {
      secure.close();
      secure.closeAllConnections();
    }
    if (this.#scratchDir) fs.rmSync(this.#scratchDir, { recursive: true, force: true });
    this.#resolveExit(code);
  }

  /** The applications stop (restart, app stop): MQTT connections end and sessions are gone. */
  #dropMqtt(): void {
    const n = this.mqtt.dropAll(RC.serverUnavailable);
    if (n > 0) this.fabric.recordDropped(this.podKey.split('/')[0] ?? '', n);
  }

  /** Re-reads the status (TypeScript narrows it across awaits otherwise). */
  #gone(): boolean {
    const s: NodeStatus = this.status;
    return s === 'exited' || s === 'stopping';
  }

  #setTimer(key: string, ms: number, fn: () => void): void {
    this.#timers.get(key)?.cancel();
    const t = this.clock.setTimer(ms, () => {
      if (this.#timers.get(key) === t) this.#timers.delete(key);
      if (this.status === 'exited') return;
      fn();
    });
    this.#timers.set(key, t);
  }
}

class StartError extends Error {}

function byName(a: EmqxNode, b: EmqxNode): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Adds `count` items over `targets`, evenly, the first targets getting the remainder. */
function spread(targets: EmqxNode[], count: number, add: (t: EmqxNode, c: number) => void): void {
  if (count <= 0 || targets.length === 0) return;
  const base = Math.floor(count / targets.length);
  let rest = count - base * targets.length;
  for (const t of targets) {
    const c = base + (rest > 0 ? 1 : 0);
    if (rest > 0) rest--;
    if (c > 0) add(t, c);
  }
}
