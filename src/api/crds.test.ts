import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { CustomResourceDefinition } from './crds.ts';
import {
  buildCrds,
  buildEmqxCrd,
  conversionMergePatch,
  crdFiles,
  DEFAULT_WEBHOOK_SERVICE,
  DEPLOY_CRD_OPTIONS,
  EMQX_CRD_NAME,
  REBALANCE_CRD_NAME,
} from './crds.ts';
import { command, parseCrdArgs } from '../cli/commands/crds.ts';

const DEPLOY_DIR = path.resolve(import.meta.dirname, '../../deploy/crds');

type Version = {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated?: boolean;
  schema: { openAPIV3Schema: Record<string, unknown> };
  subresources?: { status?: object; scale?: Record<string, string> };
  additionalPrinterColumns?: Array<{ name: string; jsonPath: string; type: string }>;
};

function versions(crd: CustomResourceDefinition): Version[] {
  return crd.spec.versions as Version[];
}

test('the committed deploy/crds files are up to date (run `npm run crds` when this fails)', () => {
  for (const [name, content] of Object.entries(crdFiles(DEPLOY_CRD_OPTIONS))) {
    const onDisk = readFileSync(path.join(DEPLOY_DIR, name), 'utf8');
    assert.ok(onDisk === content, `deploy/crds/${name} is stale: run \`npm run crds\` and commit the result`);
  }
});

test('names, scope, versions: v2beta1 stored, v2alpha1 deprecated and served only with a webhook', () => {
  const [emqx, rebalance] = buildCrds(DEPLOY_CRD_OPTIONS);
  assert.equal(emqx.metadata.name, EMQX_CRD_NAME);
  assert.equal(emqx.metadata.name, 'emqxes.apps.emqx.io');
  assert.deepEqual(emqx.spec.names, {
    kind: 'EMQX',
    listKind: 'EMQXList',
    plural: 'emqxes',
    singular: 'emqx',
    shortNames: ['emqx'],
    categories: ['emqx-all'],
  });
  assert.equal(emqx.spec.scope, 'Namespaced');
  const [v2beta1, v2alpha1] = versions(emqx);
  assert.deepEqual([v2beta1.name, v2beta1.served, v2beta1.storage], ['v2beta1', true, true]);
  assert.deepEqual(
    [v2alpha1.name, v2alpha1.served, v2alpha1.storage, v2alpha1.deprecated],
    ['v2alpha1', true, false, true],
  );
  const [unservedBeta, unservedAlpha] = versions(buildEmqxCrd());
  assert.equal(unservedBeta.served, true);
  assert.equal(unservedAlpha.served, false, 'without a webhook v2alpha1 is not served');
  assert.deepEqual(buildEmqxCrd().spec.conversion, { strategy: 'None' });
  assert.equal(rebalance.metadata.name, REBALANCE_CRD_NAME);
  assert.deepEqual(
    versions(rebalance).map((v) => [v.name, v.served, v.storage]),
    [
      ['v2beta1', true, true],
      ['v1beta4', false, false],
    ],
  );
  for (const crd of [emqx, rebalance]) {
    for (const v of versions(crd))
      assert.deepEqual(v.subresources?.status, {}, `${crd.metadata.name} ${v.name}: status`);
  }
});

test('conversion webhook: the default Service, a URL, a CA bundle', () => {
  assert.deepEqual(buildEmqxCrd(DEPLOY_CRD_OPTIONS).spec.conversion, {
    strategy: 'Webhook',
    webhook: {
      conversionReviewVersions: ['v1'],
      clientConfig: {
        service: {
          namespace: 'emqx-operator-system',
          name: 'emqx-operator-webhook',
          path: '/convert',
          port: 443,
        },
      },
    },
  });
  assert.deepEqual(
    buildEmqxCrd({ webhook: { url: 'https://op.example:8443/convert', caBundle: 'Q0E=' } }).spec.conversion,
    {
      strategy: 'Webhook',
      webhook: {
        conversionReviewVersions: ['v1'],
        clientConfig: { url: 'https://op.example:8443/convert', caBundle: 'Q0E=' },
      },
    },
  );
  assert.throws(() => buildEmqxCrd({ webhook: { url: 'http://insecure' } }), /https/);
  assert.throws(
    () => buildEmqxCrd({ webhook: { url: 'https://a', service: DEFAULT_WEBHOOK_SERVICE } }),
    /either/,
  );
});

/** The schema node at a JSONPath-like `.a.b.c` path. */
function at(schema: Record<string, unknown>, jsonPath: string): Record<string, unknown> | undefined {
  let node: Record<string, unknown> | undefined = schema;
  for (const part of jsonPath.split('.').filter(Boolean)) {
    node = (node?.properties as Record<string, Record<string, unknown>> | undefined)?.[part];
  }
  return node;
}

