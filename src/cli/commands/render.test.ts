import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ANNOTATION_PLACEHOLDER, render } from './render.ts';
import { EXIT_USAGE } from '../args.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const example = (name: string) => path.join(root, 'examples', name);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs render in-process; `files` are virtual files (others are read from disk), `stdin` the standard input. */
async function run(args: string[], files: Record<string, string> = {}, stdin = ''): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const code = await render(args, {
    readFile: (p) => (p in files ? files[p]! : readFileSync(p, 'utf8')),
    readStdin: () => stdin,
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
  });
  return { code, stdout, stderr };
}

type K8sObj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
};

function objects(stdout: string): K8sObj[] {
  return parseAllDocuments(stdout)
    .map((d) => {
      assert.deepEqual(d.errors, [], 'the output is valid YAML');
      return d.toJS() as K8sObj | null;
    })
    .filter((o): o is K8sObj => o !== null);
}

const find = (objs: K8sObj[], kind: string, name?: string) =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

test('seed 004 example: cores, replicants, LoadBalancer dashboard, headless Service, Secrets and ConfigMap', async () => {
  const r = await run(['-f', example('core-replicant.yaml')]);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  const objs = objects(r.stdout);
  const sts = find(objs, 'StatefulSet');
  assert.equal(sts.length, 1);
  assert.equal(sts[0]!.metadata.name, 'emqx-core');
  assert.equal(sts[0]!.spec?.replicas, 2);
  assert.equal((sts[0]!.spec?.volumeClaimTemplates as unknown[]).length, 1);
  const rs = find(objs, 'ReplicaSet');
  assert.equal(rs.length, 1);
  assert.match(rs[0]!.metadata.name, /^emqx-replicant-[a-z0-9]{1,10}$/);
  assert.equal(rs[0]!.spec?.replicas, 3);
  const dashboard = find(objs, 'Service', 'emqx-dashboard')[0]!;
  assert.equal(dashboard.spec?.type, 'LoadBalancer');
  assert.deepEqual(dashboard.spec?.selector, {
    'apps.emqx.io/instance': 'emqx',
    'apps.emqx.io/managed-by': 'emqx-operator',
    'apps.emqx.io/db-role': 'core',
  });
  assert.equal(find(objs, 'Service', 'emqx-headless')[0]!.spec?.clusterIP, 'None');
  assert.deepEqual(
    find(objs, 'Secret').map((s) => s.metadata.name),
    ['emqx-node-cookie', 'emqx-bootstrap-api-key', 'emqx-license'],
  );
  assert.equal(find(objs, 'ConfigMap', 'emqx-configs').length, 1);
  assert.deepEqual(
    objs.map((o) => o.kind),
    [
      'Secret',
      'Secret',
      'Secret',
      'ConfigMap',
      'Service',
      'StatefulSet',
      'ReplicaSet',
      'PodDisruptionBudget',
      'PodDisruptionBudget',
      'Service',
      'Service',
    ],
  );
  // The core pods get the request of the example.
  const tmpl = sts[0]!.spec?.template as { spec: { containers: { resources: unknown }[] } };
  assert.deepEqual(tmpl.spec.containers[0]!.resources, { requests: { cpu: '250m', memory: '512Mi' } });
});

