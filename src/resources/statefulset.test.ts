import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podTemplate, hashPodTemplate } from './pod-template.ts';
import { coreStatefulSet } from './statefulset.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';

const role = (r: string) => ({
  'apps.emqx.io/instance': 'emqx',
  'apps.emqx.io/managed-by': 'emqx-operator',
  'apps.emqx.io/db-role': r,
});

test('coreStatefulSet InPlace: stable name, OnDelete, role-only selector, PVC template, retention, history', () => {
  const emqx = makeEmqx({
    revisionHistoryLimit: 5,
    coreTemplate: {
      metadata: { labels: { team: 'a' } },
      spec: {
        replicas: 3,
        volumeClaimTemplates: { storageClassName: 'fast', resources: { requests: { storage: '2Gi' } } },
        persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete' },
      },
    },
  });
  const hash = hashPodTemplate(podTemplate(emqx, {}, 'core'));
  const sts = coreStatefulSet(emqx, {}, { hash });
  assert.equal(sts.metadata?.name, 'emqx-core');
  assert.equal(sts.metadata?.labels?.team, 'a');
  assert.equal(sts.metadata?.ownerReferences?.[0]?.controller, true);
  assert.equal(sts.spec?.replicas, 3);
  assert.equal(sts.spec?.serviceName, 'emqx-headless');
  assert.equal(sts.spec?.podManagementPolicy, 'Parallel');
  assert.deepEqual(sts.spec?.updateStrategy, { type: 'OnDelete' });
  assert.equal(sts.spec?.revisionHistoryLimit, 5);
  assert.deepEqual(sts.spec?.selector, { matchLabels: role('core') });
  assert.equal(sts.spec?.template.metadata?.labels?.['apps.emqx.io/pod-template-hash'], hash);
  assert.equal(sts.spec?.template.metadata?.labels?.team, 'a');
  assert.deepEqual(sts.spec?.volumeClaimTemplates, [
    {
      metadata: { name: 'emqx-core-data', labels: role('core') },
      spec: {
        storageClassName: 'fast',
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '2Gi' } },
        volumeMode: 'Filesystem',
      },
    },
  ]);
  assert.deepEqual(sts.spec?.persistentVolumeClaimRetentionPolicy, {
    whenDeleted: 'Retain',
    whenScaled: 'Delete',
  });
});

test('coreStatefulSet defaults: 2 replicas, 500Mi ReadWriteOnce PVC, Retain/Retain', () => {
  const sts = coreStatefulSet(makeEmqx(), {}, { hash: 'abc' });
  assert.equal(sts.spec?.replicas, 2);
  assert.deepEqual(sts.spec?.volumeClaimTemplates?.[0]?.spec, {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: '500Mi' } },
    volumeMode: 'Filesystem',
  });
  assert.deepEqual(sts.spec?.persistentVolumeClaimRetentionPolicy, {
    whenDeleted: 'Retain',
    whenScaled: 'Retain',
  });
  assert.equal(sts.spec?.revisionHistoryLimit, 3);
});

test('coreStatefulSet BlueGreen: hashed name and selector', () => {
  const emqx = makeEmqx({ updateStrategy: { core: { type: 'BlueGreen' } } });
  const sts = coreStatefulSet(emqx, {}, { hash: 'h4sh' });
  assert.equal(sts.metadata?.name, 'emqx-core-h4sh');
  assert.deepEqual(sts.spec?.selector?.matchLabels, {
    ...role('core'),
    'apps.emqx.io/pod-template-hash': 'h4sh',
  });
  assert.equal(
    coreStatefulSet(makeEmqx(), {}, { hash: 'h4sh', blueGreen: true }).metadata?.name,
    'emqx-core-h4sh',
  );
});

test('coreStatefulSet EmptyDir: no volumeClaimTemplates, data on an emptyDir', () => {
  const sts = coreStatefulSet(
    makeEmqx({ coreTemplate: { spec: { dataVolume: 'EmptyDir' } } }),
    {},
    { hash: 'x' },
  );
  assert.equal(sts.spec?.volumeClaimTemplates, undefined);
  assert.equal(sts.spec?.persistentVolumeClaimRetentionPolicy, undefined);
  assert.ok(sts.spec?.template.spec?.volumes?.some((v) => v.name === 'emqx-core-data' && v.emptyDir));
});
