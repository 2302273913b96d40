// `npm run build`: the operator as plain JavaScript in dist/, a package of its own (dist/package.json,
// dist/bin/entrypoint.sh (the image's entry point), dist/bin/emqx-operator.js, dist/src/**/*.js; no tests, no sandbox). Node runs the .ts sources directly during
// development, but its type stripper stays loaded for the life of the process (~28 MiB of RSS, BENCHMARKS.md), so
// the container image runs this build instead. tsc does the work (tsconfig.build.json: relative `.ts` imports are
// rewritten to `.js`); the sources are type-checked on the way.
//
//   node scripts/build.ts [--out DIR]
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(ROOT, 'dist') } } });
const out = path.resolve(values.out!);

rmSync(out, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [
    path.join(ROOT, 'node_modules/typescript/bin/tsc'),
    '-p',
    path.join(ROOT, 'tsconfig.build.json'),
    '--outDir',
    out,
  ],
  { stdio: 'inherit' },
);
for (const f of ['package.json', 'package-lock.json', 'bin/entrypoint.sh'])
  copyFileSync(path.join(ROOT, f), path.join(out, f));
process.stdout.write(`built ${path.relative(process.cwd(), out) || out}\n`);
