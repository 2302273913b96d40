// The build script's own logic (job orchestration, progress, the steps after a successful build) with a stub `go`
// on PATH that "builds" small shell scripts instead of the real binaries, so it runs in a second instead of
// minutes. The stub binaries print far more than a pipe buffer on --version: a diagnostic that pipes them into a
// reader that stops early (`| head -1` under pipefail) dies of SIGPIPE here every time, as it did for new users.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const SCRIPT = path.resolve(import.meta.dirname, 'build-k8s.sh');

// A stand-in for the go command (stub-go.sh), just enough for build-k8s.sh.
const STUB_GO = path.resolve(import.meta.dirname, 'stub-go.sh');

const VERSIONS = Object.fromEntries(
  [...readFileSync(path.join(import.meta.dirname, 'versions.env'), 'utf8').matchAll(/^(\w+)=(\S+)$/gm)].map(
    (m) => [m[1]!, m[2]!],
  ),
);

function setup() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'build-k8s-test-'));
  const stubBin = path.join(dir, 'stub-bin');
  mkdirSync(stubBin);
  copyFileSync(STUB_GO, path.join(stubBin, 'go'));
  chmodSync(path.join(stubBin, 'go'), 0o755);
  const cache = path.join(dir, 'cache');
  const env = {
    ...process.env,
    PATH: `${stubBin}:${process.env.PATH}`,
    EMQX_SANDBOX_CACHE: cache,
    STUB_DIR: dir,
    STUB_CALLS: path.join(dir, 'calls.txt'),
    // The etcd server version k8s.io/kubernetes's go.mod requires, as the stub's `go mod download` reports it.
    STUB_ETCD_PINNED: VERSIONS.ETCD_VERSION!,
  };
  const run = (extra: Record<string, string> = {}) =>
    spawnSync('bash', [SCRIPT], {
      env: { ...env, ...extra },
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 64 << 20,
    });
  return { dir, cache, run, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a successful build exits 0 and prints the bin directory last, whatever the binaries print', () => {
  const { cache, run, cleanup } = setup();
  try {
    const r = run();
    assert.equal(r.status, 0, `exit ${r.status} (signal ${r.signal}); stderr:\n${r.stderr}`);
    const bin = r.stdout.trim().split('\n').pop()!;
    assert.match(bin, /k8s-[\d.]+-etcd-[\d.]+\/bin$/);
    assert.ok(bin.startsWith(cache));
    for (const b of ['etcd', 'kube-apiserver', 'kube-controller-manager'])
      assert.ok(existsSync(path.join(bin, b)), `${b} is in ${bin}`);
    // Progress a person can follow, not the go commands' chatter; that is in the build log.
    assert.doesNotMatch(r.stderr, /go: added/);
    assert.match(r.stderr, /full log: .*build\.log/);
    assert.match(r.stderr, /phases: 1\. download Go modules/);
    assert.match(r.stderr, /all built in/);
    assert.match(r.stderr, /kube-apiserver Version: stub/); // the first line of --version, once
    assert.match(r.stderr, /etcd Version: stub/);
    const buildLog = readFileSync(path.join(path.dirname(bin), 'build.log'), 'utf8');
    assert.match(buildLog, /go: added example\.com\/m300/);
  } finally {
    cleanup();
  }
});

test('diagnostics after the build may fail without failing the build', () => {
  const { run, cleanup } = setup();
  try {
    const r = run({ STUB_VERSION_FAILS: '1' });
    assert.equal(r.status, 0, `exit ${r.status}; stderr:\n${r.stderr}`);
    assert.match(r.stdout.trim().split('\n').pop()!, /\/bin$/);
  } finally {
    cleanup();
  }
});

test('etcd, kube-apiserver and kube-controller-manager come from one go build; a second run uses the cache', () => {
  const { dir, run, cleanup } = setup();
  try {
    assert.equal(run().status, 0);
    const calls = readFileSync(path.join(dir, 'calls.txt'), 'utf8').split('\n');
    const builds = calls.filter((l) => l.startsWith('build '));
    assert.equal(builds.length, 1, builds.join('\n'));
    for (const pkg of [
      'k8s.io/kubernetes/cmd/kube-apiserver',
      'k8s.io/kubernetes/cmd/kube-controller-manager',
      'go.etcd.io/etcd/server/v3',
    ])
      assert.ok(builds[0]!.split(' ').includes(pkg), `${pkg} in: ${builds[0]}`);
    // etcd is required in the Kubernetes wrapper module at the pinned version, alongside the two commands.
    const get = calls.find((l) => l.startsWith('get '))!;
    assert.match(
      get,
      new RegExp(`go\\.etcd\\.io/etcd/server/v3@v${VERSIONS.ETCD_VERSION!.replaceAll('.', '\\.')}( |$)`),
    );
    assert.match(get, /cmd\/kube-apiserver@v/);
    rmSync(path.join(dir, 'calls.txt'));
    const again = run();
    assert.equal(again.status, 0);
    assert.equal(again.stderr, '');
    assert.ok(!existsSync(path.join(dir, 'calls.txt')), 'go was not called again');
  } finally {
    cleanup();
  }
});

test('an ETCD_VERSION that is not the one Kubernetes requires stops the build and says which to set', () => {
  const { cache, run, cleanup } = setup();
  try {
    const r = run({ STUB_ETCD_PINNED: '3.5.99' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /FAILED \(downloading modules\)/);
    assert.match(r.stderr, /requires go\.etcd\.io\/etcd\/server\/v3 v3\.5\.99.*set ETCD_VERSION=3\.5\.99/);
    const bin = path.join(cache, `k8s-${VERSIONS.K8S_VERSION}-etcd-${VERSIONS.ETCD_VERSION}/bin`);
    assert.ok(!existsSync(path.join(bin, 'etcd')), 'nothing built');
  } finally {
    cleanup();
  }
});

test('a failing compile fails the build, says so and shows the end of the build log', () => {
  const { cache, run, cleanup } = setup();
  try {
    const r = run({ STUB_FAIL_BUILD: 'kube-controller-manager' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /FAILED \(compiling\)/);
    assert.match(r.stderr, /compile error: stub says no/);
    const bin = path.join(cache, `k8s-${VERSIONS.K8S_VERSION}-etcd-${VERSIONS.ETCD_VERSION}/bin`);
    for (const b of ['etcd', 'kube-apiserver', 'kube-controller-manager'])
      assert.ok(!existsSync(path.join(bin, b)), `no half-built set: ${b} absent`);
  } finally {
    cleanup();
  }
});

test('while it builds, a status line says the phase, packages compiled and the time left', () => {
  const { run, cleanup } = setup();
  try {
    const r = run({ STUB_BUILD_SLEEP: '3', BUILD_K8S_STATUS_EVERY: '1' });
    assert.equal(r.status, 0, r.stderr);
    // The stub lists 40 packages and compiles none before its sleep.
    assert.match(
      r.stderr,
      /\d+ s so far; compiling 0\/40 packages; about \d+ (s|min) left \(typical on 2 cores\)/,
    );
    assert.match(r.stderr, /compile ~\d+ packages and link 3 binaries/);
  } finally {
    cleanup();
  }
});
