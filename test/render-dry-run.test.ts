// Every rendered object is valid Kubernetes, and the CRDs validate EMQX resources at admission: the output of
// `emqx-operator render` for every example, and the examples themselves, go to the sandbox's real API server with
// a server-side dry run (admission, defaulting, OpenAPI and CEL validation, nothing stored).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { certManagerCrdTexts, resolveCertManagerCrds } from '../sandbox/cluster/cert-manager.ts';
import { KUBECTL } from './support/sandbox.ts';
import { useOperatorSandbox } from './support/operator.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/emqxes.apps.emqx.io';
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

/**
 * Waits until the operator has registered its conversion webhook on the CRD (prepareForOperator leaves a placeholder
 * address) and the API server converts through it.
 */
async function conversionReady(): Promise<void> {
  await sb.waitFor(
    'the operator to register its conversion webhook',
    async () => {
      const crd = await sb.api.get<any>(CRD);
      const url = String(crd.spec.conversion?.webhook?.clientConfig?.url);
      return url.startsWith('https://127.0.0.1:') && !url.startsWith('https://127.0.0.1:1/');
    },
    60_000,
  );
  await sb.apply(
    {
      apiVersion: 'apps.emqx.io/v2beta1',
      kind: 'EMQX',
      metadata: { name: 'probe', annotations: { 'apps.emqx.io/reconcile-paused': 'true' } },
      spec: { image: 'emqx/emqx:5.8.3' },
    },
    'default',
  );
  await sb.waitFor(
    'the API server to convert through the webhook',
    () => sb.api.get('/apis/apps.emqx.io/v2alpha1/namespaces/default/emqxes/probe'),
    30_000,
  );
}

describe('render: every example renders to objects the API server accepts', () => {
  // cert-manager's CRDs (from its Go module): a Certificate rendered from an issuerRef is checked against them.
  before(async () => {
    for (const text of certManagerCrdTexts(await resolveCertManagerCrds())) await sb.apply(text);
  });

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
      if (source[0]!.apiVersion === 'apps.emqx.io/v2alpha1') await conversionReady();

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

  it('replicas above the maximum, an oversized config and a user EMQX_NODE__COOKIE (issue 11)', async (t) => {
    const ns = await sb.newNamespace(t, 'bad');
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        { coreTemplate: { spec: { replicas: 2147483647 } } },
        /spec\.coreTemplate\.spec\.replicas: Invalid value: 2147483647: .*should be less than or equal to 32/,
      ],
      [
        { replicantTemplate: { spec: { replicas: 5000 } } },
        /spec\.replicantTemplate\.spec\.replicas: Invalid value: 5000: .*should be less than or equal to 1024/,
      ],
      [
        { config: { data: `# ${'x'.repeat(256 * 1024)}` } },
        /spec\.config\.data: Too long: may not be (more than|longer than) 262144/,
      ],
      [
        { replicantTemplate: { spec: { env: [{ name: 'EMQX_NODE__COOKIE', value: 'x' }] } } },
        /spec\.replicantTemplate\.spec\.env: Forbidden: EMQX_NODE__COOKIE cannot be set here/,
      ],
    ];
    for (const [spec, expected] of cases) {
      const r = await kubectl([...DRY_RUN_APPLY, '-n', ns, '-f', '-'], emqx('bad', spec));
      assert.notEqual(r.code, 0, JSON.stringify(spec).slice(0, 80));
      assert.match(r.stderr, expected);
    }
  });
});

