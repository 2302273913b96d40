// How a request reaches the Kubernetes API server: the server URL, the TLS settings (one keep-alive connection
// pool, a node:https Agent made by ../net/http.ts, so connections are reused) and the credentials of each request (headers). The operator loads only this, not
// client-node's KubeConfig: importing that class loads every generated API model and client (~80 MiB of RSS,
// BENCHMARKS.md), of which the operator uses none.
//
// `KubeconfigAccess` covers what the operator's own loader (./config.ts) resolves: a server (https, or http only
// with insecure-skip-tls-verify, as client-node requires), a CA (file or data) or insecure-skip-tls-verify, a TLS
// server name, and a client certificate/key (file or data), a bearer token, a token file (re-read at most every
// 60 s, so a rotated projected service-account token is picked up as client-go does), or basic auth. CA and client
// certificate/key files are read again on the same schedule: when their content changed (and the new pair loads),
// later requests go through a new connection pool that uses it; the old pool is closed a little later.
// Anything else in a kubeconfig (exec plugins, auth providers, impersonation, proxies) is handed to client-node's
// KubeConfig, loaded only then (`ClientNodeAccess`), so those kubeconfigs keep working as before.

import fs from 'node:fs';
import tls from 'node:tls';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { keepAliveAgent, retireAgent, type HttpAgent } from '../net/http.ts';

/** What one request needs: its credentials and the connection pool to send it through. */
export interface PreparedRequest {
  headers: Record<string, string>;
  /** An http.Agent for an http server, an https.Agent for an https one; omitted: a shared pool. */
  agent?: HttpAgent;
}

export interface KubeAccess {
  /** The API server's base URL, no trailing slash. */
  readonly server: string;
  /** Headers and connection pool for one request (re-reads a rotated token when due). */
  prepare(): Promise<PreparedRequest>;
}

/** How long a token read from a file is used before the file is read again (client-go: 1 minute). */
export const TOKEN_FILE_TTL_MS = 60_000;

/** How long a replaced connection pool stays open for requests that were handed it just before. */
const RETIRED_POOL_GRACE_MS = 30_000;

export interface KubeconfigAccessOptions {
  server: string;
  /** PEM CA bundle that signs the server's certificate; omitted: the system's CAs. */
  ca?: Buffer;
  insecureSkipTLSVerify?: boolean;
  tlsServerName?: string;
  cert?: Buffer;
  key?: Buffer;
  /** Where `ca`, `cert` and `key` were read from, when from files: read again every TOKEN_FILE_TTL_MS. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  /** For tests: the clock the token-file and certificate-file caches use. */
  now?: () => number;
}

interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

const sameBytes = (a: Buffer | undefined, b: Buffer | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.equals(b));

export class KubeconfigAccess implements KubeAccess {
  readonly server: string;
  private readonly opts: KubeconfigAccessOptions;
  private agent: HttpAgent;
  private fileToken: { value: string; readAt: number } | undefined;
  private material: TlsMaterial;
  private materialReadAt: number;
  /** Pools replaced after a certificate file changed, closed after RETIRED_POOL_GRACE_MS (or by close()). */
  private readonly retired = new Set<HttpAgent>();

