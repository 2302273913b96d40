import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ANNOTATION_V2ALPHA1_FIELDS,
  ANNOTATION_V2BETA1_SPEC,
  convertObject,
  convertReview,
  toV2alpha1,
  toV2beta1,
} from './conversion.ts';
import type { EMQX, EMQXV2Alpha1 } from './types.ts';
import { formatIssues, validateEMQX } from './validate.ts';

function alpha(spec: Partial<EMQXV2Alpha1['spec']> & Record<string, unknown>, metadata = {}): EMQXV2Alpha1 {
  return {
    apiVersion: 'apps.emqx.io/v2alpha1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace: 'default', ...metadata },
    spec: { emqxTemplate: { image: 'emqx/emqx:5.0.6' }, ...spec } as EMQXV2Alpha1['spec'],
  };
}

/** The early-shape view, the one v2beta1 objects not made from the released shape get. */
const earlyView = (b: EMQX) => toV2alpha1(b) as EMQXV2Alpha1;

function beta(spec: Partial<EMQX['spec']>, metadata = {}): EMQX {
  return {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace: 'default', ...metadata },
    spec: { image: 'emqx/emqx:5.8.3', ...spec },
  };
}

const probe = { httpGet: { path: '/status', port: 18083 }, periodSeconds: 7 };

const ALPHAS: Record<string, EMQXV2Alpha1> = {
  'the seed 000 example': alpha({}),
  'every field': alpha(
    {
      emqxTemplate: {
        image: 'emqx/emqx:5.0.6',
        imagePullPolicy: 'Always',
        imagePullSecrets: [{ name: 'reg' }],
        bootstrapConfig: 'node.cookie = "x"\nlog.console.level = debug',
        bootstrapAPIKeys: [{ key: 'k', secret: 'secret' }],
        env: [{ name: 'EMQX_A', value: '1' }],
        args: ['foreground'],
        resources: { requests: { cpu: '1', memory: '1Gi' } },
        securityContext: { runAsUser: 1001, fsGroup: 1001 },
        extraVolumes: [{ name: 'v', emptyDir: {} }],
        extraVolumeMounts: [{ name: 'v', mountPath: '/v' }],
        readinessProbe: probe,
        livenessProbe: probe,
        startupProbe: probe,
      },
      coreTemplate: {
        metadata: { labels: { tier: 'core' }, annotations: { a: 'b' } },
        spec: {
          replicas: 5,
          nodeSelector: { disk: 'ssd' },
          affinity: { nodeAffinity: {} },
          tolerations: [{ key: 'k', operator: 'Exists' }],
        },
      },
      replicantTemplate: {
        metadata: { labels: { tier: 'edge' } },
        spec: { replicas: 4, nodeSelector: { edge: 'y' } },
      },
      persistent: {
        storageClassName: 'fast',
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '2Gi' } },
      },
      dashboardServiceTemplate: { spec: { type: 'NodePort' } },
      listenersServiceTemplate: { metadata: { annotations: { lb: 'yes' } }, spec: { type: 'LoadBalancer' } },
    },
    { labels: { app: 'x' }, annotations: { note: 'kept' } },
  ),
  'explicit 3 and 3, an empty coreTemplate': alpha({
    coreTemplate: {},
    replicantTemplate: { spec: { replicas: 3 } },
  }),
  'no replicants': alpha({ replicantTemplate: { spec: { replicas: 0 } } }),
  'empty service template': alpha({ dashboardServiceTemplate: {} }),
  'with status': { ...alpha({}), status: { phase: 'Ready', cores: '3/3', coreNodes: [{ name: 'emqx@1' }] } },
};

