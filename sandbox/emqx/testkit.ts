// Helpers for the emulator's own tests (no Kubernetes): hand-built ContainerContexts with temp-dir mounts, a fake
// cluster DNS, and a small HTTP client for the emulated REST API. Not used by the operator.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { ContainerContext, RunningContainer, SandboxResolver } from '../kubelet/handler.ts';
import { claimTestIp } from '../kubelet/ipam.ts';
import { DEFAULT_TIMING, ManualClock, createEmqxHandler } from './index.ts';
import type { EmqxHandler, EmqxHandlerOptions } from './index.ts';

/** Cluster DNS as a test wants it: SRV names map to pod hostnames, hostnames to IPs. */
export class FakeDns implements SandboxResolver {
  readonly clusterDomain = 'cluster.local';
  readonly srv = new Map<string, Set<string>>();
  readonly hosts = new Map<string, string>();

  add(host: string, ip: string, srvNames: string[] = []): void {
    this.hosts.set(host, ip);
    for (const s of srvNames) {
      let set = this.srv.get(s);
      if (!set) this.srv.set(s, (set = new Set()));
      set.add(host);
    }
  }

  remove(host: string): void {
    this.hosts.delete(host);
    for (const set of this.srv.values()) set.delete(host);
  }

  async resolveSrv(
    name: string,
  ): Promise<Array<{ name: string; port: number; priority: number; weight: number }>> {
    return [...(this.srv.get(name) ?? [])]
      .filter((h) => this.hosts.has(h))
      .map((h) => ({ name: h, port: 4370, priority: 0, weight: 100 }));
  }

  async resolveHost(name: string): Promise<string[]> {
    if (isIP(name)) return [name];
    const ip = this.hosts.get(name);
    return ip ? [ip] : [];
  }
}

/**
 * A fresh loopback address in 127.2.0.0/16, claimed machine-wide (../kubelet/ipam.ts): never a sandbox's pod IP,
 * never one another test process is using at the same time.
 */
export function nextIp(): string {
  return claimTestIp();
}

export interface PodInput {
  name: string;
  namespace?: string;
  image: string;
  ip?: string;
  env?: Record<string, string>;
  hostname?: string;
  subdomain?: string;
  /** Files mounted in the container (subPath-style), by container path. */
  files?: Record<string, string>;
  /** Host dir backing /opt/emqx/data (a PVC); reuse it to restart with the same data. Omit for none. */
  dataDir?: string;
}

export interface StartedNode {
  input: PodInput;
  ip: string;
  ctx: ContainerContext;
  container: RunningContainer;
  logs: string[];
  /** Base URL of the dashboard listener. */
  url: string;
}

export const HEADLESS = 'emqx-headless.default.svc.cluster.local';

/** Environment the operator gives a core pod (emqx-operator-anchor.md §2). */
export function coreEnv(
  pod: string,
  cookie = 'cookie-abc',
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    POD_NAME: pod,
    EMQX_CLUSTER__DISCOVERY_STRATEGY: 'dns',
    EMQX_CLUSTER__DNS__RECORD_TYPE: 'srv',
    EMQX_CLUSTER__DNS__NAME: HEADLESS,
    EMQX_HOST: `${pod}.${HEADLESS}`,
    EMQX_NODE__DATA_DIR: 'data',
    EMQX_NODE__ROLE: 'core',
    EMQX_NODE__COOKIE: cookie,
    EMQX_API_KEY__BOOTSTRAP_FILE: '/opt/emqx/data/bootstrap_api_key',
    EMQX_DASHBOARD__LISTENERS__HTTP__BIND: '18083',
    ...extra,
  };
}

export function replicantEnv(
  ip: string,
  cookie = 'cookie-abc',
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    EMQX_CLUSTER__DISCOVERY_STRATEGY: 'dns',
    EMQX_CLUSTER__DNS__RECORD_TYPE: 'srv',
    EMQX_CLUSTER__DNS__NAME: HEADLESS,
    EMQX_HOST: ip,
    EMQX_NODE__DATA_DIR: 'data',
    EMQX_NODE__ROLE: 'replicant',
    EMQX_NODE__COOKIE: cookie,
    EMQX_API_KEY__BOOTSTRAP_FILE: '/opt/emqx/data/bootstrap_api_key',
    EMQX_DASHBOARD__LISTENERS__HTTP__BIND: '18083',
    ...extra,
  };
}

export const API_KEY = 'test-key';
export const API_SECRET = 'test-secret-123';
export const BOOTSTRAP = `${API_KEY}:${API_SECRET}\nemqx-operator-controller:${'x'.repeat(64)}\n`;

/** A set of hand-started emulated nodes sharing one handler, DNS and temp dir. */
export class Testbed {
  readonly handler: EmqxHandler;
  readonly dns = new FakeDns();
  readonly root: string;
  readonly nodes: StartedNode[] = [];

