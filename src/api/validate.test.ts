import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults, applyRebalanceDefaults } from './defaults.ts';
import type { Schema } from './schema.ts';
import { emqxV2beta1Schema, rebalanceV2beta1Schema } from './schema.ts';
import type { ValidationIssue } from './validate.ts';
import {
  applySchemaDefaults,
  formatIssues,
  loadEMQX,
  loadRebalance,
  suggestField,
  validateEMQX,
  validateRebalance,
  validateSchema,
} from './validate.ts';

function emqx(spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'emqx' }) {
  return {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata,
    spec: { image: 'emqx/emqx:5.8.3', ...spec },
  };
}

/** The issues as `path: message` lines, for readable assertions. */
function lines(issues: ValidationIssue[]): string[] {
  return issues.map((i) => `${i.path}: ${i.message}`);
}

function assertIssue(issues: ValidationIssue[], path: string, fragment: string | RegExp): void {
  const hit = issues.some(
    (i) =>
      i.path === path &&
      (typeof fragment === 'string' ? i.message.includes(fragment) : fragment.test(i.message)),
  );
  assert.ok(hit, `expected an issue at ${path} matching ${fragment}, got:\n${formatIssues(issues)}`);
}

/** An issue at each path, matching its fragment. */
function assertIssues(issues: ValidationIssue[], expected: Record<string, string | RegExp>): void {
  for (const [path, fragment] of Object.entries(expected)) assertIssue(issues, path, fragment);
}

test('the v2beta1 example from the docs (seed 004) is valid', () => {
  const doc = emqx({
    image: 'emqx/emqx:6.0.1',
    config: { data: 'license { key = "..." }' },
    coreTemplate: { spec: { replicas: 2, resources: { requests: { cpu: '250m', memory: '512Mi' } } } },
    replicantTemplate: { spec: { replicas: 3, resources: { requests: { cpu: '250m', memory: '1Gi' } } } },
    dashboardServiceTemplate: { spec: { type: 'LoadBalancer' } },
  });
  assert.deepEqual(lines(validateEMQX(doc)), []);
});

test('a rich but valid resource has no issues', () => {
  const doc = emqx({
    imagePullPolicy: 'IfNotPresent',
    imagePullSecrets: [{ name: 'reg' }],
    bootstrapAPIKeys: [
      { key: 'ops_key-1', secret: 'secret' },
      {
        secretRef: { key: { secretName: 's', secretKey: 'k' }, secret: { secretName: 's', secretKey: 'v' } },
      },
    ],
    config: { mode: 'Replace', data: 'a = 1' },
    clusterDomain: 'k8s.example.org',
    revisionHistoryLimit: 0,
    updateStrategy: {
      type: 'Recreate',
      initialDelaySeconds: 5,
      evacuationStrategy: { connEvictRate: 1 },
      core: { type: 'BlueGreen' },
    },
    coreTemplate: {
      metadata: { labels: { a: 'b' } },
      spec: {
        replicas: 1,
        minAvailable: '50%',
        env: [
          { name: 'A', value: 'x' },
          { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        ],
        ports: [
          { containerPort: 1883, name: 'mqtt' },
          { containerPort: 1883, protocol: 'UDP', name: 'quic' },
        ],
        extraVolumes: [{ name: 'certs', secret: { secretName: 'tls' } }],
        extraVolumeMounts: [{ name: 'certs', mountPath: '/certs' }],
        tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }],
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 1, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname' } },
            ],
          },
        },
        livenessProbe: { httpGet: { path: '/status', port: 'dashboard' } },
        dataVolume: 'PersistentVolumeClaim',
        volumeClaimTemplates: { storageClassName: 'fast', resources: { requests: { storage: '1Gi' } } },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete' },
        terminationGracePeriodSeconds: 60,
      },
    },
    replicantTemplate: {
      spec: { replicas: 0, maxUnavailable: 1, extraContainers: [{ name: 'sidecar', image: 'busybox' }] },
    },
    listenersServiceTemplate: {
      enabled: false,
      spec: { type: 'NodePort', ports: [{ port: 1883, nodePort: 31883 }] },
    },
  });
  assert.deepEqual(lines(validateEMQX(doc)), []);
});