describe('names: the longest EMQX name fits everything Kubernetes derives from it', () => {
  const HASH = 'x'.repeat(10); // the longest revision hash, the operator's and the StatefulSet controller's

  it('the API server refuses a name one character too long, saying why', async (t) => {
    const ns = await sb.newNamespace(t, 'names');
    const long = await kubectl([...DRY_RUN_APPLY, '-n', ns, '-f', '-'], emqx('e'.repeat(37), {}));
    assert.notEqual(long.code, 0);
    assert.match(
      long.stderr,
      /metadata\.name must be at most 36 characters .*<name>-core-<hash>.*controller-revision-hash.*<name>-replicant-<hash>/,
    );
    const ok = await kubectl([...DRY_RUN_APPLY, '-n', ns, '-f', '-'], emqx('e'.repeat(36), {}));
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('at 36 characters the pods of blue-green StatefulSets and replicant ReplicaSets are valid; at 37 not', async (t) => {
    const ns = await sb.newNamespace(t, 'names');
    const name36 = 'e'.repeat(36);
    const r = await run(
      process.execPath,
      [path.join(ROOT, 'src/cli/main.ts'), 'render', '-f', '-', '-n', ns],
      emqx(name36, { updateStrategy: { core: { type: 'BlueGreen' } }, replicantTemplate: {} }),
    );
    assert.equal(r.code, 0, r.stderr);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJSON() as Record<string, any>);
    const sts = docs.find((d) => d.kind === 'StatefulSet')!;
    const rs = docs.find((d) => d.kind === 'ReplicaSet')!;
    assert.match(sts.metadata.name, new RegExp(`^${name36}-core-[a-z0-9]+$`), 'a blue-green StatefulSet');

    for (const name of [name36, 'e'.repeat(37)]) {
      // The pod the StatefulSet controller would create for `<name>-core-<longest hash>`.
      const stsName = `${name}-core-${HASH}`;
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${stsName}-0`,
          labels: {
            ...sts.spec.template.metadata.labels,
            'controller-revision-hash': `${stsName}-${HASH}`,
            'statefulset.kubernetes.io/pod-name': `${stsName}-0`,
          },
        },
        spec: {
          ...sts.spec.template.spec,
          hostname: `${stsName}-0`,
          subdomain: `${name}-headless`,
          // The controller adds a volume per claim template, for the claim `<template>-<pod>`.
          volumes: [
            ...(sts.spec.template.spec.volumes ?? []),
            ...(sts.spec.volumeClaimTemplates ?? []).map((c: any) => ({
              name: c.metadata.name,
              persistentVolumeClaim: { claimName: `${c.metadata.name}-${stsName}-0` },
            })),
          ],
        },
      };
      const p = await kubectl(['create', '--dry-run=server', '-n', ns, '-f', '-'], JSON.stringify(pod));
      if (name === name36) assert.equal(p.code, 0, p.stderr);
      else {
        assert.notEqual(p.code, 0);
        // The controller-revision-hash label.
        assert.match(
          p.stderr,
          new RegExp(`metadata\\.labels: Invalid value: "${stsName}-${HASH}": must be no more than 63`),
        );
      }

      // The pod the ReplicaSet controller would create for `<name>-replicant-<longest hash>`.
      const rsName = `${name}-replicant-${HASH}`;
      const replicant = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { generateName: `${rsName}-`, labels: rs.spec.template.metadata.labels },
        spec: rs.spec.template.spec,
      };
      const q = await kubectl(
        ['create', '--dry-run=server', '-n', ns, '-f', '-', '-o', 'json'],
        JSON.stringify(replicant),
      );
      assert.equal(q.code, 0, q.stderr);
      const podName: string = JSON.parse(q.stdout).metadata.name;
      assert.equal(podName.length, 63);
      assert.equal(
        podName.startsWith(`${rsName}-`),
        name === name36,
        `${podName}: the pod name keeps the whole ReplicaSet name only up to 36 characters`,
      );
    }
  });

  it('a resource made under the older limit of 53 stays updatable: the rule runs on create only', async (t) => {
    const ns = await sb.newNamespace(t, 'names');
    const crd = await sb.api.get<any>(CRD);
    const v = crd.spec.versions.findIndex((x: any) => x.name === 'v2beta1');
    const at = `/spec/versions/${v}/schema/openAPIV3Schema/x-kubernetes-validations/0/rule`;
    const rule: string = crd.spec.versions[v].schema.openAPIV3Schema['x-kubernetes-validations'][0].rule;
    assert.match(rule, /<= 36/);
    const setRule = (value: string) =>
      sb.api.patch(CRD, [{ op: 'replace', path: at, value }], 'application/json-patch+json');
    // The CRD as it was: 53.
    await setRule(rule.replace('<= 36', '<= 53'));
    t.after(() => setRule(rule));
    const name = 'e'.repeat(40);
    const old = {
      apiVersion: 'apps.emqx.io/v2beta1',
      kind: 'EMQX',
      metadata: { name, annotations: { 'apps.emqx.io/reconcile-paused': 'true' } },
      spec: { image: 'emqx/emqx:5.8.3' },
    };
    await sb.waitFor('the older CRD to accept a 40-character name', async () => {
      const r = await kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], JSON.stringify(old));
      return r.code === 0;
    });

    await setRule(rule);
    await sb.waitFor('the current CRD to refuse a new 40-character name', async () => {
      const r = await kubectl(
        [...DRY_RUN_APPLY, '-n', ns, '-f', '-'],
        JSON.stringify({ ...old, metadata: { name: 'f'.repeat(40) } }),
      );
      return r.code !== 0 && /at most 36 characters/.test(r.stderr);
    });
    // The existing one: spec, finalizers and status can still be written.
    const path_ = `/apis/apps.emqx.io/v2beta1/namespaces/${ns}/emqxes/${name}`;
    const updated = await sb.api.patch<any>(path_, {
      metadata: { finalizers: ['example.com/test'] },
      spec: { clusterDomain: 'example.org' },
    });
    assert.equal(updated.spec.clusterDomain, 'example.org');
    await sb.api.patch(`${path_}/status`, { status: { phase: 'Pending' } });
    await sb.api.patch(path_, { metadata: { finalizers: null } });
    await sb.api.delete(path_);
    await sb.waitFor('the old resource to be deleted', async () => {
      try {
        await sb.api.get(path_);
        return false;
      } catch (e) {
        return /HTTP 404/.test((e as Error).message);
      }
    });
  });
});

describe('deploy/operator.yaml: the NetworkPolicy admits only the webhook, health and metrics ports', () => {
  type Doc = {
    kind: string;
    metadata: { name: string; namespace?: string };
    spec: Record<string, unknown>;
  };
  const docs = parseAllDocuments(readFileSync(path.join(ROOT, 'deploy/operator.yaml'), 'utf8')).map(
    (d) => d.toJS() as Doc,
  );

  it('selects the operator pods and names only ports their container declares', () => {
    const deploy = docs.find((d) => d.kind === 'Deployment')!;
    const policy = docs.find((d) => d.kind === 'NetworkPolicy');
    assert.ok(policy, 'deploy/operator.yaml ships a NetworkPolicy');
    const tpl = deploy.spec.template as {
      metadata: { labels: Record<string, string> };
      spec: { containers: Array<{ ports: Array<{ name: string; containerPort: number }> }> };
    };
    const selector = (policy.spec.podSelector as { matchLabels: Record<string, string> }).matchLabels;
    for (const [k, v] of Object.entries(selector)) assert.equal(tpl.metadata.labels[k], v, `label ${k}`);
    assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
    const declared = new Set(tpl.spec.containers[0]!.ports.map((p) => p.name));
    const ingress = policy.spec.ingress as Array<{ ports: Array<{ port: string }>; from: unknown[] }>;
    const admitted = ingress.flatMap((r) => r.ports.map((p) => p.port)).sort();
    assert.deepEqual(admitted, ['health', 'metrics', 'webhook']);
    for (const p of admitted) assert.ok(declared.has(p), `container port ${p}`);
    // metrics: only from namespaces that opt in, never from everywhere
    const metrics = ingress.find((r) => r.ports.some((p) => p.port === 'metrics'))!;
    assert.deepEqual(metrics.from, [
      { namespaceSelector: { matchLabels: { 'apps.emqx.io/scrape-operator-metrics': 'true' } } },
    ]);
    assert.ok(
      ingress.every((r) => r.from && r.from.length > 0),
      'every rule names its sources',
    );
  });

  it('is accepted by the API server', async (t) => {
    const ns = await sb.newNamespace(t, 'netpol');
    const policy = docs.find((d) => d.kind === 'NetworkPolicy')!;
    const r = await kubectl(
      [...DRY_RUN_APPLY, '-n', ns, '-f', '-'],
      JSON.stringify({
        apiVersion: 'networking.k8s.io/v1',
        ...policy,
        metadata: { ...policy.metadata, namespace: ns },
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(warnings(r.stderr), []);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Manifests written for the Go operator (emqx/emqx-operator): test/fixtures/go-operator holds fixtures of our own
// reproducing each released shape (v2alpha1 as released, v2beta1, its full sample, Rebalance).
// ---------------------------------------------------------------------------------------------------------------

const GO_FIXTURES = path.join(ROOT, 'test/fixtures/go-operator');
const goFixtures = readdirSync(GO_FIXTURES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const fixtureDoc = (file: string) =>
  parseAllDocuments(readFileSync(path.join(GO_FIXTURES, file), 'utf8'))[0]!.toJSON() as {
    apiVersion: string;
    kind: string;
    metadata: { name: string };
    spec: Record<string, any>;
  };

describe('Go operator manifests: each released shape renders, and the API server accepts it', () => {
  it('finds a fixture per released shape', () => {
    const shapes = goFixtures.map((f) => `${fixtureDoc(f).apiVersion} ${fixtureDoc(f).kind}`);
    for (const s of [
      'apps.emqx.io/v2alpha1 EMQX',
      'apps.emqx.io/v2beta1 EMQX',
      'apps.emqx.io/v2beta1 Rebalance',
    ])
      assert.ok(shapes.includes(s), `a fixture for ${s}: ${goFixtures.join(', ')}`);
  });

  for (const file of goFixtures) {
    it(file, async (t) => {
      const doc = fixtureDoc(file);
      const ns = await sb.newNamespace(t, 'goop');
      const fixturePath = `test/fixtures/go-operator/${file}`;
      if (doc.kind === 'EMQX') {
        const r = await run(process.execPath, [
          path.join(ROOT, 'src/cli/main.ts'),
          'render',
          '-f',
          fixturePath,
          '-n',
          ns,
        ]);
        assert.equal(r.code, 0, `render -f ${fixturePath} failed: ${r.stderr}`);
        const docs = parseAllDocuments(r.stdout)
          .map((d) => d.toJSON() as { apiVersion: string; kind: string; metadata: { name: string } })
          .filter((d) => d !== null);
        assert.ok(docs.some((d) => d.kind === 'StatefulSet'));
        const k = await kubectl([...DRY_RUN_APPLY, '-f', '-'], r.stdout);
        assert.equal(k.code, 0, `the API server refused objects rendered from ${file}:\n${k.stderr}`);
        assert.deepEqual(warnings(k.stderr), [], `warnings for objects rendered from ${file}`);
        if (doc.apiVersion === 'apps.emqx.io/v2alpha1') await conversionReady();
      }
      const k = await kubectl([...DRY_RUN_APPLY, '-n', ns, '-f', fixturePath, '-o', 'json']);
      assert.equal(k.code, 0, `the API server refused ${file}:\n${k.stderr}`);
      const stored = JSON.parse(k.stdout);
      assert.equal(stored.apiVersion, doc.apiVersion);
      if (doc.apiVersion === 'apps.emqx.io/v2alpha1') {
        // Through the webhook to v2beta1 and back: the released shape again, nothing lost.
        assert.equal(stored.spec.image, doc.spec.image);
        assert.equal(stored.spec.bootstrapConfig, doc.spec.bootstrapConfig);
        assert.equal(stored.spec.emqxTemplate, undefined);
        assert.deepEqual(stored.spec.coreTemplate.spec.replicas, doc.spec.coreTemplate.spec.replicas);
        assert.deepEqual(stored.spec.replicantTemplate, doc.spec.replicantTemplate);
      }
      if (doc.kind === 'Rebalance') assert.equal(stored.spec.instanceKind, doc.spec.instanceKind);
    });
  }

  it('a Rebalance for EmqxEnterprise is refused with what to write instead', async (t) => {
    const ns = await sb.newNamespace(t, 'goop');
    const rb = fixtureDoc('rebalance-v2beta1.yaml');
    rb.spec.instanceKind = 'EmqxEnterprise';
    const k = await kubectl([...DRY_RUN_APPLY, '-n', ns, '-f', '-'], JSON.stringify(rb));
    assert.notEqual(k.code, 0);
    assert.match(k.stderr, /spec\.instanceKind: Invalid value: .*write instanceKind: EMQX/);
  });

  it('a Rebalance CRD whose storedVersions still lists v1beta4 takes ours', async (t) => {
    const REB = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rebalances.apps.emqx.io';
    const before = await sb.api.get<any>(REB);
    assert.ok(before.spec.versions.some((v: any) => v.name === 'v1beta4' && !v.served));
    // What a cluster that ran the Go operator's v1beta4 Rebalance shows.
    await sb.api.patch(`${REB}/status`, { status: { storedVersions: ['v1beta4', 'v2beta1'] } });
    t.after(() => sb.api.patch(`${REB}/status`, { status: { storedVersions: ['v2beta1'] } }));
    const k = await kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '--dry-run=server',
      '-f',
      'deploy/crds/rebalances.apps.emqx.io.yaml',
    ]);
    assert.equal(k.code, 0, k.stderr);
    // Without v1beta4 in spec.versions the API server would refuse the CRD.
    const crd = JSON.parse(JSON.stringify(before));
    crd.spec.versions = crd.spec.versions.filter((v: any) => v.name !== 'v1beta4');
    delete crd.status;
    delete crd.metadata.managedFields;
    delete crd.metadata.resourceVersion;
    const refused = await kubectl(['replace', '--dry-run=server', '-f', '-'], JSON.stringify(crd));
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /storedVersions\[0\]: Invalid value: "v1beta4": missing from spec\.versions|must appear in spec\.versions/,
    );
  });

  it('a released-shape v2alpha1 object stored in etcd as v2alpha1 is served as v2beta1 through the webhook', async (t) => {
    await conversionReady();
    const ns = await sb.newNamespace(t, 'goop');
    const crd = await sb.api.get<any>(CRD);
    const alpha = crd.spec.versions.findIndex((v: any) => v.name === 'v2alpha1');
    const beta = crd.spec.versions.findIndex((v: any) => v.name === 'v2beta1');
    const setStorage = (alphaStored: boolean) =>
      sb.api.patch(
        CRD,
        [
          { op: 'replace', path: `/spec/versions/${alpha}/storage`, value: alphaStored },
          { op: 'replace', path: `/spec/versions/${beta}/storage`, value: !alphaStored },
        ],
        'application/json-patch+json',
      );
    // A cluster of the Go operator 2.0 stored v2alpha1.
    await setStorage(true);
    t.after(() => setStorage(false));
    const doc = fixtureDoc('v2alpha1-released-slim.yaml');
    const obj = {
      ...doc,
      metadata: { name: 'stored-alpha', annotations: { 'apps.emqx.io/reconcile-paused': 'true' } },
    };
    await sb.waitFor(
      'the object to be stored as v2alpha1',
      async () => {
        const r = await kubectl(['create', '-n', ns, '-f', '-'], JSON.stringify(obj));
        return r.code === 0 || /AlreadyExists/.test(r.stderr);
      },
      30_000,
    );
    await setStorage(false);
    const got = await sb.waitFor(
      'the stored v2alpha1 object to be read as v2beta1',
      () => sb.api.get<any>(`/apis/apps.emqx.io/v2beta1/namespaces/${ns}/emqxes/stored-alpha`),
      30_000,
    );
    assert.equal(got.apiVersion, 'apps.emqx.io/v2beta1');
    assert.equal(got.spec.image, doc.spec.image);
    assert.equal(got.spec.replicantTemplate.spec.replicas, 2);
    assert.equal(got.spec.coreTemplate.spec.replicas, 1);
    await sb.api.delete(`/apis/apps.emqx.io/v2beta1/namespaces/${ns}/emqxes/stored-alpha`);
  });
});