const BETAS: Record<string, EMQX> = {
  minimal: beta({}),
  'the seed 004 example': beta({
    image: 'emqx/emqx:6.0.1',
    config: { data: 'license { key = "..." }' },
    coreTemplate: { spec: { replicas: 2, resources: { requests: { cpu: '250m', memory: '512Mi' } } } },
    replicantTemplate: { spec: { replicas: 3, resources: { requests: { cpu: '250m', memory: '1Gi' } } } },
    dashboardServiceTemplate: { spec: { type: 'LoadBalancer' } },
  }),
  'v2beta1-only fields and templates that differ': beta(
    {
      serviceAccountName: 'sa',
      clusterDomain: 'example.org',
      revisionHistoryLimit: 1,
      config: { mode: 'Replace', data: 'a = 1' },
      bootstrapAPIKeys: [
        {
          secretRef: {
            key: { secretName: 's', secretKey: 'k' },
            secret: { secretName: 's', secretKey: 'v' },
          },
        },
      ],
      updateStrategy: { initialDelaySeconds: 3, core: { type: 'BlueGreen' } },
      coreTemplate: {
        spec: {
          env: [{ name: 'ROLE', value: 'core' }],
          toleRations: [{ key: 'legacy', operator: 'Exists' }],
          minAvailable: 1,
          dataVolume: 'EmptyDir',
          command: ['/bin/sh'],
        },
      },
      replicantTemplate: { spec: { env: [{ name: 'ROLE', value: 'replicant' }], maxUnavailable: '25%' } },
      dashboardServiceTemplate: { enabled: false },
      listenersServiceTemplate: { enabled: true, spec: { type: 'ClusterIP' } },
    },
    { annotations: { owner: 'me' }, labels: { a: 'b' } },
  ),
  'PVC data with retention': beta({
    coreTemplate: {
      spec: {
        replicas: 3,
        dataVolume: 'PersistentVolumeClaim',
        volumeClaimTemplates: { resources: { requests: { storage: '1Gi' } } },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete' },
      },
    },
  }),
  'made from a v2alpha1 object': toV2beta1(ALPHAS['every field']),
  'made from v2alpha1, then scaled in v2beta1': (() => {
    const b = toV2beta1(alpha({}));
    b.spec.replicantTemplate = { spec: { replicas: 7 } };
    return b;
  })(),
  'with status': { ...beta({}), status: { phase: 'Ready', cores: '2/2', replicantReplicas: 0 } },
};

for (const [name, a] of Object.entries(ALPHAS)) {
  test(`v2alpha1 → v2beta1 → v2alpha1 is exact: ${name}`, () => {
    const before = structuredClone(a);
    const b = toV2beta1(a);
    assert.deepEqual(a, before, 'toV2beta1 does not modify its argument');
    assert.equal(b.apiVersion, 'apps.emqx.io/v2beta1');
    assert.deepEqual(validateEMQX(b), [], 'the converted object is a valid v2beta1 EMQX');
    assert.deepEqual(toV2alpha1(b), a);
  });
}

for (const [name, b] of Object.entries(BETAS)) {
  test(`v2beta1 → v2alpha1 → v2beta1 is exact: ${name}`, () => {
    const before = structuredClone(b);
    const a = toV2alpha1(b);
    assert.deepEqual(b, before, 'toV2alpha1 does not modify its argument');
    assert.equal(a.apiVersion, 'apps.emqx.io/v2alpha1');
    const issues = validateEMQX(a);
    assert.deepEqual(issues, [], `the view is a valid v2alpha1 EMQX:\n${formatIssues(issues)}`);
    assert.deepEqual(toV2beta1(a), b);
  });
}

test('v2alpha1 defaults: 3 cores and 3 replicants, emptyDir data without persistent', () => {
  const b = toV2beta1(ALPHAS['the seed 000 example']);
  assert.equal(b.spec.image, 'emqx/emqx:5.0.6');
  assert.equal(b.spec.coreTemplate?.spec?.replicas, 3);
  assert.equal(b.spec.replicantTemplate?.spec?.replicas, 3);
  assert.equal(b.spec.coreTemplate?.spec?.dataVolume, 'EmptyDir');
  assert.equal(b.spec.coreTemplate?.spec?.volumeClaimTemplates, undefined);
});

