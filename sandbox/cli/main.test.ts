import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { parseDemoArgs } from './demo.ts';
import { parseSandboxArgs } from './sandbox.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const cli = (args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, 'sandbox/cli/main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });

test('the sandbox CLI offers demo and sandbox, each with its --help; bad usage exits 2', () => {
  const r = cli(['--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    [...r.stdout.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]),
    ['demo', 'sandbox'],
  );
  assert.match(cli(['demo', '--help']).stdout, /--exit-when-ready/);
  assert.match(cli(['sandbox', '--help']).stdout, /--no-operator/);
  for (const args of [
    ['run'],
    ['demo', '--bogus'],
    ['sandbox', '--nodes', '0'],
    ['demo', '--timeout', 'x'],
  ]) {
    const bad = cli(args);
    assert.equal(bad.status, 2, args.join(' '));
    assert.equal(bad.stdout, '');
  }
});

test('demo flags: defaults, and the flag named in every error', () => {
  const d = parseDemoArgs([]);
  assert.equal(d.filename, path.join(ROOT, 'examples/core-replicant.yaml'));
  assert.equal(d.dir, '.sandbox');
  assert.equal(d.timeoutSeconds, 300);
  assert.equal(d.exitWhenReady, false);
  const e = parseDemoArgs(['-f', 'x.yaml', '--dir', 'd', '--timeout', '60', '--exit-when-ready']);
  assert.deepEqual(e, { filename: 'x.yaml', dir: 'd', timeoutSeconds: 60, exitWhenReady: true, help: false });
  assert.throws(() => parseDemoArgs(['--timeout', '0']), /--timeout/);
  assert.throws(() => parseDemoArgs(['--nope']), /--nope/);
  assert.equal(parseDemoArgs(['-h']).help, true);
});

test('sandbox flags: defaults, and the flag named in every error', () => {
  const s = parseSandboxArgs([]);
  assert.equal(s.nodes, 3);
  assert.equal(s.clusterDomain, 'cluster.local');
  assert.equal(s.operator, true);
  assert.equal(parseSandboxArgs(['--no-operator']).operator, false);
  assert.throws(() => parseSandboxArgs(['--nodes', '51']), /--nodes/);
  assert.throws(() => parseSandboxArgs(['--cluster-domain', 'Bad_Domain']), /--cluster-domain/);
});
