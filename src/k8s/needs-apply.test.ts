import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  applyDiff,
  describeDiff,
  formatPath,
  needsApply,
  parseQuantity,
  type DiffEntry,
} from './needs-apply.ts';

// Desired objects and the live objects kube-apiserver v1.36.3 returned after a server-side apply of them (with the
// defaults it added: podManagementPolicy, updateStrategy, terminationMessagePath, clusterIP, ipFamilies, ...; and
// with the quantities it normalised: cpu "0.5" → "500m", memory "2048Mi" → "2Gi").
type Obj = Record<string, any>;
const fixtures = JSON.parse(
  fs.readFileSync(new URL('./testdata/ssa-fixtures.json', import.meta.url), 'utf8'),
) as Record<string, { desired: Obj; live: Obj }>;
const fx = (name: string) => structuredClone(fixtures[name]!);
const KINDS = ['statefulset', 'replicaset', 'service', 'headless', 'pdb'];

function paths(diff: DiffEntry[]): string[] {
  return diff.map((d) => `${d.path} ${d.reason}`);
}

function withoutManagedFields(o: Obj): Obj {
  const c = structuredClone(o);
  delete c.metadata.managedFields;
  return c;
}

test('an object just applied needs no apply: server defaults and normalised quantities do not count', () => {
  for (const k of KINDS) {
    const { desired, live } = fx(k);
    assert.deepEqual(applyDiff(desired, live), [], k);
    assert.equal(needsApply(desired, live), false, k);
    assert.equal(needsApply(desired, withoutManagedFields(live)), false, `${k} without managedFields`);
  }
});

test('the fixtures really contain server-added defaults and normalised quantities', () => {
  // guards the test above: if these were absent, it would prove nothing
  const sts = fx('statefulset').live;
  assert.ok(sts.spec.updateStrategy && sts.spec.revisionHistoryLimit !== undefined);
  const c = sts.spec.template.spec.containers[0];
  assert.equal(c.terminationMessagePath, '/dev/termination-log');
  assert.equal(c.resources.requests.cpu, '500m');
  assert.equal(fx('statefulset').desired.spec.template.spec.containers[0].resources.requests.cpu, '0.5');
  assert.equal(c.resources.limits.memory, '2Gi');
  assert.ok(fx('service').live.spec.clusterIP);
  assert.equal(fx('service').live.spec.ports[0].protocol, 'TCP');
  assert.ok(fx('pdb').live.metadata.managedFields.length > 0);
});

test('extra live fields from other managers are ignored', () => {
  const { desired, live } = fx('statefulset');
  live.metadata.annotations['kubectl.kubernetes.io/restartedAt'] = 'now';
  live.metadata.labels['other'] = 'x';
  live.spec.template.spec.containers.push({ name: 'sidecar', image: 'istio' });
  live.status = { replicas: 3, readyReplicas: 1 };
  assert.deepEqual(applyDiff(desired, live), []);
});

const container = (o: Obj) => o.spec.template.spec.containers[0];