  constructor(opts: EmqxHandlerOptions = {}) {
    this.handler = createEmqxHandler({ timeScale: 20, ...opts });
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'emqx-emu-test-'));
  }

  get fabric(): EmqxHandler['fabric'] {
    return this.handler.fabric;
  }

  /** A new empty host dir (a PVC). */
  volume(name: string): string {
    const dir = path.join(this.root, `${name}-${Math.random().toString(36).slice(2, 8)}`);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  async start(input: PodInput): Promise<StartedNode> {
    const ip = input.ip ?? nextIp();
    const ns = input.namespace ?? 'default';
    const mounts = new Map<string, string>();
    if (input.dataDir) mounts.set('/opt/emqx/data', input.dataDir);
    const fileDir = this.volume(`${input.name}-files`);
    let i = 0;
    for (const [cpath, content] of Object.entries(input.files ?? {})) {
      const host = path.join(fileDir, `f${i++}-${path.basename(cpath)}`);
      fs.writeFileSync(host, content);
      mounts.set(cpath, host);
    }
    const hostPath = (p: string): string | undefined => {
      let best: string | undefined;
      for (const m of mounts.keys()) {
        if ((p === m || p.startsWith(`${m}/`)) && (!best || m.length > best.length)) best = m;
      }
      if (best === undefined) return undefined;
      return path.join(mounts.get(best)!, p.slice(best.length));
    };
    const pod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: input.name, namespace: ns, uid: `uid-${input.name}-${Math.random()}` },
      spec: {
        containers: [{ name: 'emqx', image: input.image }],
        ...(input.hostname ? { hostname: input.hostname } : {}),
        ...(input.subdomain ? { subdomain: input.subdomain } : {}),
      },
      status: { podIP: ip },
    };
    const logs: string[] = [];
    const ctx: ContainerContext = {
      pod,
      container: pod.spec!.containers[0]!,
      podIP: ip,
      env: input.env ?? {},
      hostPath,
      restartCount: 0,
      dns: this.dns,
      log: (l) => logs.push(l),
    };
    const container = await this.handler.start(ctx);
    const started: StartedNode = { input, ip, ctx, container, logs, url: `http://${ip}:18083` };
    this.nodes.push(started);
    return started;
  }

  /** Starts a core pod as the operator wires it, registered in DNS under the headless Service. */
  async core(
    pod: string,
    opts: {
      image?: string;
      cookie?: string;
      env?: Record<string, string>;
      dataDir?: string;
      conf?: string;
    } = {},
  ): Promise<StartedNode> {
    const ip = nextIp();
    this.dns.add(`${pod}.${HEADLESS}`, ip, [HEADLESS]);
    return this.start({
      name: pod,
      image: opts.image ?? 'emqx/emqx-enterprise:5.8.3',
      ip,
      env: coreEnv(pod, opts.cookie, opts.env),
      files: {
        '/opt/emqx/data/bootstrap_api_key': BOOTSTRAP,
        ...(opts.conf === undefined ? {} : { '/opt/emqx/etc/emqx.conf': opts.conf }),
      },
      dataDir: opts.dataDir ?? this.volume(pod),
    });
  }

  async replicant(
    pod: string,
    opts: { image?: string; cookie?: string; env?: Record<string, string> } = {},
  ): Promise<StartedNode> {
    const ip = nextIp();
    return this.start({
      name: pod,
      image: opts.image ?? 'emqx/emqx-enterprise:5.8.3',
      ip,
      env: replicantEnv(ip, opts.cookie, opts.env),
      files: { '/opt/emqx/data/bootstrap_api_key': BOOTSTRAP },
      dataDir: this.volume(pod),
    });
  }

  /** Stops a node's container (SIGTERM, or SIGKILL when not graceful); drives a ManualClock meanwhile. */
  async stop(n: StartedNode, graceful = true): Promise<void> {
    const p = n.container.stop({ graceful });
    const clock = this.fabric.clock;
    if (clock instanceof ManualClock) await clock.advance(DEFAULT_TIMING.stopMs);
    await p;
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.container.stop({ graceful: false })));
    await this.fabric.close();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

export function nodeName(n: StartedNode): string {
  return n.input.env?.['EMQX_NODE__NAME'] ?? `emqx@${n.input.env?.['EMQX_HOST'] ?? n.ip}`;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** Calls the emulated REST API, with the test bootstrap key unless `auth` says otherwise. */
export async function api(
  n: StartedNode | string,
  p: string,
  opts: {
    method?: string;
    body?: string | object;
    auth?: string | null;
    headers?: Record<string, string>;
  } = {},
): Promise<ApiResponse> {
  const base = typeof n === 'string' ? n : n.url;
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth !== null) {
    headers['authorization'] =
      opts.auth ?? `Basic ${Buffer.from(`${API_KEY}:${API_SECRET}`).toString('base64')}`;
  }
  let body: string | undefined;
  if (typeof opts.body === 'string') body = opts.body;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${base}${p}`, { method: opts.method ?? 'GET', headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Polls `fn` until it returns a truthy value (which is returned) or the real-time timeout passes. */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      assert.fail(
        `timed out after ${timeoutMs}ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Names of the running nodes a node's `/api/v5/nodes` lists. */
export async function runningNames(n: StartedNode): Promise<string[]> {
  const r = await api(n, '/api/v5/nodes');
  if (r.status !== 200) return [];
  return (r.json as Array<{ node: string; node_status: string }>)
    .filter((x) => x.node_status === 'running')
    .map((x) => x.node)
    .sort();
}