test('v2alpha1 fields land where v2beta1 keeps them', () => {
  const src = ALPHAS['every field'];
  const t = src.spec.emqxTemplate;
  const b = toV2beta1(src);
  assert.equal(b.spec.imagePullPolicy, 'Always');
  assert.deepEqual(b.spec.imagePullSecrets, [{ name: 'reg' }]);
  assert.deepEqual(b.spec.config, { data: t.bootstrapConfig });
  assert.deepEqual(b.spec.bootstrapAPIKeys, t.bootstrapAPIKeys);
  for (const role of ['coreTemplate', 'replicantTemplate'] as const) {
    const s = b.spec[role]?.spec;
    assert.deepEqual(s?.env, t.env, role);
    assert.deepEqual(s?.args, t.args, role);
    assert.deepEqual(s?.resources, t.resources, role);
    assert.deepEqual(s?.podSecurityContext, t.securityContext, role);
    assert.deepEqual(s?.extraVolumes, t.extraVolumes, role);
    assert.deepEqual(s?.extraVolumeMounts, t.extraVolumeMounts, role);
    assert.deepEqual(s?.readinessProbe, probe, role);
    assert.deepEqual(s?.livenessProbe, probe, role);
    assert.deepEqual(s?.startupProbe, probe, role);
  }
  assert.deepEqual(b.spec.coreTemplate?.metadata, src.spec.coreTemplate?.metadata);
  assert.equal(b.spec.coreTemplate?.spec?.replicas, 5);
  assert.deepEqual(b.spec.coreTemplate?.spec?.nodeSelector, { disk: 'ssd' });
  assert.deepEqual(b.spec.coreTemplate?.spec?.tolerations, [{ key: 'k', operator: 'Exists' }]);
  assert.equal(b.spec.replicantTemplate?.spec?.replicas, 4);
  assert.deepEqual(b.spec.replicantTemplate?.spec?.nodeSelector, { edge: 'y' });
  assert.equal(b.spec.coreTemplate?.spec?.dataVolume, 'PersistentVolumeClaim');
  assert.deepEqual(b.spec.coreTemplate?.spec?.volumeClaimTemplates, src.spec.persistent);
  assert.equal((b.spec.replicantTemplate?.spec as Record<string, unknown>).volumeClaimTemplates, undefined);
  assert.deepEqual(b.spec.dashboardServiceTemplate, { spec: { type: 'NodePort' } });
  assert.deepEqual(b.spec.listenersServiceTemplate, src.spec.listenersServiceTemplate);
  assert.deepEqual(b.metadata.labels, { app: 'x' });
  assert.equal(b.metadata.annotations?.note, 'kept');
  // Everything was written explicitly, so nothing needs recording.
  assert.equal(b.metadata.annotations?.[ANNOTATION_V2ALPHA1_FIELDS], undefined);
});

test('a v2beta1 view: per-pod fields from the core template, no replicantTemplate is 0 replicants', () => {
  const a = earlyView(BETAS['v2beta1-only fields and templates that differ']);
  assert.deepEqual(a.spec.emqxTemplate.env, [{ name: 'ROLE', value: 'core' }]);
  assert.equal(a.spec.emqxTemplate.bootstrapConfig, 'a = 1');
  assert.equal(a.spec.persistent, undefined, 'EmptyDir data has no persistent');
  assert.equal(a.spec.coreTemplate?.spec?.replicas, 2, 'the v2beta1 default, made explicit');
  const none = earlyView(beta({}));
  assert.deepEqual(none.spec.replicantTemplate, { spec: { replicas: 0 } });
  assert.deepEqual(none.spec.persistent, {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: '500Mi' } },
  });
  assert.ok(none.metadata.annotations?.[ANNOTATION_V2BETA1_SPEC], 'the v2beta1 spec is carried');
  assert.equal(none.metadata.annotations?.[ANNOTATION_V2ALPHA1_FIELDS], undefined);
});

