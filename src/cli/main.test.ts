import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { nodeVersionProblem, REQUIRED_MAJOR } from '../../bin/check-node.js';
import { commands } from './main.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/emqx-operator.js');
const cli = (args: string[], node = process.execPath) =>
  spawnSync(node, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });

test('--help offers exactly the commands the operator image can run, and each has its own --help', () => {
  const r = cli(['--help']);
  assert.equal(r.status, 0, r.stderr);
  const listed = [...r.stdout.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]);
  assert.deepEqual(listed, ['run', 'render', 'crds', 'version']);
  assert.deepEqual(Object.keys(commands), listed);
  assert.doesNotMatch(r.stdout, /sandbox|demo/);
  for (const name of listed) {
    const h = cli([name!, '--help']);
    assert.equal(h.status, 0, `${name} --help: ${h.stderr}`);
    assert.match(h.stdout, new RegExp(`^Usage: emqx-operator ${name}`), name);
  }
});

test('a reader that stops early (`crds | head`): exit 0 quietly, no EPIPE stack trace', async () => {
  const child = spawn(process.execPath, [BIN, 'crds'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit');
  await once(child.stdout, 'data'); // the first chunk of 1.5 MB of CRDs: the rest cannot fit in the pipe
  child.stdout.destroy();
  const [code, signal] = (await exited) as [number | null, string | null];
  assert.equal(stderr, '');
  assert.deepEqual({ code, signal }, { code: 0, signal: null });
});

test('no command, an unknown command or an unknown flag: exit 2 and the usage on stderr', () => {
  for (const args of [[], ['sandbox'], ['demo'], ['run', '--bogus'], ['crds', '--webhook-port']]) {
    const r = cli(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /Usage: emqx-operator/, args.join(' '));
  }
});

test('version prints the package version and the Node running it', () => {
  const r = cli(['version']);
  assert.equal(r.status, 0, r.stderr);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(r.stdout, `emqx-operator ${pkg.version} (Node.js ${process.version})\n`);
});

test('the Node version check: Node 24 passes, anything else gets one line saying what to run', () => {
  assert.equal(nodeVersionProblem('24.21.0', '/x/node'), undefined);
  assert.equal(nodeVersionProblem('24.0.0', '/x/node'), undefined);
  for (const v of ['20.20.2', '22.1.0', '25.0.0']) {
    const p = nodeVersionProblem(v, '/usr/bin/node');
    assert.ok(p, v);
    assert.equal(p.split('\n').length, 1);
    assert.match(p, new RegExp(`needs Node\\.js 24, not ${v.replaceAll('.', '\\.')} \\(/usr/bin/node\\)`));
    assert.match(p, /run `npm rebuild node`/);
  }
});

test('the checked major version is the one the repo pins everywhere', () => {
  const pinned = readFileSync(path.join(ROOT, '.node-version'), 'utf8').trim();
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  assert.equal(pkg.devDependencies.node, pinned);
  assert.match(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'), new RegExp(`^FROM node:${pinned}-`, 'm'));
  assert.equal(Number(pinned.split('.')[0]), REQUIRED_MAJOR);
});

// Entry points under an older Node (the machine's own, when node_modules/.bin/node is missing): one line, exit 1,
// instead of ERR_UNKNOWN_FILE_EXTENSION. Runs where such a Node is installed (Debian's /usr/bin/node here).
const olderNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
  if (!existsSync(p)) return false;
  const v = spawnSync(p, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
  return v !== '' && Number(v.split('.')[0]) !== REQUIRED_MAJOR;
});

test(
  'every entry point refuses an older Node with one line saying what to run',
  { skip: olderNode ? false : 'no Node other than 24 installed' },
  () => {
    const run = (args: string[]) =>
      spawnSync(olderNode!, args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    for (const args of [[BIN, '--help'], [BIN, 'run'], [path.join(ROOT, 'bin/check-node.js')]]) {
      const r = run(args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^emqx-operator needs Node\.js 24, not \d+\.\S+ .*run `npm rebuild node`/);
    }
  },
);

test('npm start, npm test and every script that runs TypeScript check the Node version first', () => {
  const scripts = (
    JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  assert.ok(scripts.start && scripts.test);
  for (const [name, cmd] of Object.entries(scripts)) {
    if (/\bnode\s+\S+\.ts\b/.test(cmd) || name === 'test') {
      assert.match(cmd, /^node bin\/check-node\.js && /, `npm run ${name}`);
    }
  }
});
