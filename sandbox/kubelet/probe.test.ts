import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { V1Container } from '@kubernetes/client-node';
import type { RunningContainer } from './handler.ts';
import { ProbeLoop, ProbeTracker, probeSettings, resolvePort, runProbe } from './probe.ts';

test('probe settings take Kubernetes defaults; liveness/startup successThreshold is always 1', () => {
  assert.deepEqual(probeSettings({}, 'readiness'), {
    initialDelayMs: 0,
    periodMs: 10_000,
    timeoutMs: 1000,
    successThreshold: 1,
    failureThreshold: 3,
  });
  const s = probeSettings(
    { initialDelaySeconds: 5, periodSeconds: 2, timeoutSeconds: 3, successThreshold: 4, failureThreshold: 6 },
    'liveness',
  );
  assert.deepEqual(s, {
    initialDelayMs: 5000,
    periodMs: 2000,
    timeoutMs: 3000,
    successThreshold: 1,
    failureThreshold: 6,
  });
});

test('readiness starts failed and honours success and failure thresholds', () => {
  const t = new ProbeTracker(
    'readiness',
    probeSettings({ successThreshold: 2, failureThreshold: 3 }, 'readiness'),
  );
  assert.equal(t.result, false);
  assert.equal(t.observe(true), false, 'one success is not enough');
  assert.equal(t.observe(true), true);
  assert.equal(t.result, true);
  t.observe(false);
  t.observe(false);
  assert.equal(t.result, true, 'two failures are below the threshold');
  t.observe(true);
  t.observe(false);
  t.observe(false);
  assert.equal(t.result, true, 'a success in between resets the failure count');
  assert.equal(t.observe(false), true);
  assert.equal(t.result, false);
});

test('liveness starts successful and is exhausted after failureThreshold consecutive failures', () => {
  const t = new ProbeTracker('liveness', probeSettings({ failureThreshold: 2 }, 'liveness'));
  assert.equal(t.result, true);
  t.observe(false);
  assert.equal(t.exhausted, false);
  t.observe(false);
  assert.equal(t.exhausted, true);
  assert.equal(t.result, false);
});

test('startup succeeds on the first success and is exhausted only if it never succeeded', () => {
  const t = new ProbeTracker('startup', probeSettings({ failureThreshold: 3 }, 'startup'));
  t.observe(false);
  t.observe(false);
  assert.equal(t.exhausted, false);
  t.observe(true);
  assert.equal(t.result, true);
  const u = new ProbeTracker('startup', probeSettings({ failureThreshold: 2 }, 'startup'));
  u.observe(false);
  u.observe(false);
  assert.equal(u.exhausted, true);
});

test('ports resolve by number, numeric string or container port name', () => {
  const c: V1Container = { name: 'c', ports: [{ name: 'dashboard', containerPort: 18083 }] };
  assert.equal(resolvePort(8080, c), 8080);
  assert.equal(resolvePort('8080', c), 8080);
  assert.equal(resolvePort('dashboard', c), 18083);
  assert.equal(resolvePort('nope', c), undefined);
});

const noExec: RunningContainer = {
  exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
  stop: async () => {},
  exited: new Promise(() => {}),
};

test('httpGet probes pass on 2xx/3xx, fail on other codes and on refused connections', async (t) => {
  let code = 200;
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.url} ${req.headers['x-probe']}`);
    res.writeHead(code).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const c: V1Container = { name: 'c', ports: [{ name: 'web', containerPort: port }] };
  const probe = {
    httpGet: { port: 'web', path: '/status', httpHeaders: [{ name: 'X-Probe', value: 'yes' }] },
  };
  const target = { podIP: '127.0.0.1', container: c, running: noExec };
  assert.equal((await runProbe(probe, target, 1000)).ok, true);
  code = 302;
  assert.equal((await runProbe(probe, target, 1000)).ok, true);
  code = 503;
  const failed = await runProbe(probe, target, 1000);
  assert.equal(failed.ok, false);
  assert.match(failed.message, /503/);
  assert.deepEqual(seen, ['/status yes', '/status yes', '/status yes']);
  const closed = await runProbe({ httpGet: { port: 1 } }, target, 500);
  assert.equal(closed.ok, false);
});

test('tcpSocket probes connect to the pod IP; hosts outside 127.0.0.0/8 are refused without a connection', async (t) => {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const target = { podIP: '127.0.0.1', container: { name: 'c' }, running: noExec };
  assert.equal((await runProbe({ tcpSocket: { port } }, target, 1000)).ok, true);
  assert.equal((await runProbe({ tcpSocket: { port: 1 } }, target, 1000)).ok, false);
  const outside = await runProbe({ tcpSocket: { port, host: '10.0.0.1' } }, target, 1000);
  assert.equal(outside.ok, false);
  assert.match(outside.message, /outside the sandbox/);
  const outsideHttp = await runProbe({ httpGet: { port, host: '192.168.1.1' } }, target, 1000);
  assert.match(outsideHttp.message, /outside the sandbox/);
});

test('exec probes succeed on exit code 0 only', async () => {
  const calls: string[][] = [];
  const running: RunningContainer = {
    ...noExec,
    exec: async (cmd) => {
      calls.push(cmd);
      return { exitCode: cmd[0] === 'true' ? 0 : 1, stdout: '', stderr: '' };
    },
  };
  const target = { podIP: '127.0.0.1', container: { name: 'c' }, running };
  assert.equal((await runProbe({ exec: { command: ['true'] } }, target, 1000)).ok, true);
  assert.equal((await runProbe({ exec: { command: ['false'] } }, target, 1000)).ok, false);
  assert.deepEqual(calls, [['true'], ['false']]);
});

test('the probe loop waits initialDelaySeconds, then probes every periodSeconds', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const times: number[] = [];
    let now = 0;
    const tracker = new ProbeTracker(
      'readiness',
      probeSettings({ initialDelaySeconds: 5, periodSeconds: 2 }, 'readiness'),
    );
    const loop = new ProbeLoop(
      tracker,
      async () => {
        times.push(now);
        return { ok: true, message: '' };
      },
      () => {},
    );
    loop.start();
    const advance = async (ms: number) => {
      for (let i = 0; i < ms; i += 500) {
        now += 500;
        mock.timers.tick(500);
        await new Promise((r) => setImmediate(r));
      }
    };
    await advance(4500);
    assert.deepEqual(times, [], 'no probe before the initial delay');
    await advance(500);
    assert.deepEqual(times, [5000]);
    await advance(4000);
    assert.deepEqual(times, [5000, 7000, 9000]);
    assert.equal(tracker.result, true);
    loop.stop();
    await advance(4000);
    assert.equal(times.length, 3, 'no probe after stop');
  } finally {
    mock.timers.reset();
  }
});