test('rendered Secrets hold marked placeholders; the licence key never reaches the ConfigMap', async () => {
  const file = `apiVersion: apps.emqx.io/v2beta1
kind: EMQX
metadata: {name: lic}
spec:
  image: emqx/emqx-enterprise:5.10.0
  bootstrapAPIKeys:
    - {key: mykey, secret: MY-INLINE-SECRET}
    - secretRef:
        key: {secretName: api, secretKey: name}
        secret: {secretName: api, secretKey: value}
  config:
    data: |
      node.cookie = "REAL-COOKIE-VALUE"
      license.key = "REAL-LICENSE-KEY"
      log.console.level = info
`;
  const r = await run(['-f', 'lic.yaml'], { 'lic.yaml': file });
  assert.equal(r.code, 0, r.stderr);
  // Neither the real values nor the stand-ins render builds with may reach the output.
  for (const secret of [
    'REAL-COOKIE-VALUE',
    'REAL-LICENSE-KEY',
    'MY-INLINE-SECRET',
    'placeholder0',
    'placeholder1',
    'placeholder2',
    'placeholder3',
    'secretref1',
  ]) {
    assert.ok(!r.stdout.includes(secret), `output contains ${secret}`);
  }
  const objs = objects(r.stdout);
  for (const s of find(objs, 'Secret')) {
    assert.equal(s.data, undefined);
    assert.ok(s.metadata.annotations?.[ANNOTATION_PLACEHOLDER]);
  }
  const keys = find(objs, 'Secret', 'lic-bootstrap-api-key')[0]!.stringData!.bootstrap_api_key!;
  assert.deepEqual(keys.trimEnd().split('\n'), [
    'mykey:<spec.bootstrapAPIKeys[0].secret>',
    '<key from Secret "api", key "name">:<secret from Secret "api", key "value">',
    'emqx-operator-controller:<generated by the operator, 64 random characters>',
  ]);
  const conf = find(objs, 'ConfigMap')[0] as unknown as { data: Record<string, string> };
  assert.match(conf.data['emqx.conf']!, /level = info/);
  assert.doesNotMatch(conf.data['emqx.conf']!, /cookie|license/);
});

