import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ANNOTATION_V2ALPHA1_RELEASED } from './conversion-released.ts';
import { convertReview, toV2alpha1, toV2beta1 } from './conversion.ts';
import type { EMQX, EMQXV2Alpha1Released } from './types.ts';
import { formatIssues, validateEMQX } from './validate.ts';

type Spec = Record<string, unknown>;

function alpha(spec: Spec, metadata: Record<string, unknown> = {}): EMQXV2Alpha1Released {
  return {
    apiVersion: 'apps.emqx.io/v2alpha1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace: 'default', ...metadata },
    spec: { image: 'emqx/emqx-enterprise:5.8.3', ...spec } as EMQXV2Alpha1Released['spec'],
  };
}

const FIXTURES = path.resolve(import.meta.dirname, '../../test/fixtures/go-operator');
const fixture = (f: string) => parse(readFileSync(path.join(FIXTURES, f), 'utf8')) as EMQXV2Alpha1Released;

const ALPHAS: Record<string, EMQXV2Alpha1Released> = {
  'image only': alpha({}),
  'the full fixture': fixture('v2alpha1-released-full.yaml'),
  'the slim fixture': fixture('v2alpha1-released-slim.yaml'),
  'replicant template without spec (the Go operator drops it)': alpha({
    replicantTemplate: { metadata: { labels: { a: 'b' } } },
  }),
  'replicant spec without replicas (3, as the released CRD defaulted)': alpha({
    replicantTemplate: { spec: { env: [{ name: 'A', value: '1' }] } },
  }),
  'empty core template, empty core spec': alpha({ coreTemplate: {} }),
  'core spec without replicas': alpha({ coreTemplate: { spec: { args: ['x'] } } }),
  'bootstrapConfig with config.mode, and with an empty config': alpha({
    bootstrapConfig: 'a = 1',
    config: { mode: 'Replace' },
  }),
  'an empty config next to bootstrapConfig': alpha({ bootstrapConfig: '', config: {} }),
  'Service-typed service templates': alpha({
    dashboardServiceTemplate: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'd' },
      spec: { type: 'NodePort' },
    },
    listenersServiceTemplate: { kind: 'Service' },
  }),
  'v2beta1 fields written in v2alpha1': alpha({
    clusterDomain: 'example.org',
    updateStrategy: { initialDelaySeconds: 3 },
    coreTemplate: { spec: { replicas: 1, dataVolume: 'EmptyDir', minAvailable: 1 } },
  }),
  'with status': { ...alpha({}), status: { coreNodes: [{ node: 'emqx@x', node_status: 'running' }] } },
};

for (const [name, a] of Object.entries(ALPHAS)) {
  test(`released v2alpha1 → v2beta1 → v2alpha1 is exact: ${name}`, () => {
    const issues = validateEMQX(a);
    assert.deepEqual(issues, [], `a valid v2alpha1 EMQX:\n${formatIssues(issues)}`);
    const before = structuredClone(a);
    const b = toV2beta1(a);
    assert.deepEqual(a, before, 'toV2beta1 does not modify its argument');
    assert.equal(b.apiVersion, 'apps.emqx.io/v2beta1');
    const bIssues = validateEMQX(b);
    assert.deepEqual(bIssues, [], `a valid v2beta1 EMQX:\n${formatIssues(bIssues)}`);
    assert.ok(
      b.metadata.annotations?.[ANNOTATION_V2ALPHA1_RELEASED] !== undefined,
      'marked as released-made',
    );
    assert.deepEqual(toV2alpha1(b), a);
  });
}

