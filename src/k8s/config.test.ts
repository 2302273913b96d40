import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfigError, loadKubeConfig } from './config.ts';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'kc-test-'));
}

function kubeconfig(server: string, ns?: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{name: c, cluster: {server: "' + server + '", insecure-skip-tls-verify: true}}]',
    'users: [{name: u, user: {token: t}}]',
    `contexts: [{name: ctx, context: {cluster: c, user: u${ns ? `, namespace: ${ns}` : ''}}}, {name: other, context: {cluster: c, user: u, namespace: o}}]`,
    'current-context: ctx',
    '',
  ].join('\n');
}

test('explicit path wins and must exist', () => {
  const dir = tmp();
  const f = path.join(dir, 'kc');
  fs.writeFileSync(f, kubeconfig('https://127.0.0.1:6443', 'emqx'));
  const env = { KUBECONFIG: '/nonexistent' };
  const r = loadKubeConfig({ kubeconfig: f, env, home: dir });
  assert.equal(r.source, 'flag');
  assert.equal(r.access.server, 'https://127.0.0.1:6443');
  assert.equal(r.namespace, 'emqx');
  assert.throws(() => loadKubeConfig({ kubeconfig: path.join(dir, 'nope'), env }), /does not exist/);
  const other = loadKubeConfig({ kubeconfig: f, context: 'other', env });
  assert.equal(other.namespace, 'o');
  assert.throws(
    () => loadKubeConfig({ kubeconfig: f, context: 'missing', env }),
    /context "missing" not found/,
  );
});

test('KUBECONFIG with several files merges them, the first current-context wins', () => {
  const dir = tmp();
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  fs.writeFileSync(a, kubeconfig('https://127.0.0.2:1'));
  fs.writeFileSync(
    b,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c2, cluster: {server: "https://127.0.0.3:1"}}]\n' +
      'users: [{name: u2, user: {token: x}}]\ncontexts: [{name: ctx2, context: {cluster: c2, user: u2}}]\ncurrent-context: ctx2\n',
  );
  const r = loadKubeConfig({
    env: { KUBECONFIG: [path.join(dir, 'missing'), a, b].join(path.delimiter) },
    home: dir,
  });
  assert.equal(r.source, 'KUBECONFIG');
  assert.equal(r.context, 'ctx');
  assert.ok(r.contexts.includes('ctx2'), 'the second file is merged');
});

test('in-cluster from the service-account directory', () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'token'), 'sa-token');
  fs.writeFileSync(path.join(dir, 'namespace'), 'operators\n');
  const r = loadKubeConfig({
    env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
    serviceAccountDir: dir,
    home: dir,
  });
  assert.equal(r.source, 'in-cluster');
  assert.equal(r.access.server, 'https://10.96.0.1:443');
  assert.equal(r.namespace, 'operators');
});

test('home fallback, and a clear error naming everything tried', () => {
  const home = tmp();
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const sa = path.join(home, 'no-sa');
  let err: unknown;
  try {
    loadKubeConfig({ env, home, serviceAccountDir: sa });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof KubeConfigError);
  assert.match(err.message, /KUBECONFIG: not set/);
  assert.match(err.message, /in-cluster: .*no-sa\/token missing/);
  assert.match(err.message, /\.kube\/config: missing/);
  assert.equal(err.tried.length, 3);

  fs.mkdirSync(path.join(home, '.kube'));
  fs.writeFileSync(path.join(home, '.kube', 'config'), kubeconfig('https://127.0.0.4:1'));
  const r = loadKubeConfig({ env: {}, home, serviceAccountDir: sa });
  assert.equal(r.source, 'home');
});

test('a file without a usable current context is rejected', () => {
  const dir = tmp();
  const f = path.join(dir, 'kc');
  fs.writeFileSync(f, 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n');
  assert.throws(() => loadKubeConfig({ kubeconfig: f, env: {} }), /no current-context/);
});
