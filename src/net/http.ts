// The operator's HTTP client: one request over node:http / node:https, with what every caller needs and nothing
// more (the Kubernetes REST client, the informers' watches, the EMQX REST client).
//
//   const r = await request(url, { method: 'GET', headers, agent, timeoutMs: 5000, maxBodyBytes: 8 << 20 });
//   const w = await stream(url, { headers, agent, timeoutMs: 30_000, signal });  // for await (const chunk of w.body)
//
// - Connections are pooled and kept alive by the `agent` given (one per TLS material, made with `keepAliveAgent`);
//   without one, by a shared keep-alive agent per protocol (system CAs). An idle pooled connection is closed after
//   IDLE_SOCKET_MS; connections per origin are not limited (as undici's Agent before).
// - `timeoutMs` bounds the whole exchange: connecting, the answer's headers and, for `request`, its whole body. For
//   `stream` it bounds the time to the headers; the caller ends the body (its own idle timer, `signal`).
// - `signal` aborts at any point, the body of a stream included; the error is the signal's reason.
// - `request` reads at most `maxBodyBytes` (a declared Content-Length above it fails before reading anything).
// - Errors: `HttpTimeoutError` (name `TimeoutError`), `HttpBodyTooLargeError`, the signal's reason, or Node's own
//   network error (its `code`: ECONNREFUSED, ECONNRESET, a TLS verification code...).
//
// Why not fetch: Node's global fetch (and Response, Headers) loads Node's bundled copy of undici (~18 MiB of RSS),
// and the undici package costs ~6 MiB more than node:http in the image and parses HTTP with WebAssembly, which
// keeps V8's --lite-mode and --jitless out of reach.

import type * as Http from 'node:http';
import https from 'node:https';

/**
 * node:http, for every module of the operator (the observability server too): taken through
 * process.getBuiltinModule, never `import http from 'node:http'`. An ESM import of a built-in reads every export,
 * and node:http's WebSocket, CloseEvent and MessageEvent are getters that load Node's bundled undici (a ~750 KiB
 * source string and its objects, several MiB); require() or getBuiltinModule leave them untouched.
 */
export const nodeHttp = process.getBuiltinModule('node:http');
const http = nodeHttp;

/** How long a pooled connection may stay idle before it is closed (undici's default keep-alive timeout). */
export const IDLE_SOCKET_MS = 4000;
/** The TCP keep-alive probe delay on pooled connections (client-go uses 30 s). */
export const TCP_KEEPALIVE_MS = 30_000;
/** The body budget when a request names none. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export const USER_AGENT = 'emqx-operator';

export type HttpAgent = Http.Agent;

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent with a Content-Length. */
  body?: string | Uint8Array;
  /** An http.Agent for http URLs, an https.Agent for https ones (see keepAliveAgent). */
  agent?: HttpAgent;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** `request` only; default DEFAULT_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: Http.IncomingHttpHeaders;
  /** The body as UTF-8 text. */
  body: string;
}

export interface HttpStream {
  status: number;
  headers: Http.IncomingHttpHeaders;
  /** Async-iterable Buffers; destroy() it (or break out of the loop) to stop early. */
  body: Http.IncomingMessage;
}

export class HttpTimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export class HttpBodyTooLargeError extends Error {
  readonly status: number;
  readonly limit: number;
  constructor(status: number, limit: number) {
    super(`HTTP ${status}: body larger than ${limit} bytes`);
    this.name = 'HttpBodyTooLargeError';
    this.status = status;
    this.limit = limit;
  }
}

/** TLS (or plain) options of a connection pool; `https: false` makes an http.Agent. */
export interface AgentOptions extends https.AgentOptions {
  https?: boolean;
}

/** A keep-alive connection pool with this module's idle and TCP keep-alive settings, plus `opts` (TLS material). */
export function keepAliveAgent(opts: AgentOptions = {}): HttpAgent {
  const { https: secure = true, ...rest } = opts;
  const o = {
    keepAlive: true,
    keepAliveMsecs: TCP_KEEPALIVE_MS,
    keepAliveInitialDelay: TCP_KEEPALIVE_MS,
    // Node applies it to the sockets of this agent; only an idle (pooled) one is closed when it fires
    timeout: IDLE_SOCKET_MS,
    ...rest,
  };
  return secure ? new https.Agent(o) : new http.Agent(o);
}