test('the carried v2beta1 spec holds no bootstrap secrets or config (v2alpha1 has them exactly)', () => {
  const b = beta({
    config: { data: 'secret-ish = 1' },
    bootstrapAPIKeys: [{ key: 'k', secret: 'supersecret' }],
    updateStrategy: { initialDelaySeconds: 1 },
  });
  const carried = toV2alpha1(b).metadata.annotations?.[ANNOTATION_V2BETA1_SPEC] ?? '';
  assert.ok(carried.includes('initialDelaySeconds'));
  assert.ok(!carried.includes('supersecret'));
  assert.ok(!carried.includes('secret-ish'));
  assert.ok(!carried.includes('emqx/emqx:5.8.3'));
});

test('changes made in a v2alpha1 view reach v2beta1; v2beta1-only fields survive', () => {
  const original = BETAS['v2beta1-only fields and templates that differ'];
  const view = earlyView(original);
  view.spec.emqxTemplate.image = 'emqx/emqx:5.9.0';
  view.spec.emqxTemplate.env = [{ name: 'NEW', value: '1' }];
  view.spec.replicantTemplate = { spec: { replicas: 6 } };
  const b = toV2beta1(view);
  assert.equal(b.spec.image, 'emqx/emqx:5.9.0');
  assert.deepEqual(b.spec.coreTemplate?.spec?.env, [{ name: 'NEW', value: '1' }]);
  assert.deepEqual(b.spec.replicantTemplate?.spec?.env, [{ name: 'NEW', value: '1' }]);
  assert.equal(b.spec.replicantTemplate?.spec?.replicas, 6);
  assert.deepEqual(b.spec.updateStrategy, original.spec.updateStrategy);
  assert.equal(b.spec.serviceAccountName, 'sa');
  assert.deepEqual(b.spec.coreTemplate?.spec?.toleRations, original.spec.coreTemplate?.spec?.toleRations);
  assert.equal(b.spec.coreTemplate?.spec?.dataVolume, 'EmptyDir');
  assert.deepEqual(b.spec.dashboardServiceTemplate, { enabled: false });
  assert.equal(
    b.metadata.annotations?.[ANNOTATION_V2BETA1_SPEC],
    undefined,
    'the carrier annotation is dropped',
  );
});

test('a recorded v2alpha1 value is ignored once the v2beta1 object no longer matches it', () => {
  // Created as v2alpha1 with replicas left out (so 3), then scaled to 7 through v2beta1.
  const a = toV2alpha1(BETAS['made from v2alpha1, then scaled in v2beta1']);
  assert.deepEqual(a.spec.replicantTemplate, { spec: { replicas: 7 } });
  assert.equal(a.spec.coreTemplate, undefined, 'the untouched core template still reads as written');
});

function review(desiredAPIVersion: string, objects: unknown[]) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'ConversionReview',
    request: { uid: 'u-1', desiredAPIVersion, objects },
  };
}

test('convertReview converts every object, both ways, and echoes the uid', () => {
  const a = ALPHAS['every field'];
  const b = BETAS['the seed 004 example'];
  const up = convertReview(review('apps.emqx.io/v2beta1', [a, b]));
  assert.equal(up.response?.uid, 'u-1');
  assert.deepEqual(up.response?.result, { status: 'Success' });
  assert.deepEqual(up.response?.convertedObjects, [toV2beta1(a), b]);
  const down = convertReview(review('apps.emqx.io/v2alpha1', [b]));
  assert.deepEqual(down.response?.convertedObjects, [toV2alpha1(b)]);
  const rb = { apiVersion: 'apps.emqx.io/v2beta1', kind: 'Rebalance', metadata: { name: 'r' }, spec: {} };
  assert.deepEqual(convertReview(review('apps.emqx.io/v2beta1', [rb])).response?.convertedObjects, [rb]);
});

