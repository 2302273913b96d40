import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from './metrics.ts';
import { parseBindAddress, startObservabilityServer } from './server.ts';

test('serves /healthz, /readyz (from the callback) and /metrics', async () => {
  const registry = new Registry();
  registry.counter({ name: 'x_total', help: 'x' }).inc();
  let ready: boolean | { ok: boolean; reason?: string } = { ok: false, reason: 'caches not synced' };
  const srv = await startObservabilityServer({ host: '127.0.0.1', port: 0, registry, ready: () => ready });
  try {
    assert.ok(srv.port > 0);
    let r = await fetch(`${srv.url}/healthz`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ok\n');

    r = await fetch(`${srv.url}/readyz`);
    assert.equal(r.status, 503);
    assert.match(await r.text(), /caches not synced/);
    ready = true;
    r = await fetch(`${srv.url}/readyz`);
    assert.equal(r.status, 200);
    await r.text();

    r = await fetch(`${srv.url}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(await r.text(), /^x_total 1$/m);

    r = await fetch(`${srv.url}/nope`);
    assert.equal(r.status, 404);
    await r.text();
    r = await fetch(`${srv.url}/metrics`, { method: 'POST' });
    assert.equal(r.status, 405);
    await r.text();
  } finally {
    await srv.close();
  }
});

test('a throwing ready check reports not ready instead of crashing', async () => {
  const srv = await startObservabilityServer({
    port: 0,
    registry: new Registry(),
    ready: () => {
      throw new Error('informer gone');
    },
  });
  try {
    assert.equal(srv.host, '127.0.0.1');
    const r = await fetch(`${srv.url}/readyz`);
    assert.equal(r.status, 503);
    assert.match(await r.text(), /informer gone/);
  } finally {
    await srv.close();
  }
});

test('parseBindAddress', () => {
  assert.deepEqual(parseBindAddress('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(parseBindAddress(':9090'), { host: '127.0.0.1', port: 9090 });
  assert.deepEqual(parseBindAddress('[::1]:1'), { host: '::1', port: 1 });
  assert.throws(() => parseBindAddress('8080'), /host:port/);
  assert.throws(() => parseBindAddress('h:99999'), /bad port/);
});