/**
 * Closes a pool gracefully, as undici's close() did: its idle connections now, each busy one once its answer has
 * been read; new requests must go to another pool.
 */
export function retireAgent(agent: HttpAgent): void {
  agent.keepSocketAlive = () => false;
  for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
}

let sharedHttp: HttpAgent | undefined;
let sharedHttps: HttpAgent | undefined;
const sharedAgent = (secure: boolean): HttpAgent =>
  secure ? (sharedHttps ??= keepAliveAgent()) : (sharedHttp ??= keepAliveAgent({ https: false }));

/** Sends one request and reads its whole body (within `timeoutMs` and `maxBodyBytes`). */
export async function request(url: URL | string, opts: HttpOptions = {}): Promise<HttpResponse> {
  const { res, body } = await send(url, opts, true);
  return { status: res.statusCode ?? 0, headers: res.headers, body: body!.toString('utf8') };
}

/** Sends one request and resolves with the answer's headers and its body as a stream. */
export async function stream(url: URL | string, opts: HttpOptions = {}): Promise<HttpStream> {
  const { res } = await send(url, opts, false);
  return { status: res.statusCode ?? 0, headers: res.headers, body: res };
}

function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error('the request was aborted');
  e.name = 'AbortError';
  return e;
}

function send(
  url: URL | string,
  o: HttpOptions,
  whole: boolean,
): Promise<{ res: Http.IncomingMessage; body?: Buffer }> {
  return new Promise((resolve, reject) => {
    const target = typeof url === 'string' ? new URL(url) : url;
    const secure = target.protocol === 'https:';
    if (!secure && target.protocol !== 'http:') {
      reject(new Error(`${target.protocol} URLs are not supported`));
      return;
    }
    if (o.signal?.aborted) {
      reject(abortReason(o.signal));
      return;
    }
    const max = o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...o.headers };
    const payload = typeof o.body === 'string' ? Buffer.from(o.body) : o.body;
    if (payload !== undefined) headers['Content-Length'] = String(payload.byteLength);
    let settled = false;
    let res: Http.IncomingMessage | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => stop(abortReason(o.signal!));
    const cleanup = () => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    };
    const stop = (err: Error) => {
      req.destroy(err);
      res?.destroy(err);
      cleanup();
      if (!settled) {
        settled = true;
        reject(err);
      }
    };
    const done = (value: { res: Http.IncomingMessage; body?: Buffer }) => {
      if (settled) return;
      settled = true;
      resolve(value);
    };

    const req = (secure ? https : http).request(target, {
      method: o.method ?? 'GET',
      headers,
      agent: o.agent ?? sharedAgent(secure),
    });
    req.on('error', stop);
    if (o.timeoutMs !== undefined) {
      const ms = o.timeoutMs;
      timer = setTimeout(() => stop(new HttpTimeoutError(ms)), ms);
    }
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('response', (r: Http.IncomingMessage) => {
      res = r;
      r.on('error', stop);
      if (!whole) {
        clearTimeout(timer);
        r.on('close', cleanup);
        done({ res: r });
        return;
      }
      const declared = Number(r.headers['content-length']);
      if (Number.isFinite(declared) && declared > max) {
        stop(new HttpBodyTooLargeError(r.statusCode ?? 0, max));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      r.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > max) stop(new HttpBodyTooLargeError(r.statusCode ?? 0, max));
        else chunks.push(chunk);
      });
      r.on('end', () => {
        cleanup();
        done({ res: r, body: Buffer.concat(chunks, size) });
      });
      r.on('close', () => {
        if (!settled)
          stop(
            Object.assign(new Error('the connection closed before the answer ended'), { code: 'ECONNRESET' }),
          );
      });
    });
    req.end(payload);
  });
}