test('every example renders, with no owner references and a namespace on every object', async () => {
  for (const name of [
    'core-replicant.yaml',
    'v2alpha1.yaml',
    'minimal.yaml',
    'persistence-and-listeners.yaml',
    'dashboard-nodeport.yaml',
  ]) {
    const r = await run(['-f', example(name)]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const objs = objects(r.stdout);
    assert.ok(objs.length >= 8, name);
    for (const o of objs) {
      assert.equal(o.metadata.namespace, 'default', `${name} ${o.kind}/${o.metadata.name}`);
      assert.equal((o.metadata as { ownerReferences?: unknown }).ownerReferences, undefined);
    }
  }
});

test('v2alpha1 example is converted: image from emqxTemplate', async () => {
  const r = await run(['-f', example('v2alpha1.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /converted from v2alpha1/);
  const sts = find(objects(r.stdout), 'StatefulSet')[0]!;
  const tmpl = sts.spec?.template as { spec: { containers: { image: string }[] } };
  assert.equal(tmpl.spec.containers[0]!.image, 'emqx/emqx:5.0.6');
});

test('persistence-and-listeners example: PVC template and the configured listener ports', async () => {
  const r = await run(['-f', example('persistence-and-listeners.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  const objs = objects(r.stdout);
  const sts = find(objs, 'StatefulSet')[0]!;
  const claims = sts.spec?.volumeClaimTemplates as {
    spec: { storageClassName: string; resources: unknown };
  }[];
  assert.equal(claims[0]!.spec.storageClassName, 'standard');
  assert.deepEqual(claims[0]!.spec.resources, { requests: { storage: '10Gi' } });
  const listeners = find(objs, 'Service', 'emqx-persistent-listeners')[0]!;
  const ports = listeners.spec?.ports as { name: string; port: number; protocol: string }[];
  const byPort = Object.fromEntries(ports.map((p) => [`${p.port}/${p.protocol}`, p.name]));
  assert.equal(byPort['11883/TCP'], 'tcp-internal');
  assert.equal(byPort['8883/TCP'], 'ssl-default');
  assert.equal(byPort['1884/UDP']?.startsWith('mqttsn-udp'), true);
  assert.equal(byPort['8084/TCP'], undefined, 'wss is disabled in the config');
});

test('dashboard-nodeport example: user nodePorts kept, operator adds no nodePort', async () => {
  const r = await run(['-f', example('dashboard-nodeport.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  const objs = objects(r.stdout);
  const dash = find(objs, 'Service', 'emqx-nodeport-dashboard')[0]!;
  assert.equal(dash.spec?.type, 'NodePort');
  assert.deepEqual(
    (dash.spec?.ports as { nodePort?: number }[]).map((p) => p.nodePort),
    [30083],
  );
  const listeners = find(objs, 'Service', 'emqx-nodeport-listeners')[0]!;
  const ports = listeners.spec?.ports as { name: string; nodePort?: number }[];
  assert.deepEqual(
    ports.map((p) => `${p.name}:${p.nodePort ?? '-'}`),
    ['tcp-default:31883', 'ssl-default:-', 'ws-default:-', 'wss-default:-'],
  );
});

const validEmqx = (name: string, extra = '') => `apiVersion: apps.emqx.io/v2beta1
kind: EMQX
metadata:
  name: ${name}
spec:
  image: emqx/emqx:5.8.3
${extra}`;

test('replicas -1: exit 1, nothing on stdout, file/document/path/reason on stderr', async () => {
  const r = await run(['-f', 'bad.yaml'], {
    'bad.yaml': validEmqx('emqx', '  coreTemplate:\n    spec:\n      replicas: -1\n'),
  });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^bad\.yaml: document 1 \(EMQX "emqx"\): spec\.coreTemplate\.spec\.replicas: .+/m);
});

test('a misspelt field is reported with its path', async () => {
  const r = await run(['-f', 'typo.yaml'], {
    'typo.yaml': validEmqx('emqx', '  replicantTemplat:\n    spec:\n      replicas: 2\n'),
  });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /typo\.yaml: document 1 \(EMQX "emqx"\): spec\.replicantTemplat: unknown field/);
});

test('unparsable HOCON: line and column inside spec.config.data', async () => {
  const r = await run(['-f', 'hocon.yaml'], {
    'hocon.yaml': validEmqx(
      'emqx',
      '  config:\n    data: |\n      a = 1\n      b {\n        c = 0.0.0.0:1883\n      }\n',
    ),
  });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(
    r.stderr,
    /hocon\.yaml: document 1 \(EMQX "emqx"\): spec\.config\.data: line 3, column \d+: .+/,
  );
});

test('v2alpha1 HOCON errors name the v2alpha1 field', async () => {
  const doc = `apiVersion: apps.emqx.io/v2alpha1
kind: EMQX
metadata: {name: old}
spec:
  emqxTemplate:
    image: emqx/emqx:5.0.6
    bootstrapConfig: "a {"
`;
  const r = await run(['-f', 'old.yaml'], { 'old.yaml': doc });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /old\.yaml: document 1 \(EMQX "old"\): spec\.emqxTemplate\.bootstrapConfig: line 1, column \d+/,
  );
});

test('multi-document input: other kinds skipped with a note, an error in any document fails the run', async () => {
  const good = validEmqx('one');
  const other = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: side}\n';
  const ok = await run(['-f', 'multi.yaml'], {
    'multi.yaml': `${other}---\n${good}---\n${validEmqx('two')}`,
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /multi\.yaml: document 1 \(ConfigMap "side"\): skipped/);
  const sts = find(objects(ok.stdout), 'StatefulSet').map((s) => s.metadata.name);
  assert.deepEqual(sts, ['one-core', 'two-core']);

  const bad = await run(['-f', 'multi.yaml'], {
    'multi.yaml': `${good}---\n${validEmqx('two', '  coreTemplate:\n    spec:\n      replicas: -1\n')}`,
  });
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /multi\.yaml: document 2 \(EMQX "two"\): spec\.coreTemplate\.spec\.replicas/);

  const none = await run(['-f', 'cm.yaml'], { 'cm.yaml': other });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no apps\.emqx\.io EMQX resource/);
});

test('JSON and stdin input; several -f; -n fills the namespace and refuses a different one', async () => {
  const json = JSON.stringify({
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'fromjson' },
    spec: { image: 'emqx/emqx:5.8.3' },
  });
  const r = await run(['-f', '-', '--filename=b.yaml', '-n', 'prod'], { 'b.yaml': validEmqx('b') }, json);
  assert.equal(r.code, 0, r.stderr);
  const objs = objects(r.stdout);
  assert.deepEqual(
    find(objs, 'StatefulSet').map((s) => `${s.metadata.namespace}/${s.metadata.name}`),
    ['prod/fromjson-core', 'prod/b-core'],
  );
  const env = JSON.stringify(find(objs, 'StatefulSet')[0]!.spec?.template);
  assert.match(env, /fromjson-headless\.prod\.svc\.cluster\.local/);

  const clash = await run(['-f', 'c.yaml', '-n', 'prod'], {
    'c.yaml': validEmqx('c').replace('name: c', 'name: c\n  namespace: dev'),
  });
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /c\.yaml: document 1 \(EMQX "c"\): metadata\.namespace: "dev" does not match/);
});

test('invalid YAML, unreadable files and bad arguments', async () => {
  const yaml = await run(['-f', 'y.yaml'], { 'y.yaml': 'a: [\n' });
  assert.equal(yaml.code, 1);
  assert.match(yaml.stderr, /y\.yaml: document 1: invalid YAML: line \d+, column \d+: /);
  const missing = await run(['-f', '/nonexistent/x.yaml']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\/nonexistent\/x\.yaml: cannot read/);
  for (const args of [[], ['-f'], ['--bogus'], ['-f', '-', '-f', '-']]) {
    const r = await run(args);
    assert.equal(r.code, EXIT_USAGE, args.join(' '));
    assert.equal(r.stdout, '');
  }
});

test('--help prints usage and exits 0', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: emqx-operator render -f FILE/);
});

test('an EMQX name too long for its StatefulSets and ReplicaSets is refused with the reason', async () => {
  const name = 'a'.repeat(37);
  const r = await run(['-f', 'long.yaml'], { 'long.yaml': validEmqx(name) });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /metadata\.name: must be at most 36 characters .*controller-revision-hash/);
  const ok = await run(['-f', 'ok.yaml'], { 'ok.yaml': validEmqx('a'.repeat(36)) });
  assert.equal(ok.code, 0, ok.stderr);
});