test('apiVersion, kind and metadata are checked', () => {
  assertIssue(validateEMQX(null), '<root>', 'must be an object');
  assertIssue(
    validateEMQX({ ...emqx({}), apiVersion: 'apps.emqx.io/v1beta4' }),
    'apiVersion',
    'apps.emqx.io/v2beta1 or apps.emqx.io/v2alpha1',
  );
  assertIssue(validateEMQX({ ...emqx({}), kind: 'Emqx' }), 'kind', 'must be EMQX');
  assertIssue(validateEMQX({ ...emqx({}), metadata: undefined }), 'metadata', 'required');
  assertIssue(validateEMQX(emqx({}, {})), 'metadata.name', 'required');
  assert.deepEqual(lines(validateEMQX(emqx({}, { generateName: 'emqx-' }))), []);
  assertIssue(validateEMQX(emqx({}, { name: 'My_EMQX' })), 'metadata.name', 'at most 36 characters');
  assertIssue(validateEMQX(emqx({}, { name: 'e'.repeat(37) })), 'metadata.name', 'at most 36 characters');
  assertIssue(
    validateEMQX(emqx({}, { name: 'e'.repeat(37) })),
    'metadata.name',
    /<name>-core-<hash>, at most 52 .*controller-revision-hash.*<name>-replicant-<hash>, at most 57/,
  );
  assert.deepEqual(lines(validateEMQX(emqx({}, { name: 'e'.repeat(36) }))), []);
  // The name cannot change: one made under the older limit of 53 stays valid on updates (and so deletable).
  const old = emqx({}, { name: 'e'.repeat(53) });
  assert.deepEqual(lines(validateEMQX(emqx({ clusterDomain: 'example.org' }, old.metadata), { old })), []);
  assert.equal(lines(validateEMQX(old)).length, 1, 'but not on create');
  assertIssue(validateEMQX(emqx({}, { name: 'emqx', namespace: 'Bad' })), 'metadata.namespace', 'DNS label');
  assertIssue(
    validateEMQX(emqx({}, { name: 'emqx', labels: { a: 1 } })),
    'metadata.labels[a]',
    'must be a string',
  );
  assertIssue(validateEMQX({ ...emqx({}), spec: undefined }), 'spec', 'required');
  assertIssue(validateEMQX(emqx({ image: undefined })), 'spec.image', 'required');
});

test('types: integer, string, boolean, object, array, int-or-string', () => {
  const issues = validateEMQX(
    emqx({
      revisionHistoryLimit: 1.5,
      image: 3,
      dashboardServiceTemplate: { enabled: 'yes' },
      config: 'a = 1',
      imagePullSecrets: { name: 'x' },
      coreTemplate: { spec: { minAvailable: true, replicas: '2' } },
    }),
  );
  assertIssues(issues, {
    'spec.revisionHistoryLimit': 'must be an integer, not number',
    'spec.image': 'must be a string, not integer',
    'spec.dashboardServiceTemplate.enabled': 'must be a boolean, not string',
    'spec.config': 'must be an object, not string',
    'spec.imagePullSecrets': 'must be an array, not object',
    'spec.coreTemplate.spec.minAvailable': 'must be an integer or a string, not boolean',
    'spec.coreTemplate.spec.replicas': 'must be an integer, not string',
  });
});

test('enum, minimum, maximum, int32 range, minLength, maxLength, pattern', () => {
  const issues = validateEMQX(
    emqx({
      image: '',
      imagePullPolicy: 'Sometimes',
      revisionHistoryLimit: -1,
      updateStrategy: { evacuationStrategy: { connEvictRate: 0 }, initialDelaySeconds: 2 ** 31 },
      bootstrapAPIKeys: [
        { key: 'has space', secret: 'x'.repeat(129) },
        { key: 'k', secret: 'ab' },
      ],
      clusterDomain: 'Cluster_Local',
      coreTemplate: { spec: { replicas: 0, maxUnavailable: '101%', resources: { limits: { cpu: 'two' } } } },
      replicantTemplate: { spec: { replicas: -1 } },
    }),
  );
  assertIssues(issues, {
    'spec.image': 'must not be empty',
    'spec.imagePullPolicy': 'must be one of "Always", "IfNotPresent", "Never", not "Sometimes"',
    'spec.revisionHistoryLimit': 'must be >= 0',
    'spec.updateStrategy.evacuationStrategy.connEvictRate': 'must be >= 1',
    'spec.updateStrategy.initialDelaySeconds': 'must fit in 32 bits',
    'spec.bootstrapAPIKeys[0].key': 'letters, digits',
    'spec.bootstrapAPIKeys[0].secret': 'at most 128 characters',
    'spec.bootstrapAPIKeys[1].secret': 'at least 3 characters',
    'spec.clusterDomain': 'DNS name',
    'spec.coreTemplate.spec.replicas': 'must be >= 1',
    'spec.coreTemplate.spec.maxUnavailable': 'percentage',
    'spec.coreTemplate.spec.resources.limits[cpu]': 'quantity',
    'spec.replicantTemplate.spec.replicas': 'must be >= 0',
  });
});

