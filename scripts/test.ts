// Runs the whole test suite with Node's own test runner, on the Node the repo pins.
//
//   node scripts/test.ts            unit + contract tests, then the integration and end-to-end tests in test/
//   node scripts/test.ts --unit     only the tests that need no Kubernetes control plane
//   node scripts/test.ts FILE...    only the given test files
//
// Integration tests need etcd, kube-apiserver and kube-controller-manager; they are built from source on the
// first run (sandbox/build/build-k8s.sh prints its progress) and cached outside the repo.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const files = args.filter((a) => !a.startsWith('--'));

const unitGlobs = ['bin/**/*.test.ts', 'src/**/*.test.ts', 'sandbox/**/*.test.ts'];
const integrationGlobs = ['test/**/*.test.ts'];
const targets = files.length > 0 ? files : unitOnly ? unitGlobs : [...unitGlobs, ...integrationGlobs];

const env = { ...process.env };
const needsControlPlane = !unitOnly && targets.some((t) => t.startsWith('test/') || t.startsWith('./test/'));
if (needsControlPlane && !env.EMQX_SANDBOX_BIN) {
  const build = spawnSync('bash', [path.join(root, 'sandbox/build/build-k8s.sh')], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (build.status !== 0) {
    process.stderr.write(`test: building the Kubernetes binaries failed (exit ${build.status})\n`);
    process.exit(build.status ?? 1);
  }
  env.EMQX_SANDBOX_BIN = build.stdout.trim().split('\n').pop();
}

// One file at a time: every integration file starts its own control plane, and the machine has two cores. After
// the spec reporter's output, scripts/test-timings.ts lists the files by wall time (where the suite's time goes).
const reporters = [
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  `--test-reporter=${path.join(root, 'scripts/test-timings.ts')}`,
  '--test-reporter-destination=stdout',
];
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...reporters, ...targets], {
  cwd: root,
  stdio: 'inherit',
  env,
});
process.exit(result.status ?? 1);
