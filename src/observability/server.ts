// The operator's probe and metrics endpoint:
//   GET /healthz  200 "ok" while the process serves requests (and the optional `healthy` callback agrees), else 500
//   GET /readyz   200 "ok" once the `ready` callback says so (caches synced, ...), else 503 with the reason
//   GET /metrics  the registry in the Prometheus text format 0.0.4; the default registry also carries prom-client's
//                 process and Node.js runtime metrics (process_*, nodejs_*: CPU, RSS, heap, GC, event-loop lag)
//
// Defaults: host 127.0.0.1, port 8080 (DEFAULT_HOST / DEFAULT_PORT). Loopback is the safe default for local runs;
// inside a cluster the Deployment must pass host 0.0.0.0 (e.g. a `--metrics-bind-address=0.0.0.0:8080` flag parsed
// with `parseBindAddress`) so that the kubelet's probes and Prometheus can reach it.

import type { AddressInfo } from 'node:net';
import { nullLogger, type Logger } from './logger.ts';
import { CONTENT_TYPE, defaultRegistry, enableProcessMetrics, type Registry } from './metrics.ts';
// node:http as ../net/http.ts takes it (not an ESM import, which loads Node's bundled undici)
import { nodeHttp as http } from '../net/http.ts';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;

/** A check result: `true`/`false`, or an object with a reason shown in the 503 body. */
export type CheckResult = boolean | { ok: boolean; reason?: string };
export type Check = () => CheckResult | Promise<CheckResult>;

export interface ObservabilityServerOptions {
  host?: string;
  /** 0 picks a free port (see `port` on the result). */
  port?: number;
  registry?: Registry;
  ready?: Check;
  healthy?: Check;
  logger?: Logger;
}

export interface ObservabilityServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Parses `host:port`, `:port` (→ default host) or `[v6]:port`. */
export function parseBindAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value.trim());
  if (!m) throw new Error(`bind address "${value}": expected host:port`);
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`bind address "${value}": bad port`);
  return { host: m[1] ?? (m[2] || DEFAULT_HOST), port };
}

async function runCheck(check: Check | undefined): Promise<{ ok: boolean; reason?: string }> {
  if (!check) return { ok: true };
  try {
    const r = await check();
    return typeof r === 'boolean' ? { ok: r } : r;
  } catch (err) {
    return { ok: false, reason: `check failed: ${(err as Error).message}` };
  }
}

export async function startObservabilityServer(
  opts: ObservabilityServerOptions = {},
): Promise<ObservabilityServer> {
  const registry = opts.registry ?? defaultRegistry;
  if (!opts.registry) enableProcessMetrics(registry);
  const log = opts.logger ?? nullLogger;
  const host = opts.host ?? DEFAULT_HOST;

  const server = http.createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      const send = (status: number, contentType: string, body: string) => {
        res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (path === '/healthz' || path === '/livez') {
        const r = await runCheck(opts.healthy);
        send(
          r.ok ? 200 : 500,
          'text/plain; charset=utf-8',
          r.ok ? 'ok\n' : `unhealthy: ${r.reason ?? 'not healthy'}\n`,
        );
      } else if (path === '/readyz') {
        const r = await runCheck(opts.ready);
        send(
          r.ok ? 200 : 503,
          'text/plain; charset=utf-8',
          r.ok ? 'ok\n' : `not ready: ${r.reason ?? 'not ready'}\n`,
        );
      } else if (path === '/metrics') {
        send(200, CONTENT_TYPE, await registry.render());
      } else {
        send(404, 'text/plain; charset=utf-8', 'not found\n');
      }
    })().catch((err: unknown) => {
      log.error('observability endpoint failed', { err });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  log.info('observability server listening', { host, port });
  return {
    host,
    port,
    url: `http://${urlHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