test('unknown fields are reported, with a suggestion when one is close', () => {
  const issues = validateEMQX(
    emqx({
      coreTemplat: {},
      replicantTemplate: { spec: { replica: 2, dataVolume: 'EmptyDir', image: 'x' } },
      coreTemplate: { spec: { env: [{ name: 'A', vaule: 'x' }] } },
      somethingElse: 1,
    }),
  );
  assertIssues(issues, {
    'spec.coreTemplat': 'did you mean coreTemplate?',
    'spec.replicantTemplate.spec.replica': 'did you mean replicas?',
    'spec.replicantTemplate.spec.dataVolume': 'only in coreTemplate.spec',
    'spec.replicantTemplate.spec.image': 'spec.image',
    'spec.coreTemplate.spec.env[0].vaule': 'did you mean value?',
    'spec.somethingElse': /^unknown field \(known fields: image, /,
  });
  assert.equal(suggestField('CoreTemplate', ['coreTemplate', 'replicantTemplate']), 'coreTemplate');
  assert.equal(suggestField('zzz', ['coreTemplate']), undefined);
});

test('lists: maxItems, list-map duplicates (with defaulted keys), items of the wrong type', () => {
  const keys = Array.from({ length: 33 }, (_, i) => ({ key: `k${i}`, secret: 'secret' }));
  assertIssue(validateEMQX(emqx({ bootstrapAPIKeys: keys })), 'spec.bootstrapAPIKeys', 'at most 32 items');
  const issues = validateEMQX(
    emqx({
      coreTemplate: {
        spec: {
          // Duplicate env names are passed on, as the Go operator does (the last value wins).
          env: [{ name: 'A' }, { name: 'B' }, { name: 'A', value: 'again' }],
          extraVolumes: [
            { name: 'v', emptyDir: {} },
            { name: 'w', emptyDir: {} },
            { name: 'v', emptyDir: {} },
          ],
          // protocol defaults to TCP, so these two are the same port.
          ports: [{ containerPort: 1883 }, { containerPort: 1883, protocol: 'TCP' }],
          args: ['ok', 3],
        },
      },
    }),
  );
  assertIssue(
    issues,
    'spec.coreTemplate.spec.extraVolumes[2]',
    'duplicate entry with name="v" (also at index 0)',
  );
  assert.ok(!issues.some((i) => i.path.includes('.env')), 'duplicate env names are accepted');
  assertIssue(
    issues,
    'spec.coreTemplate.spec.ports[1]',
    'duplicate entry with containerPort=1883, protocol="TCP"',
  );
  assertIssue(issues, 'spec.coreTemplate.spec.args[1]', 'must be a string');
});

test('CEL rules run through their TypeScript checks, reported at their field path', () => {
  const issues = validateEMQX(
    emqx({
      bootstrapAPIKeys: [{ key: 'a', secret: 'abc' }, { key: 'a', secret: 'abcd' }, { key: 'b' }],
      coreTemplate: {
        spec: { minAvailable: 1, maxUnavailable: 1, dataVolume: 'EmptyDir', volumeClaimTemplates: {} },
      },
      replicantTemplate: { spec: { minAvailable: '10%', maxUnavailable: '10%' } },
    }),
  );
  assertIssues(issues, {
    'spec.bootstrapAPIKeys': 'must be unique',
    'spec.bootstrapAPIKeys[2]': 'either key and secret, or secretRef',
    'spec.coreTemplate.spec.maxUnavailable': 'mutually exclusive',
    'spec.coreTemplate.spec.volumeClaimTemplates': 'only used with dataVolume PersistentVolumeClaim',
    'spec.replicantTemplate.spec.maxUnavailable': 'mutually exclusive',
  });
  const name = validateEMQX(emqx({}, { name: '9lives' }));
  assert.deepEqual(lines(name).length, 1);
  assertIssue(name, 'metadata.name', /^must be at most 36/);
});

test('null counts as absent, preserve-unknown-fields keeps anything, nullable and date-time are honoured', () => {
  assert.deepEqual(lines(validateEMQX(emqx({ replicantTemplate: null, config: { data: null } }))), []);
  assertIssue(validateEMQX(emqx({ image: null })), 'spec.image', 'required');
  const alpha = {
    apiVersion: 'apps.emqx.io/v2alpha1',
    kind: 'EMQX',
    metadata: { name: 'old' },
    spec: { emqxTemplate: { image: 'emqx/emqx:5.0.6' } },
    status: { emqxNodes: [{ node: 'emqx@1' }], anything: { goes: true } },
  };
  assert.deepEqual(lines(validateEMQX(alpha)), []);
  const schema: Schema = {
    type: 'object',
    properties: {
      n: { type: 'string', nullable: true },
      t: { type: 'string', format: 'date-time' },
      m: { type: 'object', additionalProperties: { type: 'integer' } },
      s: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set', minItems: 1 },
    },
    required: ['n'],
    maxProperties: 3,
  };
  assert.deepEqual(lines(validateSchema(schema, { n: null, t: '2024-01-02T03:04:05Z', m: { a: 1 } })), []);
  const many = lines(validateSchema(schema, { t: 'yesterday', m: { a: 'x' }, s: ['a', 'a'], n: 'x' }));
  for (const expected of [
    'm[a]: must be an integer, not string',
    's[1]: duplicate value "a"',
    't: must be an RFC 3339 date-time',
    '<root>: must have at most 3 fields',
  ]) {
    assert.ok(many.includes(expected), `missing "${expected}" in ${JSON.stringify(many)}`);
  }
  assert.deepEqual(lines(validateSchema(schema, { s: [] })), [
    'n: required',
    's: must have at least 1 items',
  ]);
});

test('Rebalance: required fields, patterns, and the immutable spec on update', () => {
  const rb = {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'Rebalance',
    metadata: { name: 'rb' },
    spec: { instanceName: 'emqx', rebalanceStrategy: { connEvictRate: 10, relConnThreshold: '1.2' } },
  };
  assert.deepEqual(lines(validateRebalance(rb)), []);
  const bad = validateRebalance({
    ...rb,
    spec: { instanceKind: 'EmqxEnterprise', rebalanceStrategy: { connEvictRate: 0, relSessThreshold: 'x' } },
  });
  assertIssue(bad, 'spec.instanceName', 'required');
  assertIssue(bad, 'spec.instanceKind', 'write instanceKind: EMQX');
  assertIssue(bad, 'spec.rebalanceStrategy.connEvictRate', 'must be >= 1');
  assertIssue(bad, 'spec.rebalanceStrategy.relSessThreshold', 'decimal');
  assertIssue(
    validateRebalance({ ...rb, spec: { instanceName: 'emqx' } }),
    'spec.rebalanceStrategy',
    'required',
  );
  // Transition rule: only with the old object, and only when the spec changed.
  const changed = { ...rb, spec: { ...rb.spec, instanceName: 'other' } };
  assert.deepEqual(lines(validateRebalance(changed)), []);
  assert.deepEqual(lines(validateRebalance(rb, { old: structuredClone(rb) })), []);
  assertIssue(validateRebalance(changed, { old: rb }), 'spec', 'cannot be changed');
  assertIssue(validateRebalance({ ...rb, kind: 'EMQX' }), 'kind', 'must be Rebalance');
});

test('loadEMQX: v2beta1 gets the defaults; issues mean no resource', () => {
  const loaded = loadEMQX(emqx({ replicantTemplate: {} }));
  assert.deepEqual(loaded.issues, []);
  assert.equal(loaded.convertedFrom, undefined);
  assert.equal(loaded.emqx?.spec.coreTemplate?.spec?.replicas, 2);
  assert.equal(loaded.emqx?.spec.replicantTemplate?.spec?.replicas, 2);
  assert.equal(loaded.emqx?.spec.clusterDomain, 'cluster.local');
  const bad = loadEMQX(emqx({ coreTemplat: {} }));
  assert.equal(bad.emqx, undefined);
  assertIssue(bad.issues, 'spec.coreTemplat', 'did you mean coreTemplate?');
});

test('loadEMQX: v2alpha1 is validated against its own schema, then converted (3 cores, 3 replicants)', () => {
  const alpha = {
    apiVersion: 'apps.emqx.io/v2alpha1',
    kind: 'EMQX',
    metadata: { name: 'emqx' },
    spec: { emqxTemplate: { image: 'emqx/emqx:5.0.6', bootstrapConfig: 'a = 1' } },
  };
  const loaded = loadEMQX(alpha);
  assert.deepEqual(loaded.issues, []);
  assert.equal(loaded.convertedFrom, 'v2alpha1');
  assert.equal(loaded.emqx?.apiVersion, 'apps.emqx.io/v2beta1');
  assert.equal(loaded.emqx?.spec.coreTemplate?.spec?.replicas, 3);
  assert.equal(loaded.emqx?.spec.replicantTemplate?.spec?.replicas, 3);
  assert.equal(loaded.emqx?.spec.config?.data, 'a = 1');
  assert.equal(loaded.emqx?.spec.config?.mode, 'Merge');
  // A field of the released shape in an early-shape resource is refused: the two shapes do not mix.
  const mixed = loadEMQX({ ...alpha, spec: { ...alpha.spec, image: 'x' } });
  assert.equal(mixed.emqx, undefined);
  assertIssue(mixed.issues, 'spec', 'v2alpha1 has two shapes; use one');
  assertIssue(
    loadEMQX({ ...alpha, spec: { emqxTemplate: { image: 'x' }, coreTemplate: { spec: { replicas: 0 } } } })
      .issues,
    'spec.coreTemplate.spec.replicas',
    'must be >= 1',
  );
});

test('loadRebalance applies the Rebalance defaults', () => {
  const r = loadRebalance({
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'Rebalance',
    metadata: { name: 'rb' },
    spec: { instanceName: 'emqx', rebalanceStrategy: { connEvictRate: 10 } },
  });
  assert.deepEqual(r.issues, []);
  assert.equal(r.rebalance?.spec.rebalanceStrategy.sessEvictRate, 500);
  assert.equal(r.rebalance?.spec.instanceKind, 'EMQX');
  assert.equal(loadRebalance({}).rebalance, undefined);
  // Clients that send an empty instanceKind (the Go operator accepts it) get EMQX.
  const empty = loadRebalance({
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'Rebalance',
    metadata: { name: 'rb' },
    spec: { instanceKind: '', instanceName: 'emqx', rebalanceStrategy: { connEvictRate: 10 } },
  });
  assert.deepEqual(empty.issues, []);
  assert.equal(empty.rebalance?.spec.instanceKind, 'EMQX');
});

test('every default the API server would apply is also applied by applyDefaults / applyRebalanceDefaults', () => {
  // Give every parent object, so that each schema default has somewhere to land.
  const full = emqx({
    config: {},
    updateStrategy: { evacuationStrategy: {}, core: {}, replicant: {} },
    coreTemplate: { spec: { persistentVolumeClaimRetentionPolicy: {} } },
    replicantTemplate: { spec: {} },
    dashboardServiceTemplate: {},
    listenersServiceTemplate: {},
  });
  const byServer = applySchemaDefaults(emqxV2beta1Schema(), full) as Record<string, unknown>;
  assert.notDeepEqual(byServer, full, 'the schema has defaults');
  const byOperator = applyDefaults(full as never) as unknown as Record<string, unknown>;
  const missing: string[] = [];
  const compare = (server: unknown, operator: unknown, at: string) => {
    if (typeof server === 'object' && server !== null && !Array.isArray(server)) {
      for (const [k, v] of Object.entries(server))
        compare(v, (operator as Record<string, unknown> | undefined)?.[k], `${at}.${k}`);
    } else if (JSON.stringify(server) !== JSON.stringify(operator)) {
      missing.push(`${at}: server ${JSON.stringify(server)}, operator ${JSON.stringify(operator)}`);
    }
  };
  compare(byServer, byOperator, '');
  assert.deepEqual(missing, []);

  const rb = {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'Rebalance',
    metadata: { name: 'rb' },
    spec: { instanceName: 'emqx', rebalanceStrategy: { connEvictRate: 1 } },
  };
  assert.deepEqual(applyRebalanceDefaults(rb as never), applySchemaDefaults(rebalanceV2beta1Schema(), rb));
});

test('replicas and spec.config.data have upper bounds (v2beta1 and v2alpha1)', () => {
  assert.deepEqual(
    lines(
      validateEMQX(
        emqx({
          coreTemplate: { spec: { replicas: 2147483647 } },
          replicantTemplate: { spec: { replicas: 100000 } },
          config: { data: '#'.repeat(256 * 1024 + 1) },
        }),
      ),
    ).sort(),
    [
      'spec.config.data: must be at most 262144 characters',
      'spec.coreTemplate.spec.replicas: must be <= 32',
      'spec.replicantTemplate.spec.replicas: must be <= 1024',
    ].sort(),
  );
  assert.deepEqual(
    validateEMQX(
      emqx({
        coreTemplate: { spec: { replicas: 32 } },
        replicantTemplate: { spec: { replicas: 1024 } },
        config: { data: '#'.repeat(256 * 1024) },
      }),
    ),
    [],
  );
  const alpha = {
    apiVersion: 'apps.emqx.io/v2alpha1',
    kind: 'EMQX',
    metadata: { name: 'emqx' },
    spec: {
      emqxTemplate: { image: 'emqx/emqx:5.8.3', bootstrapConfig: '#'.repeat(256 * 1024 + 1) },
      coreTemplate: { spec: { replicas: 33 } },
    },
  };
  assertIssue(validateEMQX(alpha), 'spec.emqxTemplate.bootstrapConfig', 'must be at most 262144 characters');
  assertIssue(validateEMQX(alpha), 'spec.coreTemplate.spec.replicas', 'must be <= 32');
});

test('a user EMQX_NODE__COOKIE in a role template is refused (it would split the cluster cookie)', () => {
  const issues = validateEMQX(
    emqx({
      coreTemplate: { spec: { env: [{ name: 'A', value: '1' }] } },
      replicantTemplate: { spec: { env: [{ name: 'EMQX_NODE__COOKIE', value: 'other' }] } },
    }),
  );
  assert.deepEqual(lines(issues), [
    'spec.replicantTemplate.spec.env: EMQX_NODE__COOKIE cannot be set here: every node takes the cookie from the ' +
      'cookie Secret (set node.cookie in spec.config.data to choose it)',
  ]);
  assertIssue(
    validateEMQX({
      apiVersion: 'apps.emqx.io/v2alpha1',
      kind: 'EMQX',
      metadata: { name: 'emqx' },
      spec: { emqxTemplate: { image: 'emqx/emqx:5.8.3', env: [{ name: 'EMQX_NODE__COOKIE', value: 'x' }] } },
    }),
    'spec.emqxTemplate.env',
    'EMQX_NODE__COOKIE cannot be set here',
  );
});

test('spec.tls: secretName or issuerRef (exactly one), extraDNSNames only with issuerRef', () => {
  const issuer = { name: 'ca', kind: 'ClusterIssuer' };
  assert.deepEqual(
    lines(
      validateEMQX(emqx({ tls: { listeners: { issuerRef: issuer, extraDNSNames: ['mqtt.example.com'] } } })),
    ),
    [],
  );
  assert.deepEqual(lines(validateEMQX(emqx({ tls: { dashboard: { secretName: 'dash' } } }))), []);
  assertIssue(
    validateEMQX(emqx({ tls: { listeners: { secretName: 'mine', issuerRef: issuer } } })),
    'spec.tls.listeners',
    'set either secretName',
  );
  assertIssue(validateEMQX(emqx({ tls: { dashboard: {} } })), 'spec.tls.dashboard', 'set either secretName');
  assertIssue(
    validateEMQX(emqx({ tls: { listeners: { secretName: 'mine', extraDNSNames: ['a.example.com'] } } })),
    'spec.tls.listeners.extraDNSNames',
    'extraDNSNames is for the Certificate',
  );
  assertIssue(
    validateEMQX(emqx({ tls: { listeners: { issuerRef: issuer, extraDNSNames: ['Bad_Name'] } } })),
    'spec.tls.listeners.extraDNSNames[0]',
    /pattern|must match/,
  );
  assertIssue(
    validateEMQX(emqx({ tls: { listeners: { issuerRef: {} } } })),
    'spec.tls.listeners.issuerRef.name',
    'required',
  );
});

test('spec.tls.listeners.perListener: alone is enough; listener names ssl:/wss:, one entry per listener', () => {
  const one = { listener: 'ssl:internal', secretName: 'internal-tls' };
  assert.deepEqual(lines(validateEMQX(emqx({ tls: { listeners: { perListener: [one] } } }))), []);
  assertIssue(
    validateEMQX(emqx({ tls: { listeners: { perListener: [] } } })),
    'spec.tls.listeners',
    'or perListener alone',
  );
  assertIssue(
    validateEMQX(
      emqx({ tls: { listeners: { perListener: [{ listener: 'tcp:default', secretName: 'a' }] } } }),
    ),
    'spec.tls.listeners.perListener[0].listener',
    /pattern|must match/,
  );
  assertIssue(
    validateEMQX(emqx({ tls: { listeners: { perListener: [one, { ...one, secretName: 'other' }] } } })),
    'spec.tls.listeners.perListener[1]',
    /duplicate entry with listener="ssl:internal"/,
  );
});
