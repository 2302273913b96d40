// ./http.ts against local node:http / node:https servers on 127.0.0.1: status, headers and body; the body budget;
// timeouts (before the headers and while the body comes); abort (a request and a stream); keep-alive reuse and the
// idle close; TLS verified against a CA, with a client certificate and a server name; network errors keep their code.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createWebhookCertificates } from '../webhook/cert.ts';
import {
  HttpBodyTooLargeError,
  HttpTimeoutError,
  keepAliveAgent,
  request,
  retireAgent,
  stream,
  USER_AGENT,
} from './http.ts';

const servers: Array<http.Server | https.Server> = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function listen<S extends http.Server | https.Server>(server: S): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proto = server instanceof https.Server ? 'https' : 'http';
  return `${proto}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const serve = (h: http.RequestListener) => listen(http.createServer(h));

test('status, headers and body; method, request headers and body are sent as given', async () => {
  let seen: { method?: string; ua?: string; type?: string; length?: string; body: string } | undefined;
  const base = await serve((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen = {
        method: req.method,
        ua: req.headers['user-agent'],
        type: req.headers['content-type'],
        length: req.headers['content-length'],
        body,
      };
      if (req.method === 'DELETE') res.writeHead(204).end();
      else res.writeHead(201, { 'content-type': 'application/json', 'x-thing': 'yes' }).end('{"ok":"é"}');
    });
  });
  const r = await request(`${base}/x?y=1`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/merge-patch+json' },
    body: '{"a":"é"}',
    timeoutMs: 5000,
  });
  assert.equal(r.status, 201);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['x-thing'], 'yes');
  assert.equal(r.body, '{"ok":"é"}');
  assert.deepEqual(seen, {
    method: 'PATCH',
    ua: USER_AGENT,
    type: 'application/merge-patch+json',
    length: String(Buffer.byteLength('{"a":"é"}')),
    body: '{"a":"é"}',
  });
  const empty = await request(`${base}/`, { method: 'DELETE' });
  assert.equal(empty.status, 204);
  assert.equal(empty.body, '');
});

test('the body budget: a declared length above it, or a chunked body that grows past it, fails; at it, passes', async () => {
  const base = await serve((req, res) => {
    const n = Number(new URL(req.url!, 'http://x').searchParams.get('n'));
    if (req.url!.startsWith('/declared'))
      res.writeHead(200, { 'content-length': String(n) }).end('a'.repeat(n));
    else {
      res.writeHead(200); // chunked: no length known in advance
      for (let i = 0; i < n; i += 100) res.write('b'.repeat(Math.min(100, n - i)));
      res.end();
    }
  });
  await assert.rejects(
    request(`${base}/declared?n=1001`, { maxBodyBytes: 1000 }),
    (e: unknown) => e instanceof HttpBodyTooLargeError && e.status === 200 && e.limit === 1000,
  );
  await assert.rejects(request(`${base}/chunked?n=1001`, { maxBodyBytes: 1000 }), HttpBodyTooLargeError);
  assert.equal((await request(`${base}/declared?n=1000`, { maxBodyBytes: 1000 })).body.length, 1000);
  assert.equal((await request(`${base}/chunked?n=1000`, { maxBodyBytes: 1000 })).body.length, 1000);
});

test('timeoutMs bounds the wait for the headers and, for request(), the whole body', async () => {
  const base = await serve((req, res) => {
    if (req.url === '/stall-body') {
      res.writeHead(200, { 'content-length': '10' });
      res.write('12345'); // and never the rest
    } // '/silent': never answers
  });
  await assert.rejects(request(`${base}/silent`, { timeoutMs: 150 }), (e: unknown) => {
    assert.ok(e instanceof HttpTimeoutError);
    assert.equal(e.name, 'TimeoutError');
    return true;
  });
  await assert.rejects(request(`${base}/stall-body`, { timeoutMs: 150 }), HttpTimeoutError);
  // a stream is bounded up to its headers only: its body may take longer
  const s = await stream(`${base}/stall-body`, { timeoutMs: 150 });
  assert.equal(s.status, 200);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(s.body.destroyed, false, 'the stream is still open after timeoutMs');
  s.body.destroy();
  await assert.rejects(stream(`${base}/silent`, { timeoutMs: 150 }), HttpTimeoutError);
});

test('abort: a pending request rejects with the reason; an aborted stream ends its iteration with it', async () => {
  const base = await serve((req, res) => {
    if (req.url === '/watch') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED"}\n'); // then stays open
    }
  });
  const ac = new AbortController();
  const pending = request(`${base}/silent`, { signal: ac.signal });
  setTimeout(() => ac.abort(new Error('stop now')), 50);
  await assert.rejects(pending, /stop now/);

  const already = new AbortController();
  already.abort();
  await assert.rejects(request(`${base}/silent`, { signal: already.signal }), { name: 'AbortError' });

  const w = new AbortController();
  const s = await stream(`${base}/watch`, { signal: w.signal });
  const got: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const chunk of s.body) {
        got.push((chunk as Buffer).toString());
        w.abort(new Error('watch stopped'));
      }
    })(),
    /watch stopped/,
  );
  assert.deepEqual(got, ['{"type":"ADDED"}\n']);
});

test('keep-alive: sequential requests reuse one connection, an idle one is closed, a slow answer is not cut', async () => {
  const ports: number[] = [];
  let open = 0;
  const server = http.createServer((req, res) => {
    ports.push(req.socket.remotePort!);
    if (req.url === '/watch') {
      // a line, a pause longer than the idle timeout, another line
      res.writeHead(200).write('one\n');
      setTimeout(() => res.end('two\n'), 400);
      return;
    }
    const wait = req.url === '/slow' ? 400 : 0;
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'), wait);
  });
  server.on('connection', (sock: Socket) => {
    open++;
    sock.on('close', () => open--);
  });
  const base = await listen(server);
  const agent = keepAliveAgent({ https: false, timeout: 150 });
  for (let i = 0; i < 3; i++) assert.equal((await request(`${base}/`, { agent })).body, 'ok');
  assert.equal(new Set(ports).size, 1, `one connection for three requests (ports ${ports.join(',')})`);
  // an answer slower than the idle timeout still arrives on its connection
  assert.equal((await request(`${base}/slow`, { agent, timeoutMs: 5000 })).body, 'ok');
  assert.equal(new Set(ports).size, 1);
  // so is a stream that pauses longer than the idle timeout
  const lines: string[] = [];
  for await (const chunk of (await stream(`${base}/watch`, { agent })).body) lines.push(String(chunk));
  assert.deepEqual(lines, ['one\n', 'two\n']);
  // idle: closed by the client after its idle timeout (bounded wait on the server's count)
  for (let i = 0; i < 100 && open > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(open, 0, 'the idle pooled connection was closed');
  agent.destroy();
});

test('retireAgent: idle connections close at once, a busy one once its answer is read', async () => {
  let open = 0;
  const server = http.createServer((req, res) => {
    setTimeout(() => res.writeHead(200).end('done'), req.url === '/slow' ? 300 : 0);
  });
  server.on('connection', (sock: Socket) => {
    open++;
    sock.on('close', () => open--);
  });
  const base = await listen(server);
  const agent = keepAliveAgent({ https: false, timeout: 60_000 });
  await Promise.all([request(`${base}/`, { agent }), request(`${base}/`, { agent })]);
  const busy = request(`${base}/slow`, { agent, timeoutMs: 5000 });
  for (let i = 0; i < 100 && open < 2; i++) await new Promise((r) => setTimeout(r, 10));
  retireAgent(agent);
  assert.equal((await busy).body, 'done', 'the request in flight completes');
  for (let i = 0; i < 100 && open > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(open, 0, 'no connection left open');
});

test('TLS: verified against the CA and the server name, client certificate presented; a wrong CA fails', async () => {
  const server = await createWebhookCertificates({ commonName: 'api', hosts: ['kube.example.test'] });
  const client = await createWebhookCertificates({ commonName: 'operator-client', hosts: ['operator'] });
  const seen: Array<string | undefined> = [];
  const base = await listen(
    https.createServer(
      { cert: server.cert, key: server.key, ca: client.caCert, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const cn = (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN;
        seen.push(Array.isArray(cn) ? cn.join(',') : cn);
        res.writeHead(200).end('tls ok');
      },
    ),
  );
  const good = keepAliveAgent({
    ca: server.caCert,
    cert: client.cert,
    key: client.key,
    servername: 'kube.example.test',
  });
  assert.equal((await request(`${base}/`, { agent: good, timeoutMs: 5000 })).body, 'tls ok');
  assert.deepEqual(seen, ['operator-client']);

  // the certificate names kube.example.test, not 127.0.0.1: without the server name the check fails
  const noName = keepAliveAgent({ ca: server.caCert });
  await assert.rejects(request(`${base}/`, { agent: noName, timeoutMs: 5000 }), {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
  });
  const other = await createWebhookCertificates({ commonName: 'x', hosts: ['kube.example.test'] });
  const wrongCa = keepAliveAgent({ ca: other.caCert, servername: 'kube.example.test' });
  await assert.rejects(
    request(`${base}/`, { agent: wrongCa, timeoutMs: 5000 }),
    (e: unknown) => typeof (e as { code?: unknown }).code === 'string',
  );
  assert.equal(seen.length, 1, 'nothing sent over an unverified connection');
  for (const a of [good, noName, wrongCa]) a.destroy();
});

test('network errors keep their code: refused, and a connection closed in the middle of the body', async () => {
  const closed = http.createServer();
  const url = await listen(closed);
  closed.close();
  await new Promise((r) => setTimeout(r, 20));
  await assert.rejects(request(`${url}/`, { timeoutMs: 5000 }), { code: 'ECONNREFUSED' });

  const base = await serve((req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
    setTimeout(() => res.socket?.destroy(), 20);
  });
  await assert.rejects(request(`${base}/`, { timeoutMs: 5000 }), { code: 'ECONNRESET' });
});

test("the operator's module graph loads no undici: neither Node's bundled copy nor the npm package", () => {
  // a child process, so that what this test file loaded does not count
  const script = [
    "import { registerHooks } from 'node:module';",
    'const seen = [];',
    'registerHooks({ resolve(s, c, next) { const r = next(s, c); if (/[\\\\/]node_modules[\\\\/]undici[\\\\/]/.test(r.url)) seen.push(r.url); return r; } });',
    "await import('./src/controller/manager.ts');",
    "await import('./src/cli/commands/run.ts');",
    "const internal = process.moduleLoadList.filter((m) => m.includes('undici'));",
    'console.log(JSON.stringify({ internal, seen }));',
  ].join('\n');
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), { internal: [], seen: [] });
});
