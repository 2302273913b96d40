// bin/entrypoint.sh with the real node and sh: a stand-in bin/emqx-operator.js next to a copy of the script prints
// the flags and heap limit the process got, so the test sees what V8 was actually given.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const dir = mkdtempSync(path.join(os.tmpdir(), 'entrypoint-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(path.join(dir, 'bin'));
copyFileSync(path.join(import.meta.dirname, 'entrypoint.sh'), path.join(dir, 'bin/entrypoint.sh'));
writeFileSync(
  path.join(dir, 'bin/emqx-operator.js'),
  `import v8 from 'node:v8';
process.stdout.write(JSON.stringify({ execArgv: process.execArgv, args: process.argv.slice(2),
  heapLimitMiB: v8.getHeapStatistics().heap_size_limit / 2 ** 20, arenas: process.env.MALLOC_ARENA_MAX,
  wasm: typeof WebAssembly !== 'undefined' }));
`,
);
writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
// the same stand-in in the build's layout (src/cli/main.js next to bin/), as in the image
const built = path.join(dir, 'built');
mkdirSync(path.join(built, 'bin'), { recursive: true });
mkdirSync(path.join(built, 'src/cli'), { recursive: true });
for (const f of ['bin/entrypoint.sh', 'bin/emqx-operator.js', 'package.json'])
  copyFileSync(path.join(dir, f), path.join(built, f));
writeFileSync(path.join(built, 'src/cli/main.js'), '');

interface Seen {
  arenas?: string;
  wasm: boolean;
  execArgv: string[];
  args: string[];
  heapLimitMiB: number;
}

function run(env: Record<string, string>, args: string[] = ['run', '--workers=4'], root = dir) {
  const r = spawnSync('sh', [path.join(root, 'bin/entrypoint.sh'), ...args], {
    encoding: 'utf8',
    // `node` on PATH is this Node (the image's is the only one there).
    env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, ...env },
    timeout: 30_000,
  });
  return {
    status: r.status,
    stderr: r.stderr,
    seen: r.status === 0 ? (JSON.parse(r.stdout) as Seen) : undefined,
  };
}

test('without a memory limit: the image flags, no heap cap, arguments passed on', () => {
  const { status, seen } = run({});
  assert.equal(status, 0);
  assert.deepEqual(seen!.args, ['run', '--workers=4']);
  assert.ok(seen!.execArgv.includes('--max-semi-space-size=2'), seen!.execArgv.join(' '));
  assert.ok(seen!.execArgv.includes('--v8-pool-size=1'), seen!.execArgv.join(' '));
  assert.equal(seen!.arenas, '2');
  assert.equal(
    run({ MALLOC_ARENA_MAX: '4' }).seen!.arenas,
    '4',
    'a MALLOC_ARENA_MAX of the container is kept',
  );
  assert.ok(!seen!.execArgv.some((a) => a.startsWith('--max-old-space-size')), seen!.execArgv.join(' '));
  assert.ok(seen!.heapLimitMiB > 200, `heap limit ${seen!.heapLimitMiB}`);
});

test('--lite-mode by default for the build only (type stripping needs WebAssembly); EMQX_OPERATOR_LITE_MODE=false turns it off', () => {
  // a source tree never gets it, whatever the variable says
  for (const env of [{}, { EMQX_OPERATOR_LITE_MODE: 'true' }] as Array<Record<string, string>>) {
    const source = run(env).seen!;
    assert.ok(!source.execArgv.includes('--lite-mode'), source.execArgv.join(' '));
    assert.equal(source.wasm, true);
  }
  // the build: on by default and with "true"
  for (const env of [{}, { EMQX_OPERATOR_LITE_MODE: 'true' }] as Array<Record<string, string>>) {
    const { status, seen } = run({ ...env, EMQX_OPERATOR_MEMORY_LIMIT_MIB: '256' }, ['run'], built);
    assert.equal(status, 0);
    assert.ok(seen!.execArgv.includes('--lite-mode'), seen!.execArgv.join(' '));
    assert.ok(seen!.execArgv.includes('--max-old-space-size=128'), seen!.execArgv.join(' '));
    assert.deepEqual(seen!.args, ['run']);
    assert.equal(seen!.wasm, false, 'V8 took the flag: no WebAssembly');
  }
  const off = run({ EMQX_OPERATOR_LITE_MODE: 'false' }, ['run'], built).seen!;
  assert.ok(!off.execArgv.includes('--lite-mode'), off.execArgv.join(' '));
  assert.equal(off.wasm, true);
  const bad = run({ EMQX_OPERATOR_LITE_MODE: 'yes' }, ['run'], built);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /EMQX_OPERATOR_LITE_MODE must be true or false, not 'yes'/);
});

test('a 256 MiB limit caps the old generation at half of it; V8 takes it', () => {
  const { status, seen } = run({ EMQX_OPERATOR_MEMORY_LIMIT_MIB: '256' });
  assert.equal(status, 0);
  assert.ok(seen!.execArgv.includes('--max-old-space-size=128'), seen!.execArgv.join(' '));
  // The heap limit is the old generation plus the young one (a few MiB with 2 MiB semi-spaces).
  assert.ok(seen!.heapLimitMiB >= 128 && seen!.heapLimitMiB < 140, `heap limit ${seen!.heapLimitMiB}`);
});

test('the cap follows the limit and the percentage', () => {
  assert.ok(
    run({ EMQX_OPERATOR_MEMORY_LIMIT_MIB: '1024' }).seen!.execArgv.includes('--max-old-space-size=512'),
  );
  assert.ok(
    run({ EMQX_OPERATOR_MEMORY_LIMIT_MIB: '1000', EMQX_OPERATOR_HEAP_PERCENT: '25' }).seen!.execArgv.includes(
      '--max-old-space-size=250',
    ),
  );
  // Empty (a Downward API variable can be empty in other setups): no cap.
  const empty = run({ EMQX_OPERATOR_MEMORY_LIMIT_MIB: '' }).seen!;
  assert.ok(!empty.execArgv.some((a) => a.startsWith('--max-old-space-size')));
});

test('NODE_OPTIONS keeps the last word on the heap cap', () => {
  const { seen } = run({ EMQX_OPERATOR_MEMORY_LIMIT_MIB: '256', NODE_OPTIONS: '--max-old-space-size=300' });
  assert.ok(seen!.heapLimitMiB >= 300, `heap limit ${seen!.heapLimitMiB}`);
});

test('a limit or percentage that is not a whole number is refused with its name', () => {
  const bad = run({ EMQX_OPERATOR_MEMORY_LIMIT_MIB: '256Mi' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /EMQX_OPERATOR_MEMORY_LIMIT_MIB must be a whole number of MiB, not '256Mi'/);
  for (const p of ['5', '95', 'half', '']) {
    const r = run({ EMQX_OPERATOR_MEMORY_LIMIT_MIB: '256', EMQX_OPERATOR_HEAP_PERCENT: p });
    if (p === '') {
      // Empty means the default.
      assert.equal(r.status, 0);
      continue;
    }
    assert.equal(r.status, 2, p);
    assert.match(r.stderr, /EMQX_OPERATOR_HEAP_PERCENT must be a whole number from 10 to 90/);
  }
});