test('through the CLI entry point: exit codes and streams', () => {
  const main = path.join(root, 'src/cli/main.ts');
  const ok = spawnSync(process.execPath, [main, 'render', '-f', example('minimal.yaml')], {
    encoding: 'utf8',
  });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^---\n/);
  assert.equal(find(objects(ok.stdout), 'StatefulSet').length, 1);
  const bad = spawnSync(process.execPath, [main, 'render', '-f', '-'], {
    encoding: 'utf8',
    input: validEmqx('emqx', '  coreTemplate:\n    spec:\n      replicas: -1\n'),
  });
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /<stdin>: document 1 \(EMQX "emqx"\): spec\.coreTemplate\.spec\.replicas/);
});

test('hostile input gives one clear line naming the document or field, never a stack trace', async () => {
  const aliasBomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    .concat(
      ['b', 'c', 'd', 'e', 'f', 'g'].map(
        (k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefg'[i]}`).join(',')}]`,
      ),
    )
    .join('\n');
  const cases: Array<[string, string, RegExp]> = [
    ['alias bomb', aliasBomb, /^x\.yaml: document 1: invalid YAML: aliases expand too much/],
    [
      '20k-deep YAML',
      validEmqx('emqx', `  x: ${'['.repeat(20000)}${']'.repeat(20000)}\n`),
      /^x\.yaml: document 1: invalid YAML: line \d+, column \d+: nested too deeply/,
    ],
    [
      '500-deep YAML',
      validEmqx('emqx', `  x: ${'['.repeat(500)}${']'.repeat(500)}\n`),
      /^x\.yaml: document 1: spec\.x\[0\]\[0\].*: nested deeper than 100 levels/,
    ],
    [
      '20k-deep HOCON',
      validEmqx('emqx', `  config:\n    data: "${'a{'.repeat(20000)}${'}'.repeat(20000)}"\n`),
      /^x\.yaml: document 1 \(EMQX "emqx"\): spec\.config\.data: line 1, column \d+: the key path nests deeper/,
    ],
    [
      'HOCON substitution bomb',
      validEmqx(
        'emqx',
        '  config:\n    data: |\n      c0 = "xxxxxxxxxx"\n' +
          Array.from({ length: 20 }, (_, i) => `      c${i + 1} = {l = \${c${i}}, r = \${c${i}}}\n`).join(''),
      ),
      /^x\.yaml: document 1 \(EMQX "emqx"\): spec\.config\.data: line \d+, column 7: the config expands to more than 2097152 bytes/,
    ],
    [
      'config over the admission bound',
      validEmqx('emqx', `  config:\n    data: "# ${'x'.repeat(300 * 1024)}"\n`),
      /^x\.yaml: document 1 \(EMQX "emqx"\): spec\.config\.data: must be at most 262144 characters/,
    ],
  ];
  for (const [what, text, expected] of cases) {
    const r = await run(['-f', 'x.yaml'], { 'x.yaml': text });
    assert.equal(r.code, 1, what);
    assert.equal(r.stdout, '', what);
    assert.match(r.stderr, expected, what);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
  }
});