  constructor(opts: KubeconfigAccessOptions) {
    let url: URL;
    try {
      url = new URL(opts.server);
    } catch {
      throw new Error(`server "${opts.server}" is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new Error(`server "${opts.server}": only https (or http) is supported`);
    if (url.protocol === 'http:' && !opts.insecureSkipTLSVerify)
      throw new Error(`server "${opts.server}": plain http needs insecure-skip-tls-verify: true`);
    if ((opts.cert === undefined) !== (opts.key === undefined))
      throw new Error('a client certificate needs both a certificate and a key');
    this.server = opts.server.replace(/\/+$/, '');
    this.opts = opts;
    this.material = { ca: opts.ca, cert: opts.cert, key: opts.key };
    this.materialReadAt = this.now();
    this.agent = this.pool(this.material);
    if (opts.tokenFile) this.readTokenFile(); // fail at load time if it cannot be read
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private pool(m: TlsMaterial): HttpAgent {
    // keep-alive, idle close and TCP keep-alive probes (30 s, as client-go) come from keepAliveAgent
    return keepAliveAgent({
      https: this.server.startsWith('https:'),
      ...(m.ca ? { ca: m.ca } : {}),
      ...(m.cert ? { cert: m.cert, key: m.key } : {}),
      ...(this.opts.tlsServerName ? { servername: this.opts.tlsServerName } : {}),
      rejectUnauthorized: !this.opts.insecureSkipTLSVerify,
    });
  }

  /**
   * The CA and client certificate/key files, read again once the last read is older than TOKEN_FILE_TTL_MS. Changed
   * content that loads (PEM that parses, a key that matches its certificate) gets a new pool; a failed read or a
   * half-rotated pair keeps the current one until a later read.
   */
  private refreshTlsFiles(): void {
    const { caFile, certFile, keyFile } = this.opts;
    if (!caFile && !certFile && !keyFile) return;
    const now = this.now();
    if (now - this.materialReadAt < TOKEN_FILE_TTL_MS) return;
    this.materialReadAt = now;
    const cur = this.material;
    let next: TlsMaterial;
    try {
      next = {
        ca: caFile ? fs.readFileSync(caFile) : cur.ca,
        cert: certFile ? fs.readFileSync(certFile) : cur.cert,
        key: keyFile ? fs.readFileSync(keyFile) : cur.key,
      };
      if (sameBytes(next.ca, cur.ca) && sameBytes(next.cert, cur.cert) && sameBytes(next.key, cur.key))
        return;
      tls.createSecureContext(next);
    } catch {
      return;
    }
    this.material = next;
    const old = this.agent;
    this.agent = this.pool(next);
    this.retired.add(old);
    setTimeout(() => {
      if (this.retired.delete(old)) retireAgent(old);
    }, RETIRED_POOL_GRACE_MS).unref();
  }

  async prepare(): Promise<PreparedRequest> {
    this.refreshTlsFiles();
    const headers: Record<string, string> = {};
    const token = this.opts.tokenFile ? this.readTokenFile() : this.opts.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (this.opts.username !== undefined)
      headers.Authorization = `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password ?? ''}`).toString('base64')}`;
    return { headers, agent: this.agent };
  }

  /** The token file's content, read again once it is older than TOKEN_FILE_TTL_MS (a failed re-read keeps the old). */
  private readTokenFile(): string {
    const now = this.now();
    const cached = this.fileToken;
    if (cached && now - cached.readAt < TOKEN_FILE_TTL_MS) return cached.value;
    try {
      const value = fs.readFileSync(this.opts.tokenFile!, 'utf8').trim();
      this.fileToken = { value, readAt: now };
      return value;
    } catch (err) {
      if (cached) return cached.value;
      throw new Error(`token file ${this.opts.tokenFile}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Closes the pooled connections (and those of pools a certificate change replaced), busy ones once answered. */
  async close(): Promise<void> {
    const all = [this.agent, ...this.retired];
    this.retired.clear();
    for (const a of all) retireAgent(a);
  }
}

/** The parts of client-node's KubeConfig this module calls (so src/ needs only its type). */
type ClientNodeKubeConfig = Pick<KubeConfig, 'getCurrentCluster' | 'applyToHTTPSOptions'>;

/**
 * Access through a client-node KubeConfig (its auth plugins, proxies and TLS handling): for kubeconfigs the
 * operator's loader does not handle itself, and for callers that already hold a KubeConfig (the sandbox, tests).
 * Its TLS material goes into a keep-alive pool of our own (client-node's agents do not keep connections alive); a
 * cluster behind a proxy uses client-node's proxy agent.
 */
export class ClientNodeAccess implements KubeAccess {
  readonly kc: ClientNodeKubeConfig;
  private pooled: { key: string; agent: HttpAgent } | undefined;
  constructor(kc: ClientNodeKubeConfig) {
    this.kc = kc;
  }
  get server(): string {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    return cluster.server.replace(/\/+$/, '');
  }
  async prepare(): Promise<PreparedRequest> {
    const o: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(o);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.headers ?? {})) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    }
    if (o.auth && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization'))
      headers.Authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
    if (this.kc.getCurrentCluster()?.proxyUrl) return { headers, agent: o.agent as HttpAgent };
    const tlsOpts = {
      https: this.server.startsWith('https:'),
      ...(o.ca !== undefined && { ca: o.ca }),
      ...(o.cert !== undefined && { cert: o.cert }),
      ...(o.key !== undefined && { key: o.key }),
      ...(o.servername !== undefined && { servername: o.servername }),
      ...(o.rejectUnauthorized !== undefined && { rejectUnauthorized: o.rejectUnauthorized }),
    };
    const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v));
    const key = [tlsOpts.https, o.ca, o.cert, o.key, o.servername, o.rejectUnauthorized].map(text).join('\0');
    if (this.pooled?.key !== key) {
      const old = this.pooled?.agent;
      this.pooled = { key, agent: keepAliveAgent(tlsOpts) };
      if (old) setTimeout(() => retireAgent(old), RETIRED_POOL_GRACE_MS).unref();
    }
    return { headers, agent: this.pooled.agent };
  }
}

/** A client-node KubeConfig is wrapped; a KubeAccess is used as it is. */
export function toAccess(x: KubeAccess | ClientNodeKubeConfig): KubeAccess {
  return 'prepare' in x ? x : new ClientNodeAccess(x);
}