test('convertReview fails the whole review on anything it cannot convert, without throwing', () => {
  const bad = convertReview(
    review('apps.emqx.io/v2beta1', [
      ALPHAS['the seed 000 example'],
      { kind: 'EMQX', apiVersion: 'apps.emqx.io/v2alpha1', metadata: { name: 'x' } },
    ]),
  );
  assert.equal(bad.response?.uid, 'u-1');
  assert.equal(bad.response?.result.status, 'Failure');
  assert.match(bad.response?.result.message ?? '', /EMQX x: spec: required/);
  assert.equal(bad.response?.convertedObjects, undefined);
  const other = convertReview(review('apps.emqx.io/v1beta4', [BETAS.minimal]));
  assert.match(
    other.response?.result.message ?? '',
    /no conversion from apps.emqx.io\/v2beta1 to apps.emqx.io\/v1beta4/,
  );
  assert.equal(convertReview({ kind: 'AdmissionReview' }).response?.result.status, 'Failure');
  assert.equal(convertReview(null).response?.result.status, 'Failure');
  assert.equal(
    convertReview({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'ConversionReview', request: { uid: 'u' } })
      .response?.result.status,
    'Failure',
  );
  assert.throws(() => convertObject('x', 'apps.emqx.io/v2beta1'), /not a JSON object/);
});

/** A small deterministic PRNG, so the generated cases are the same on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function pick<T>(rand: () => number, options: T[]): T {
  return options[Math.floor(rand() * options.length)];
}

/** Sets `key` to a random choice; `undefined` leaves it out. */
function maybe(rand: () => number, target: Record<string, unknown>, key: string, options: unknown[]): void {
  const v = pick(rand, [undefined, ...options]);
  if (v !== undefined) target[key] = structuredClone(v);
}

// CONVERSION_CASES and CONVERSION_SEED widen the search when the conversion changes.
const CASES = Number(process.env.CONVERSION_CASES ?? 300);
const SEED = Number(process.env.CONVERSION_SEED ?? 42);

