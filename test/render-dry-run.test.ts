// Every rendered object is valid Kubernetes, and the CRDs validate EMQX resources at admission: the output of
// `emqx-operator render` for every example, and the examples themselves, go to the sandbox's real API server with
// a server-side dry run (admission, defaulting, OpenAPI and CEL validation, nothing stored).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { KUBECTL } from './support/sandbox.ts';
import { useOperatorSandbox } from './support/operator.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const EXAMPLES = readdirSync(path.join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

// The operator runs so that the v2alpha1 example can be converted by its webhook.
const sb = useOperatorSandbox();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

const render = (file: string, ns: string) =>
  run(process.execPath, [path.join(ROOT, 'src/cli/main.ts'), 'render', '-f', `examples/${file}`, '-n', ns]);
const kubectl = (args: string[], input?: string) =>
  run(KUBECTL, ['--kubeconfig', sb.sandbox.kubeconfigPath, ...args], input);

const DRY_RUN_APPLY = ['apply', '--server-side', '--dry-run=server', '--validate=strict'];

/** How kubectl names an object in its output: `statefulset.apps/emqx-core`, `secret/emqx-node-cookie`. */
function kubectlName(o: { apiVersion: string; kind: string; metadata: { name: string } }): string {
  const group = o.apiVersion.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '';
  return `${o.kind.toLowerCase()}${group}/${o.metadata.name}`;
}

/** Warnings the API server sent back (kubectl prints them on stderr as `Warning: ...`). */
const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('Warning:'));

/** An EMQX resource (v2beta1) with the given spec additions, as YAML. */
function emqx(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name },
    spec: { image: 'emqx/emqx:5.8.3', ...spec },
  });
}

describe('render: every example renders to objects the API server accepts', () => {
  it('finds the examples', () => {
    assert.ok(EXAMPLES.length >= 5, `examples/: ${EXAMPLES.join(', ')}`);
    assert.ok(EXAMPLES.includes('v2alpha1.yaml'));
  });

  for (const file of EXAMPLES) {
    it(file, async (t) => {
      const ns = await sb.newNamespace(t, 'render');
      const r = await render(file, ns);
      assert.equal(r.code, 0, `render -f examples/${file} failed: ${r.stderr}`);
      const docs = parseAllDocuments(r.stdout)
        .map((d) => d.toJSON() as { apiVersion: string; kind: string; metadata: { name: string } })
        .filter((d) => d !== null);
      const kinds = new Set(docs.map((d) => d.kind));
      for (const k of ['Secret', 'ConfigMap', 'Service', 'StatefulSet', 'PodDisruptionBudget'])
        assert.ok(kinds.has(k), `${file} renders a ${k}`);

      const k = await kubectl([...DRY_RUN_APPLY, '-f', '-'], r.stdout);
      assert.equal(k.code, 0, `the API server refused objects rendered from ${file}:\n${k.stderr}`);
      assert.deepEqual(warnings(k.stderr), [], `warnings for objects rendered from ${file}`);
      assert.deepEqual(
        k.stdout.trim().split('\n').sort(),
        docs.map((d) => `${kubectlName(d)} serverside-applied (server dry run)`).sort(),
        'every rendered document is accepted in a dry run',
      );

      // A dry run stores nothing.
      const sts = docs.find((d) => d.kind === 'StatefulSet')!;
      await assert.rejects(
        sb.api.get(`/apis/apps/v1/namespaces/${ns}/statefulsets/${sts.metadata.name}`),
        /HTTP 404/,
      );
    });
  }
});