test('released fields land where v2beta1 keeps them', () => {
  const a = ALPHAS['the full fixture']!;
  const b = toV2beta1(a);
  assert.equal(b.spec.image, a.spec.image);
  assert.deepEqual(b.spec.config, { data: a.spec.bootstrapConfig });
  assert.equal((b.spec as unknown as Spec).bootstrapConfig, undefined);
  assert.deepEqual(b.spec.bootstrapAPIKeys, a.spec.bootstrapAPIKeys);
  assert.deepEqual(
    b.spec.coreTemplate,
    a.spec.coreTemplate,
    'pod fields, metadata and volumeClaimTemplates as is',
  );
  assert.deepEqual(b.spec.replicantTemplate, a.spec.replicantTemplate);
  assert.deepEqual(b.spec.dashboardServiceTemplate, a.spec.dashboardServiceTemplate);
  assert.equal(b.metadata.annotations?.[ANNOTATION_V2ALPHA1_RELEASED], '{}', 'nothing lost, only the mark');

  const none = toV2beta1(ALPHAS['replicant template without spec (the Go operator drops it)']!);
  assert.equal(none.spec.replicantTemplate, undefined);
  assert.equal(none.spec.coreTemplate?.spec?.replicas, 3, 'released replicas default 3');
  const three = toV2beta1(ALPHAS['replicant spec without replicas (3, as the released CRD defaulted)']!);
  assert.equal(three.spec.replicantTemplate?.spec?.replicas, 3);
  const svc = toV2beta1(ALPHAS['Service-typed service templates']!);
  assert.deepEqual(svc.spec.dashboardServiceTemplate, {
    metadata: { name: 'd' },
    spec: { type: 'NodePort' },
  });
  assert.deepEqual(svc.spec.listenersServiceTemplate, {});
});

test('edits in v2beta1 show in the released view, which converts back exactly', () => {
  const edits: Array<[string, (b: EMQX) => void]> = [
    ['scaled cores', (b) => (b.spec.coreTemplate!.spec!.replicas = 5)],
    ['core template removed (v2beta1 default 2)', (b) => delete b.spec.coreTemplate],
    ['core replicas removed', (b) => delete b.spec.coreTemplate!.spec!.replicas],
    ['replicants added without replicas', (b) => (b.spec.replicantTemplate = {})],
    ['replicants added with a spec', (b) => (b.spec.replicantTemplate = { spec: { env: [] } })],
    ['replicants removed', (b) => delete b.spec.replicantTemplate],
    ['config data removed', (b) => delete b.spec.config!.data],
    ['config mode set', (b) => (b.spec.config = { ...b.spec.config, mode: 'Merge' })],
    ['service template removed', (b) => delete b.spec.dashboardServiceTemplate],
  ];
  for (const [name, a] of Object.entries(ALPHAS)) {
    for (const [what, edit] of edits) {
      const b = toV2beta1(a);
      try {
        edit(b);
      } catch {
        continue; // the edit needs a field this case lacks
      }
      const view = toV2alpha1(b) as EMQXV2Alpha1Released;
      const issues = validateEMQX(view);
      assert.deepEqual(issues, [], `${name}, ${what}: a valid view:\n${formatIssues(issues)}`);
      assert.deepEqual(toV2beta1(view), b, `${name}, ${what}: back to v2beta1 exactly`);
      assert.deepEqual(toV2alpha1(toV2beta1(view)), view, `${name}, ${what}: the view is stable`);
    }
  }
});

test('the view shows what v2beta1 means where the defaults differ', () => {
  const b = toV2beta1(alpha({}));
  delete b.spec.coreTemplate;
  b.spec.replicantTemplate = {};
  const view = toV2alpha1(b) as EMQXV2Alpha1Released;
  assert.equal(view.spec.coreTemplate?.spec?.replicas, 2, 'v2beta1 cores default to 2, not 3');
  assert.equal(
    view.spec.replicantTemplate?.spec?.replicas,
    2,
    'a v2beta1 replicantTemplate means 2 replicants',
  );
  // And an edit in the view wins.
  view.spec.coreTemplate!.spec!.replicas = 4;
  assert.equal(toV2beta1(view).spec.coreTemplate?.spec?.replicas, 4);
});

test('the conversion webhook converts released-shape objects stored as v2alpha1', () => {
  const stored = ALPHAS['the full fixture']!;
  const r = convertReview({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'ConversionReview',
    request: { uid: 'u', desiredAPIVersion: 'apps.emqx.io/v2beta1', objects: [stored] },
  });
  assert.equal(r.response?.result.status, 'Success', r.response?.result.message);
  const b = r.response!.convertedObjects![0] as EMQX;
  assert.equal(b.spec.config?.data, stored.spec.bootstrapConfig);
  const back = convertReview({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'ConversionReview',
    request: { uid: 'u', desiredAPIVersion: 'apps.emqx.io/v2alpha1', objects: [b] },
  });
  assert.deepEqual(back.response?.convertedObjects?.[0], stored);
});

test('a v2beta1 object never made from v2alpha1 keeps the early view', () => {
  const b: EMQX = {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'x' },
    spec: { image: 'emqx/emqx:5.8.3' },
  };
  assert.ok('emqxTemplate' in toV2alpha1(b).spec);
});