const changes: Array<[string, string, (d: Obj, l: Obj) => void, string[]]> = [
  [
    'statefulset',
    'image',
    (d) => (container(d).image = 'emqx/emqx-enterprise:5.10.1'),
    ['spec.template.spec.containers[name=emqx].image changed'],
  ],
  ['statefulset', 'replicas', (d) => (d.spec.replicas = 4), ['spec.replicas changed']],
  [
    'statefulset',
    'label value',
    (d) => (d.metadata.labels['apps.emqx.io/db-role'] = 'replicant'),
    ['metadata.labels[apps.emqx.io/db-role] changed'],
  ],
  [
    'statefulset',
    'added label',
    (d) => (d.metadata.labels.team = 'a'),
    ['metadata.labels.team absent', 'metadata.labels.team unowned'],
  ],
  [
    'statefulset',
    'env value',
    (d) => (container(d).env[0].value = 'static'),
    ['spec.template.spec.containers[name=emqx].env[name=EMQX_CLUSTER__DISCOVERY_STRATEGY].value changed'],
  ],
  [
    'statefulset',
    'removed env var',
    (d) => container(d).env.splice(3, 1),
    ['spec.template.spec.containers[emqx].env[EMQX_HOST] removed'],
  ],
  [
    'statefulset',
    'added env var',
    (d) => container(d).env.push({ name: 'NEW', value: '1' }),
    [
      'spec.template.spec.containers[name=emqx].env[name=NEW] absent',
      'spec.template.spec.containers[emqx].env[NEW] unowned',
    ],
  ],
  [
    'statefulset',
    'reordered env',
    (d) => container(d).env.reverse(),
    ['spec.template.spec.containers[name=emqx].env order'],
  ],
  [
    'statefulset',
    'container port',
    (d) => (container(d).ports[0].containerPort = 18084),
    [
      'spec.template.spec.containers[name=emqx].ports[containerPort=18084,protocol=TCP] absent',
      'spec.template.spec.containers[emqx].ports[18083,TCP] removed',
      'spec.template.spec.containers[emqx].ports[dashboard] unowned',
    ],
  ],
  [
    'statefulset',
    'memory request',
    (d) => (container(d).resources.requests.memory = '2Gi'),
    ['spec.template.spec.containers[name=emqx].resources.requests.memory changed'],
  ],
  [
    'statefulset',
    'removed annotation',
    (d) => delete d.metadata.annotations,
    ['metadata.annotations removed'],
  ],
  [
    'statefulset',
    'removed volume',
    (d) => d.spec.template.spec.volumes.pop(),
    ['spec.template.spec.volumes[emqx-core-data] removed'],
  ],
  [
    'statefulset',
    'args set',
    (d) => (container(d).args = ['--x']),
    [
      'spec.template.spec.containers[name=emqx].args absent',
      'spec.template.spec.containers[emqx].args unowned',
    ],
  ],
  [
    'statefulset',
    'null means absent',
    (d) => (d.spec.revisionHistoryLimit = null),
    ['spec.revisionHistoryLimit changed'],
  ],
  ['replicaset', 'replicas', (d) => (d.spec.replicas = 0), ['spec.replicas changed']],
  [
    'service',
    'port',
    (d) => (d.spec.ports[1].port = 8084),
    [
      'spec.ports[port=8084,protocol=TCP] absent',
      'spec.ports[8083,TCP] removed',
      'spec.ports[ws-default] unowned',
    ],
  ],
  ['service', 'removed port', (d) => d.spec.ports.pop(), ['spec.ports[8083,TCP] removed']],
  [
    'service',
    'targetPort',
    (d) => (d.spec.ports[0].targetPort = 'mqtt'),
    ['spec.ports[port=1883,protocol=TCP].targetPort changed'],
  ],
  ['service', 'type', (d) => (d.spec.type = 'LoadBalancer'), ['spec.type changed']],
  [
    'headless',
    'publishNotReadyAddresses',
    (d) => (d.spec.publishNotReadyAddresses = false),
    ['spec.publishNotReadyAddresses changed'],
  ],
  ['pdb', 'minAvailable', (d) => (d.spec.minAvailable = 2), ['spec.minAvailable changed']],
  [
    'pdb',
    'minAvailable → maxUnavailable',
    (d) => {
      delete d.spec.minAvailable;
      d.spec.maxUnavailable = 1;
    },
    ['spec.maxUnavailable absent', 'spec.minAvailable removed', 'spec.maxUnavailable unowned'],
  ],
];

for (const [kind, what, mutate, expected] of changes) {
  test(`${kind}: a changed ${what} needs an apply`, () => {
    const { desired, live } = fx(kind);
    mutate(desired, live);
    assert.equal(needsApply(desired, live), true);
    assert.deepEqual(paths(applyDiff(desired, live)), expected);
  });
}

test('removals are only visible through managedFields (documented limitation)', () => {
  const { desired, live } = fx('statefulset');
  container(desired).env.pop();
  assert.equal(needsApply(desired, live), true);
  assert.equal(needsApply(desired, withoutManagedFields(live)), false);
  assert.equal(needsApply(desired, live, { checkOwnership: false }), false);
});