/** RFC 7386 JSON merge patch, as the API server applies application/merge-patch+json. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

test('conversionMergePatch replaces the address kind of an installed CRD, as buildEmqxCrd would write it', () => {
  const url = { url: 'https://127.0.0.1:8443/convert', caBundle: 'Q0E=' };
  const service = { service: { namespace: 'ops', name: 'hook' } };
  const cases: Array<[string, object, object]> = [
    ['Service (deploy/crds) -> URL', DEPLOY_CRD_OPTIONS.webhook ?? {}, url],
    ['URL -> Service', url, service],
    ['URL -> URL without a CA', url, { url: 'https://127.0.0.1:9443/convert' }],
    ['no webhook -> URL', {}, url],
  ];
  for (const [what, from, to] of cases) {
    const installed = Object.keys(from).length > 0 ? buildEmqxCrd({ webhook: from }) : buildEmqxCrd();
    const patched = mergePatch(installed, conversionMergePatch(to)) as CustomResourceDefinition;
    assert.deepEqual(patched.spec.conversion, buildEmqxCrd({ webhook: to }).spec.conversion, what);
  }
});

test('the scale subresource points at fields that exist in the v2beta1 schema, with the right types', () => {
  const [v2beta1] = versions(buildEmqxCrd(DEPLOY_CRD_OPTIONS));
  const scale = v2beta1.subresources?.scale;
  assert.deepEqual(scale, {
    specReplicasPath: '.spec.replicantTemplate.spec.replicas',
    statusReplicasPath: '.status.replicantReplicas',
    labelSelectorPath: '.status.replicantSelector',
  });
  const schema = v2beta1.schema.openAPIV3Schema;
  assert.equal(at(schema, scale.specReplicasPath)?.type, 'integer');
  assert.equal(at(schema, scale.statusReplicasPath)?.type, 'integer');
  assert.equal(at(schema, scale.labelSelectorPath)?.type, 'string');
});

test('printer columns read fields that exist in each version', () => {
  for (const crd of buildCrds(DEPLOY_CRD_OPTIONS)) {
    for (const v of versions(crd)) {
      for (const col of v.additionalPrinterColumns ?? []) {
        if (col.jsonPath.startsWith('.metadata.')) continue;
        const node = at(v.schema.openAPIV3Schema, col.jsonPath);
        const opaqueStatus =
          col.jsonPath.startsWith('.status.') &&
          at(v.schema.openAPIV3Schema, '.status')?.['x-kubernetes-preserve-unknown-fields'];
        assert.ok(
          node || opaqueStatus,
          `${crd.metadata.name} ${v.name}: column ${col.name} reads missing ${col.jsonPath}`,
        );
      }
    }
  }
  const [v2beta1] = versions(buildEmqxCrd());
  assert.deepEqual(
    v2beta1.additionalPrinterColumns?.map((c) => `${c.name}=${c.jsonPath}`),
    [
      'Status=.status.phase',
      'Cores=.status.cores',
      'Replicants=.status.replicants',
      'Image=.spec.image',
      'Age=.metadata.creationTimestamp',
    ],
  );
});

test('each CRD stays well under the 1.5 MB object limit', () => {
  for (const crd of buildCrds(DEPLOY_CRD_OPTIONS)) {
    const json = JSON.stringify(crd).length;
    assert.ok(json < 1_000_000, `${crd.metadata.name}: ${json} bytes of JSON`);
  }
});

test('the YAML files parse back to the CRD objects', () => {
  for (const crd of buildCrds(DEPLOY_CRD_OPTIONS)) {
    const text = crdFiles(DEPLOY_CRD_OPTIONS)[`${crd.metadata.name}.yaml`];
    const docs = parseAllDocuments(text);
    assert.equal(docs.length, 1);
    assert.deepEqual(docs[0].toJS(), JSON.parse(JSON.stringify(crd)));
  }
});

test('crds command flags', () => {
  assert.deepEqual(parseCrdArgs([]).options, { webhook: { service: DEFAULT_WEBHOOK_SERVICE } });
  assert.deepEqual(parseCrdArgs(['--no-conversion']).options, {});
  assert.deepEqual(parseCrdArgs(['--webhook-url', 'https://h/convert']).options, {
    webhook: { url: 'https://h/convert' },
  });
  assert.deepEqual(
    parseCrdArgs(['--webhook-service', 'ops/hook', '--webhook-port', '9443', '--webhook-path', '/c']).options,
    {
      webhook: { service: { namespace: 'ops', name: 'hook', port: 9443, path: '/c' } },
    },
  );
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crds-test-'));
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  writeFileSync(path.join(dir, 'ca.pem'), pem);
  assert.equal(
    parseCrdArgs(['--ca-bundle-file', path.join(dir, 'ca.pem')]).options.webhook?.caBundle,
    Buffer.from(pem).toString('base64'),
  );
  writeFileSync(path.join(dir, 'bad.pem'), 'nope');
  assert.throws(() => parseCrdArgs(['--ca-bundle-file', path.join(dir, 'bad.pem')]), /no PEM certificate/);
  assert.throws(() => parseCrdArgs(['--no-conversion', '--webhook-url', 'https://x']), /cannot be combined/);
  assert.throws(
    () => parseCrdArgs(['--webhook-url', 'https://x', '--webhook-port', '1']),
    /cannot be combined/,
  );
  assert.throws(() => parseCrdArgs(['--webhook-port', '0']), /port number/);
  assert.throws(() => parseCrdArgs(['--webhook-service', 'justname']), /NAMESPACE\/NAME/);
  assert.throws(() => parseCrdArgs(['--bogus']), /Unknown option/);
  assert.equal(parseCrdArgs(['--write', '--out-dir', dir]).outDir, dir);
});

test('crds --write --out-dir writes both files; the default run prints them as one stream', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crds-write-'));
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    assert.equal(await command.run(['--write', '--out-dir', dir, '--no-conversion']), 0);
    out.length = 0;
    assert.equal(await command.run(['--no-conversion']), 0);
  } finally {
    process.stdout.write = write;
  }
  const files = crdFiles({});
  for (const [name, content] of Object.entries(files))
    assert.equal(readFileSync(path.join(dir, name), 'utf8'), content);
  const docs = parseAllDocuments(out.join(''));
  assert.deepEqual(
    docs.map((d) => (d.toJS() as CustomResourceDefinition).metadata.name),
    [EMQX_CRD_NAME, REBALANCE_CRD_NAME],
  );
});