describe('CRDs: the API server accepts every example', () => {
  for (const file of EXAMPLES) {
    it(file, async (t) => {
      const ns = await sb.newNamespace(t, 'crd');
      const source = parseAllDocuments(readFileSync(path.join(ROOT, 'examples', file), 'utf8'))
        .map((d) => d.toJSON() as { apiVersion: string; kind: string; metadata: { name: string } })
        .filter((d) => d !== null);
      assert.equal(source.length, 1, `${file} holds one resource`);
      const name = source[0]!.metadata.name;

      const k = await kubectl([...DRY_RUN_APPLY, '-n', ns, '-f', `examples/${file}`]);
      assert.equal(k.code, 0, `the API server refused examples/${file}:\n${k.stderr}`);
      assert.equal(k.stdout.trim(), `emqx.apps.emqx.io/${name} serverside-applied (server dry run)`);
      if (source[0]!.apiVersion === 'apps.emqx.io/v2alpha1') {
        assert.deepEqual(warnings(k.stderr), [
          'Warning: apps.emqx.io/v2alpha1 EMQX is deprecated; use apps.emqx.io/v2beta1 (`emqx-operator render` converts manifests)',
        ]);
      } else {
        assert.deepEqual(warnings(k.stderr), [], `warnings for examples/${file}`);
      }

      // The dry run answers with the object as it would be stored: schema defaults applied by the server.
      const json = await kubectl([...DRY_RUN_APPLY, '-n', ns, '-f', `examples/${file}`, '-o', 'json']);
      assert.equal(json.code, 0, json.stderr);
      const obj = JSON.parse(json.stdout);
      assert.equal(obj.apiVersion, source[0]!.apiVersion);
      assert.equal(obj.metadata.namespace, ns);
      if (obj.apiVersion === 'apps.emqx.io/v2beta1') {
        assert.equal(obj.spec.clusterDomain, 'cluster.local');
      } else {
        // Converted to v2beta1 by the webhook and back: the same spec.
        assert.deepEqual(obj.spec, (source[0] as { spec?: unknown }).spec);
      }

      await assert.rejects(
        sb.api.get(`/apis/apps.emqx.io/v2beta1/namespaces/${ns}/emqxes/${name}`),
        /HTTP 404/,
      );
    });
  }
});

describe('CRDs: the API server rejects invalid EMQX resources, naming the field', () => {
  it('replicas below the minimum (OpenAPI minimum)', async (t) => {
    const ns = await sb.newNamespace(t, 'bad');
    const core = await kubectl(
      [...DRY_RUN_APPLY, '-n', ns, '-f', '-'],
      emqx('bad', { coreTemplate: { spec: { replicas: -1 } } }),
    );
    assert.notEqual(core.code, 0);
    assert.match(
      core.stderr,
      /spec\.coreTemplate\.spec\.replicas: Invalid value: -1: .*should be greater than or equal to 1/,
    );
    const replicant = await kubectl(
      [...DRY_RUN_APPLY, '-n', ns, '-f', '-'],
      emqx('bad', { replicantTemplate: { spec: { replicas: -1 } } }),
    );
    assert.notEqual(replicant.code, 0);
    assert.match(
      replicant.stderr,
      /spec\.replicantTemplate\.spec\.replicas: Invalid value: -1: .*should be greater than or equal to 0/,
    );
  });

  it('a misspelt field (strict field validation; server-side apply always)', async (t) => {
    const ns = await sb.newNamespace(t, 'bad');
    const top = emqx('bad', { coreTemplat: { spec: { replicas: 2 } } });
    const nested = emqx('bad', { coreTemplate: { spec: { replica: 2 } } });

    // create/update with field validation Strict: a BadRequest naming the unknown field.
    const strict = ['create', '--dry-run=server', '--validate=strict', '-n', ns, '-f', '-'];
    const a = await kubectl(strict, top);
    assert.notEqual(a.code, 0);
    assert.match(a.stderr, /strict decoding error: unknown field "spec\.coreTemplat"/);
    const b = await kubectl(strict, nested);
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /unknown field "spec\.coreTemplate\.spec\.replica"/);

    // Server-side apply refuses fields the schema does not declare.
    const c = await kubectl([...DRY_RUN_APPLY, '-n', ns, '-f', '-'], nested);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /\.spec\.coreTemplate\.spec\.replica: field not declared in schema/);

    // Without strict validation the API server would prune the field silently: what the rejections above prevent.
    const lax = await kubectl(
      ['create', '--dry-run=server', '--validate=false', '-n', ns, '-f', '-', '-o', 'json'],
      top,
    );
    assert.equal(lax.code, 0, lax.stderr);
    assert.equal(JSON.parse(lax.stdout).spec.coreTemplat, undefined);
  });

  it('minAvailable and maxUnavailable together (CEL rule)', async (t) => {
    const ns = await sb.newNamespace(t, 'bad');
    for (const template of ['coreTemplate', 'replicantTemplate']) {
      const r = await kubectl(
        [...DRY_RUN_APPLY, '-n', ns, '-f', '-'],
        emqx('bad', { [template]: { spec: { minAvailable: 1, maxUnavailable: 1 } } }),
      );
      assert.notEqual(r.code, 0, template);
      assert.match(
        r.stderr,
        new RegExp(
          `spec\\.${template}\\.spec\\.maxUnavailable: Forbidden: minAvailable and maxUnavailable are mutually exclusive`,
        ),
      );
      // Either one alone is fine.
      const ok = await kubectl(
        [...DRY_RUN_APPLY, '-n', ns, '-f', '-'],
        emqx('good', { [template]: { spec: { maxUnavailable: 1 } } }),
      );
      assert.equal(ok.code, 0, ok.stderr);
    }
  });
});
