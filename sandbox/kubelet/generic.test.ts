import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { V1Container } from '@kubernetes/client-node';
import type { ContainerContext } from './handler.ts';
import { genericHandler, runScript, splitScript, splitWords, understood } from './generic.ts';
import { IpAllocator } from './ipam.ts';
import { mapContainerPath } from './volumes.ts';

const never = new AbortController().signal;

function fsAt(dir: string) {
  return {
    hostPath: (p: string) => mapContainerPath([{ mountPath: '/data', hostPath: dir, readOnly: false }], p),
  };
}

test('words and scripts split like a shell, honouring quotes', () => {
  assert.deepEqual(splitWords(`echo "a b" 'c d' e\\ f`), ['echo', 'a b', 'c d', 'e f']);
  assert.deepEqual(
    splitScript('test -f /x && echo "yes; no" || exit 3; true').map((p) => [p.op, p.words.join(' ')]),
    [
      [';', 'test -f /x'],
      ['&&', 'echo yes; no'],
      ['||', 'exit 3'],
      [';', 'true'],
    ],
  );
});

test('the tiny shell: true/false, exit N, test -f, cat, touch/rm against the mounted paths; unknown commands exit 127', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'generic-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fs = fsAt(dir);
  const run = (...argv: string[]) => runScript(argv, fs, never);
  assert.equal((await run('true')).exitCode, 0);
  assert.equal((await run('false')).exitCode, 1);
  assert.equal((await run('sh', '-c', 'exit 7')).exitCode, 7);
  assert.equal((await run('/bin/sh', '-c', 'true && exit 4; exit 5')).exitCode, 4);
  assert.equal((await run('test', '-f', '/data/ready')).exitCode, 1);
  writeFileSync(path.join(dir, 'ready'), 'hello\n');
  assert.equal((await run('test', '-f', '/data/ready')).exitCode, 0);
  assert.equal((await run('sh', '-c', '[ -f /data/ready ] && echo up || echo down')).stdout, 'up\n');
  assert.deepEqual(await run('cat', '/data/ready'), { exitCode: 0, stdout: 'hello\n', stderr: '' });
  assert.equal((await run('cat', '/etc/passwd')).exitCode, 1, 'unmapped paths do not exist');
  assert.equal((await run('test', '-f', '/etc/passwd')).exitCode, 1);
  assert.equal((await run('sh', '-c', 'touch /data/flag')).exitCode, 0);
  assert.ok(existsSync(path.join(dir, 'flag')));
  assert.equal((await run('rm', '-f', '/data/flag')).exitCode, 0);
  assert.ok(!existsSync(path.join(dir, 'flag')));
  const unknown = await run('curl', '-f', 'http://localhost/');
  assert.equal(unknown.exitCode, 127);
  assert.match(unknown.stderr, /not found/);
  assert.equal(understood(['sh', '-c', 'echo hi; sleep 3600']), true);
  assert.equal(understood(['emqx', 'foreground']), false);
  assert.equal(understood([]), false);
});

function ctx(
  container: V1Container,
  podIP: string,
  dir: string,
  env: Record<string, string> = {},
): ContainerContext {
  const lines: string[] = [];
  return {
    pod: { metadata: { name: 'p', namespace: 'ns' } },
    container,
    podIP,
    env,
    hostPath: fsAt(dir).hostPath,
    restartCount: 0,
    dns: { clusterDomain: 'cluster.local', resolveSrv: async () => [], resolveHost: async () => [] },
    log: (l) => lines.push(l),
  };
}

function get(ip: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: ip, port, path: '/anything', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

test('a generic container serves HTTP 200 on its ports at the pod IP, 503 while the fail file exists', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'generic-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ip = new IpAllocator().allocate('test');
  const container: V1Container = {
    name: 'web',
    image: 'nginx',
    ports: [{ containerPort: 8080 }, { containerPort: 8081 }],
  };
  const running = await genericHandler.start(
    ctx(container, ip, dir, { SANDBOX_HTTP_FAIL_IF_EXISTS: '/data/fail' }),
  );
  t.after(() => running.stop({ graceful: false }));
  assert.equal(await get(ip, 8080), 200);
  assert.equal(await get(ip, 8081), 200);
  writeFileSync(path.join(dir, 'fail'), '');
  assert.equal(await get(ip, 8080), 503);
  rmSync(path.join(dir, 'fail'));
  assert.equal(await get(ip, 8080), 200);
  assert.equal((await running.exec(['sh', '-c', 'exit 2'], 1000)).exitCode, 2);
  await running.stop({ graceful: true });
  await assert.rejects(get(ip, 8080), /ECONNREFUSED/);
});

test('a generic container whose command the tiny shell knows runs it and exits with its code', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'generic-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ip = new IpAllocator().allocate('test');
  const crash = await genericHandler.start(
    ctx({ name: 'c', image: 'busybox', command: ['sh', '-c', 'exit 3'] }, ip, dir),
  );
  assert.equal(await crash.exited, 3);
  const forever = await genericHandler.start(
    ctx({ name: 'c', image: 'busybox', command: ['emqx', 'foreground'] }, ip, dir),
  );
  const outcome = await Promise.race([
    forever.exited,
    new Promise((r) => setTimeout(() => r('still running'), 200)),
  ]);
  assert.equal(outcome, 'still running');
  await forever.stop({ graceful: true });
  const initCtx = ctx({ name: 'setup', image: 'busybox', command: ['/opt/prepare'] }, ip, dir);
  initCtx.pod = { ...initCtx.pod, spec: { initContainers: [initCtx.container], containers: [] } };
  assert.equal(
    await (
      await genericHandler.start(initCtx)
    ).exited,
    0,
    'unknown init command: exits 0 at once',
  );
  const sleeper = await genericHandler.start(
    ctx({ name: 'c', image: 'busybox', args: ['sleep', '3600'], command: [] }, ip, dir),
  );
  await sleeper.stop({ graceful: true });
  const ran = await Promise.race([
    sleeper.exited,
    new Promise((r) => setTimeout(() => r('not exited'), 100)),
  ]);
  assert.equal(ran, 'not exited', 'a stopped container does not report an exit of its own');
});