test(`round trips are exact for ${CASES} generated v2alpha1 and ${CASES} generated v2beta1 objects`, () => {
  const rand = prng(SEED);
  const env = [[{ name: 'A', value: '1' }], [], [{ name: 'B', value: '2' }]];
  const pvc = [{ resources: { requests: { storage: '1Gi' } } }, { storageClassName: 'x' }];
  const nodeSel = [{ a: 'b' }, {}];
  const tol = [[{ key: 'k', operator: 'Exists' }]];
  const meta = [{ labels: { l: 'v' } }, {}];
  for (let i = 0; i < CASES; i++) {
    const t: Record<string, unknown> = { image: 'emqx/emqx:5.0.6' };
    maybe(rand, t, 'bootstrapConfig', ['a = 1', '']);
    maybe(rand, t, 'env', env);
    maybe(rand, t, 'args', [['x'], []]);
    maybe(rand, t, 'securityContext', [{ runAsUser: 1 }]);
    maybe(rand, t, 'livenessProbe', [probe]);
    const spec: Record<string, unknown> = { emqxTemplate: t };
    for (const role of ['coreTemplate', 'replicantTemplate']) {
      const tmpl: Record<string, unknown> = {};
      maybe(rand, tmpl, 'metadata', meta);
      const s: Record<string, unknown> = {};
      maybe(rand, s, 'replicas', role === 'coreTemplate' ? [1, 2, 3] : [0, 2, 3]);
      maybe(rand, s, 'nodeSelector', nodeSel);
      maybe(rand, s, 'tolerations', tol);
      if (rand() < 0.7) tmpl.spec = s;
      if (rand() < 0.7) spec[role] = tmpl;
    }
    maybe(rand, spec, 'persistent', pvc);
    maybe(rand, spec, 'dashboardServiceTemplate', [
      {},
      { spec: { type: 'NodePort' } },
      { metadata: { labels: { a: 'b' } } },
    ]);
    const a = alpha(spec as never);
    const b = toV2beta1(a);
    assert.deepEqual(validateEMQX(b), [], `case ${i}: ${JSON.stringify(a.spec)}`);
    assert.deepEqual(toV2alpha1(b), a, `case ${i}: ${JSON.stringify(a.spec)}`);
  }
  for (let i = 0; i < CASES; i++) {
    const spec: Record<string, unknown> = { image: 'emqx/emqx:5.8.3' };
    maybe(rand, spec, 'config', [{ data: 'a = 1' }, { mode: 'Replace' }, {}]);
    maybe(rand, spec, 'updateStrategy', [{ core: { type: 'BlueGreen' } }]);
    maybe(rand, spec, 'clusterDomain', ['cluster.local']);
    for (const role of ['coreTemplate', 'replicantTemplate']) {
      const tmpl: Record<string, unknown> = {};
      maybe(rand, tmpl, 'metadata', meta);
      const s: Record<string, unknown> = {};
      maybe(rand, s, 'replicas', [1, 2, 3]);
      maybe(rand, s, 'env', env);
      maybe(rand, s, 'nodeSelector', nodeSel);
      maybe(rand, s, 'toleRations', tol);
      maybe(rand, s, 'readinessProbe', [probe]);
      if (role === 'coreTemplate') {
        maybe(rand, s, 'dataVolume', ['EmptyDir', 'PersistentVolumeClaim']);
        if (s.dataVolume !== 'EmptyDir') maybe(rand, s, 'volumeClaimTemplates', pvc);
      }
      if (rand() < 0.7) tmpl.spec = s;
      if (rand() < 0.7) spec[role] = tmpl;
    }
    maybe(rand, spec, 'listenersServiceTemplate', [{ enabled: false }, { spec: { type: 'NodePort' } }, {}]);
    const b = beta(spec as never);
    const a = earlyView(b);
    assert.deepEqual(validateEMQX(a), [], `case ${i}: ${JSON.stringify(b.spec)}`);
    assert.deepEqual(toV2beta1(a), b, `case ${i}: ${JSON.stringify(b.spec)}`);
    // And the view of the view's v2beta1 object is the same view.
    assert.deepEqual(toV2alpha1(toV2beta1(a)), a, `case ${i} (view stability)`);
    // An edit in the view reaches v2beta1, reads back as written, and leaves v2beta1-only fields alone.
    const edited = structuredClone(a);
    const slot = pick(rand, [
      'env',
      'image',
      'coreTemplate',
      'replicantTemplate',
      'persistent',
      'bootstrapConfig',
    ]);
    const value = {
      env: pick(rand, [undefined, ...env]),
      image: 'emqx/emqx:5.9.9',
      coreTemplate: pick(rand, [
        undefined,
        {},
        { spec: { replicas: 4 } },
        { metadata: { labels: { x: 'y' } } },
      ]),
      replicantTemplate: pick(rand, [
        undefined,
        {},
        { spec: { replicas: 0 } },
        { spec: { replicas: 5, nodeSelector: {} } },
      ]),
      persistent: pick(rand, [undefined, ...pvc]),
      bootstrapConfig: pick(rand, [undefined, 'b = 2']),
    }[slot];
    const target = (
      ['env', 'image', 'bootstrapConfig'].includes(slot) ? edited.spec.emqxTemplate : edited.spec
    ) as Record<string, unknown>;
    if (value === undefined) delete target[slot];
    else target[slot] = structuredClone(value);
    const b2 = toV2beta1(edited);
    assert.deepEqual(validateEMQX(b2), [], `case ${i} edit ${slot}`);
    assert.deepEqual(toV2alpha1(b2).spec, edited.spec, `case ${i} edit ${slot}=${JSON.stringify(value)}`);
    assert.deepEqual(b2.spec.updateStrategy, b.spec.updateStrategy, `case ${i} edit ${slot}: updateStrategy`);
    assert.deepEqual(b2.spec.config?.mode, b.spec.config?.mode, `case ${i} edit ${slot}: config.mode`);
  }
});
