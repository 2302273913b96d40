// The test-only control API of an EmqxFabric over HTTP (JSON), on a loopback port, so that another process (a
// benchmark driver, a shell) can drive the emulated nodes. It is NOT part of the EMQX API. See README.md.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EmqxFabric, NodeFaults } from './fabric.ts';
import type { JsonValue } from './store.ts';

export interface ControlServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function obj(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function num(o: Record<string, unknown>, k: string, required = false): number | undefined {
  const v = o[k];
  if (v === undefined) {
    if (required) throw new HttpError(400, `${k} is required`);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new HttpError(400, `${k} must be a number >= 0`);
  return v;
}

function requireNode(fabric: EmqxFabric, name: string): void {
  if (!fabric.byName(name)) throw new HttpError(404, `no live emulated node named ${name}`);
}

type Handler = (fabric: EmqxFabric, p: string[], q: URLSearchParams, body: unknown) => unknown;

const routes: Array<[string, RegExp, Handler]> = [
  ['GET', /^\/nodes$/, (f) => f.nodes()],
  [
    'GET',
    /^\/nodes\/([^/]+)$/,
    (f, [n]) => {
      const s = f.node(n!);
      if (!s) throw new HttpError(404, `no live emulated node named ${n}`);
      return s;
    },
  ],
  ['GET', /^\/counts$/, (f) => f.counts()],
  [
    'PUT',
    /^\/nodes\/([^/]+)\/clients$/,
    (f, [n], _q, b) => {
      requireNode(f, n!);
      const o = obj(b);
      const opts: { connections: number; sessions?: number; cleanStart?: boolean } = {
        connections: num(o, 'connections', true)!,
      };
      const s = num(o, 'sessions');
      if (s !== undefined) opts.sessions = s;
      if (o['cleanStart'] === true) opts.cleanStart = true;
      f.setClients(n!, opts);
      return f.node(n!);
    },
  ],
  [
    'POST',
    /^\/nodes\/([^/]+)\/connect$/,
    (f, [n], _q, b) => {
      requireNode(f, n!);
      const o = obj(b);
      return { accepted: f.connect(n!, num(o, 'n', true)!, { cleanStart: o['cleanStart'] === true }) };
    },
  ],
  [
    'POST',
    /^\/nodes\/([^/]+)\/disconnect$/,
    (f, [n], _q, b) => {
      requireNode(f, n!);
      const o = obj(b);
      return {
        disconnected: f.disconnect(n!, num(o, 'n', true)!, { dropSessions: o['dropSessions'] === true }),
      };
    },
  ],
  [
    'POST',
    /^\/nodes\/([^/]+)\/crash$/,
    (f, [n], _q, b) => {
      requireNode(f, n!);
      f.crash(n!, num(obj(b), 'exitCode') ?? 1);
      return {};
    },
  ],
  [
    'POST',
    /^\/nodes\/([^/]+)\/stop-app$/,
    (f, [n]) => {
      requireNode(f, n!);
      f.stopApp(n!);
      return {};
    },
  ],
  [
    'POST',
    /^\/nodes\/([^/]+)\/start-app$/,
    (f, [n]) => {
      requireNode(f, n!);
      f.startApp(n!);
      return {};
    },
  ],
  [
    'PUT',
    /^\/nodes\/([^/]+)\/faults$/,
    (f, [n], _q, b) => {
      requireNode(f, n!);
      const o = obj(b);
      const faults: NodeFaults = {};
      if (o['api'] !== undefined) {
        const a = obj(o['api']);
        faults.api = {};
        const d = num(a, 'delayMs');
        const s = num(a, 'status');
        if (d !== undefined) faults.api.delayMs = d;
        if (s !== undefined) {
          if (s < 500 || s > 599) throw new HttpError(400, 'api.status must be a 5xx code');
          faults.api.status = s;
        }
      }
      if (o['statusFail'] === true) faults.statusFail = true;
      if (o['rpcFail'] === true) faults.rpcFail = true;
      if (o['holdEvacuation'] === true) faults.holdEvacuation = true;
      f.setFaults(n!, faults);
      return faults;
    },
  ],
  [
    'DELETE',
    /^\/nodes\/([^/]+)\/faults$/,
    (f, [n]) => {
      f.clearFaults(n!);
      return {};
    },
  ],
  ['GET', /^\/partitions$/, (f) => f.partitions()],
  [
    'POST',
    /^\/partitions$/,
    (f, _p, _q, b) => {
      const o = obj(b);
      if (typeof o['a'] !== 'string') throw new HttpError(400, 'a (node name) is required');
      f.partition(o['a'], typeof o['b'] === 'string' ? o['b'] : undefined);
      return f.partitions();
    },
  ],
  [
    'DELETE',
    /^\/partitions$/,
    (f, _p, q) => {
      f.heal(q.get('a') ?? undefined, q.get('b') ?? undefined);
      return f.partitions();
    },
  ],
  [
    'GET',
    /^\/db\/([^/]+)$/,
    (f, [t], q) => {
      const n = q.get('node');
      if (!n) throw new HttpError(400, '?node= is required');
      requireNode(f, n);
      return f.dbList(n, t!);
    },
  ],
  [
    'GET',
    /^\/db\/([^/]+)\/([^/]+)$/,
    (f, [t, k], q) => {
      const n = q.get('node');
      if (!n) throw new HttpError(400, '?node= is required');
      requireNode(f, n);
      const v = f.dbGet(n, t!, k!);
      if (v === undefined) throw new HttpError(404, `no entry ${t}/${k} on ${n}`);
      return v;
    },
  ],
  [
    'PUT',
    /^\/db\/([^/]+)\/([^/]+)$/,
    (f, [t, k], q, b) => {
      const n = q.get('node');
      if (!n) throw new HttpError(400, '?node= is required');
      requireNode(f, n);
      if (b === undefined) throw new HttpError(400, 'the body must be a JSON value');
      try {
        f.dbPut(n, t!, k!, b as JsonValue);
      } catch (e) {
        throw new HttpError(409, (e as Error).message);
      }
      return {};
    },
  ],
  [
    'DELETE',
    /^\/db\/([^/]+)\/([^/]+)$/,
    (f, [t, k], q) => {
      const n = q.get('node');
      if (!n) throw new HttpError(400, '?node= is required');
      requireNode(f, n);
      try {
        f.dbDelete(n, t!, k!);
      } catch (e) {
        throw new HttpError(409, (e as Error).message);
      }
      return {};
    },
  ],
  ['GET', /^\/time$/, (f) => ({ now: f.clock.now(), timeScale: f.clock.timeScale })],
];

/** Serves the fabric's control API on `host:port` (default 127.0.0.1, a free port). Closed with the fabric. */
export async function startControlServer(
  fabric: EmqxFabric,
  opts: { port?: number; host?: string } = {},
): Promise<ControlServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!host.startsWith('127.') && host !== '::1' && host !== 'localhost') {
    throw new Error(`the control API binds to loopback addresses only, not ${host}`);
  }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://control');
      const send = (status: number, body: unknown): void => {
        const text = JSON.stringify(body ?? {});
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      };
      try {
        const path = url.pathname.replace(/\/+$/, '');
        const matching = routes.filter(([, re]) => re.test(path));
        if (matching.length === 0) return send(404, { error: `no such control endpoint: ${path}` });
        const route = matching.find(([m]) => m === req.method);
        if (!route) return send(405, { error: `method ${req.method} not allowed on ${path}` });
        const params = (route[1].exec(path) ?? []).slice(1).map((p) => decodeURIComponent(p));
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        if (raw.trim() !== '') {
          try {
            body = JSON.parse(raw);
          } catch {
            return send(400, { error: 'the body is not valid JSON' });
          }
        }
        send(200, route[2](fabric, params, url.searchParams, body));
      } catch (e) {
        if (e instanceof HttpError) send(e.status, { error: e.message });
        else send(500, { error: (e as Error).message });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  fabric.onClose(close);
  const h = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${h}:${port}`, port, close };
}
