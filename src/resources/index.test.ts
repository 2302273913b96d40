import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEmqxConfig } from '../emqx/config.ts';
import { buildAll, currentHash } from './index.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';

const inputs = {
  cookie: 'generated-cookie',
  operatorKey: { key: 'emqx-operator-controller', secret: 'generated-secret' },
  userKeys: [],
};
const ids = (objs: { kind?: string; metadata?: { name?: string } }[]) =>
  objs.map((o) => `${o.kind}/${o.metadata?.name}`);

test('buildAll: core-only cluster in the stable order', () => {
  const emqx = makeEmqx();
  const hash = currentHash(emqx, {}, 'core');
  assert.deepEqual(ids(buildAll(emqx, {}, inputs)), [
    'Secret/emqx-node-cookie',
    'Secret/emqx-bootstrap-api-key',
    'ConfigMap/emqx-configs',
    'Service/emqx-headless',
    'StatefulSet/emqx-core',
    'PodDisruptionBudget/emqx-core',
    'Service/emqx-dashboard',
    'Service/emqx-listeners',
  ]);
  const sts = buildAll(emqx, {}, inputs)[4] as {
    spec: { template: { metadata: { labels: Record<string, string> } } };
  };
  assert.equal(sts.spec.template.metadata.labels['apps.emqx.io/pod-template-hash'], hash);
  const listeners = buildAll(emqx, {}, inputs).at(-1) as { spec: { selector: Record<string, string> } };
  assert.equal(listeners.spec.selector['apps.emqx.io/db-role'], 'core');
});

test('buildAll: replicants, licence, k8s discovery, disabled services', () => {
  const emqx = makeEmqx({
    replicantTemplate: { spec: { replicas: 3 } },
    dashboardServiceTemplate: { enabled: false },
  });
  const conf = parseEmqxConfig('license.key = "L"\ncluster.discovery_strategy = k8s');
  const rHash = currentHash(emqx, conf, 'replicant');
  const objs = buildAll(emqx, conf, inputs);
  assert.deepEqual(ids(objs), [
    'ServiceAccount/emqx-discovery',
    'Role/emqx-discovery',
    'RoleBinding/emqx-discovery',
    'Secret/emqx-node-cookie',
    'Secret/emqx-bootstrap-api-key',
    'Secret/emqx-license',
    'ConfigMap/emqx-configs',
    'Service/emqx-headless',
    'StatefulSet/emqx-core',
    `ReplicaSet/emqx-replicant-${rHash}`,
    'PodDisruptionBudget/emqx-core',
    'PodDisruptionBudget/emqx-replicant',
    'Service/emqx-listeners',
  ]);
  const listeners = objs.at(-1) as { spec: { selector: Record<string, string> } };
  assert.equal(listeners.spec.selector['apps.emqx.io/db-role'], 'replicant');
});

test('buildAll: explicit hashes, listener ports and target role are used', () => {
  const emqx = makeEmqx({ replicantTemplate: {}, updateStrategy: { core: { type: 'BlueGreen' } } });
  const objs = buildAll(
    emqx,
    {},
    {
      ...inputs,
      coreHash: 'c1',
      replicantHash: 'r1',
      listenerPorts: [{ name: 'custom', port: 2883, protocol: 'TCP' }],
      listenersTargetRole: 'core',
    },
  );
  assert.ok(ids(objs).includes('StatefulSet/emqx-core-c1'));
  assert.ok(ids(objs).includes('ReplicaSet/emqx-replicant-r1'));
  const listeners = objs.at(-1) as { spec: { selector: Record<string, string>; ports: { name: string }[] } };
  assert.deepEqual(
    listeners.spec.ports.map((p) => p.name),
    ['custom'],
  );
  assert.equal(listeners.spec.selector['apps.emqx.io/db-role'], 'core');
});

test('buildAll: secrets never leak into non-Secret objects', () => {
  const conf = parseEmqxConfig('node.cookie = "COOKIE-XYZ"\nlicense.key = "LICENSE-XYZ"');
  const objs = buildAll(makeEmqx({ replicantTemplate: {} }), conf, {
    cookie: 'GEN-COOKIE',
    operatorKey: { key: 'emqx-operator-controller', secret: 'OPERATOR-SECRET' },
    userKeys: [{ key: 'u', secret: 'USER-SECRET' }],
  });
  for (const o of objs) {
    if (o.kind === 'Secret') continue;
    const text = JSON.stringify(o);
    for (const s of ['COOKIE-XYZ', 'LICENSE-XYZ', 'GEN-COOKIE', 'OPERATOR-SECRET', 'USER-SECRET']) {
      assert.ok(!text.includes(s), `${o.kind}/${o.metadata?.name} contains ${s}`);
    }
  }
});

test('buildAll is deterministic', () => {
  const a = buildAll(makeEmqx({ replicantTemplate: {} }), parseEmqxConfig('a.b = 1'), inputs);
  const b = buildAll(makeEmqx({ replicantTemplate: {} }), parseEmqxConfig('a.b = 1'), inputs);
  assert.deepEqual(a, b);
});