test('quantities compare by value under resources; not elsewhere', () => {
  const { desired, live } = fx('statefulset');
  container(desired).resources.requests.memory = '1024Mi';
  container(desired).resources.requests.cpu = '500m';
  container(desired).resources.limits.memory = 2147483648;
  desired.spec.volumeClaimTemplates[0].spec.resources.requests.storage = '20480Ki';
  assert.deepEqual(applyDiff(desired, live), []);
  desired.metadata.labels['apps.emqx.io/db-role'] = 'core ';
  assert.equal(needsApply(desired, live), true);
  assert.equal(parseQuantity('1Gi'), 1073741824);
  assert.equal(parseQuantity('0.5'), 0.5);
  assert.equal(parseQuantity('500m'), 0.5);
  assert.equal(parseQuantity('1e3'), 1000);
  assert.equal(parseQuantity('1.5k'), 1500);
  assert.equal(parseQuantity('abc'), undefined);
  assert.equal(parseQuantity('1 Gi'), undefined);
});

test('a missing live object needs an apply', () => {
  const { desired } = fx('service');
  assert.equal(needsApply(desired, undefined), true);
  assert.deepEqual(applyDiff(desired, null), [{ path: '', reason: 'missing' }]);
});

test('ownership: not owned by our Apply entry, or a field taken over by another manager', () => {
  const { desired, live } = fx('service');
  const ours = live.metadata.managedFields[0];
  // created by a POST (operation Update), never applied: an apply would rewrite managedFields
  const created = structuredClone(live);
  created.metadata.managedFields = [{ ...ours, operation: 'Update' }];
  assert.deepEqual(paths(applyDiff(desired, created)), [' unowned']);
  // another manager forced spec.type to itself (same value)
  const taken = structuredClone(live);
  delete taken.metadata.managedFields[0].fieldsV1['f:spec']['f:type'];
  taken.metadata.managedFields.push({
    manager: 'kubectl',
    operation: 'Apply',
    fieldsV1: { 'f:spec': { 'f:type': {} } },
  });
  assert.deepEqual(paths(applyDiff(desired, taken)), ['spec.type unowned']);
  // a different manager name is looked up when asked
  assert.deepEqual(paths(applyDiff(desired, live, { manager: 'someone-else' })), [' unowned']);
});

test('status: compared only with subresource status, conditions by type, times as instants', () => {
  const desired = {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace: 'default' },
    spec: { image: 'ignored' },
    status: {
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: '2024-01-01T00:00:00Z' },
        { type: 'Available', status: 'True', lastTransitionTime: '2024-01-01T00:00:00Z' },
      ],
      coreNodesStatus: { readyReplicas: 3 },
    },
  };
  const live = {
    ...structuredClone(desired),
    spec: { image: 'other' },
    status: {
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: 'True', lastTransitionTime: new Date('2024-01-01T00:00:00Z') },
        { type: 'Available', status: 'True', lastTransitionTime: '2024-01-01T00:00:00.000000Z' },
      ],
      coreNodesStatus: { readyReplicas: 3, replicas: 3 },
    },
  };
  assert.deepEqual(applyDiff(desired, live, { subresource: 'status', checkOwnership: false }), []);
  desired.status.conditions[1]!.status = 'False';
  assert.deepEqual(paths(applyDiff(desired, live, { subresource: 'status', checkOwnership: false })), [
    'status.conditions[type=Available].status changed',
  ]);
  // without subresource the status is ignored and the spec is compared
  assert.deepEqual(paths(applyDiff(desired, live, { checkOwnership: false })), ['spec.image changed']);
});

test('finalizers are a set', () => {
  const desired = { metadata: { name: 'x', finalizers: ['apps.emqx.io/finalizer'] } };
  const live = { metadata: { name: 'x', finalizers: ['other/f', 'apps.emqx.io/finalizer'] } };
  assert.equal(needsApply(desired, live), false);
  assert.equal(needsApply({ metadata: { finalizers: ['z'] } }, live), true);
});

test('limit stops early; describeDiff never prints values', () => {
  const { desired, live } = fx('statefulset');
  container(desired).image = 'secret-looking-value';
  desired.spec.replicas = 9;
  assert.equal(applyDiff(desired, live, { limit: 1 }).length, 1);
  const text = describeDiff(applyDiff(desired, live));
  assert.match(text, /spec.replicas \(changed\)/);
  assert.ok(!text.includes('secret-looking-value'));
  assert.equal(
    formatPath(['metadata', 'labels', 'a.b/c', { key: 'name=x' }]),
    'metadata.labels[a.b/c][name=x]',
  );
});
