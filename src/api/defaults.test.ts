import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults, applyRebalanceDefaults } from './defaults.ts';
import type { EMQX, Rebalance } from './types.ts';

function minimal(spec: Partial<EMQX['spec']> = {}): EMQX {
  return {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace: 'default' },
    spec: { image: 'emqx/emqx:5.8.3', ...spec },
  };
}

test('applyDefaults fills every documented default on a minimal resource', () => {
  const d = applyDefaults(minimal());
  assert.equal(d.spec.clusterDomain, 'cluster.local');
  assert.equal(d.spec.revisionHistoryLimit, 3);
  assert.deepEqual(d.spec.config, { mode: 'Merge' });
  assert.deepEqual(d.spec.updateStrategy, {
    type: 'Recreate',
    initialDelaySeconds: 10,
    evacuationStrategy: { waitTakeover: 10, connEvictRate: 1000, sessEvictRate: 1000, waitHealthCheck: 60 },
    core: { type: 'InPlace' },
    replicant: { type: 'BlueGreen' },
  });
  const core = d.spec.coreTemplate?.spec;
  assert.ok(core);
  assert.equal(core.replicas, 2);
  assert.equal(core.dataVolume, 'PersistentVolumeClaim');
  assert.deepEqual(core.volumeClaimTemplates, {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: '500Mi' } },
  });
  assert.deepEqual(core.persistentVolumeClaimRetentionPolicy, {
    whenDeleted: 'Retain',
    whenScaled: 'Retain',
  });
  assert.deepEqual(core.podSecurityContext, {
    runAsUser: 1000,
    runAsGroup: 1000,
    fsGroup: 1000,
    fsGroupChangePolicy: 'Always',
    supplementalGroups: [1000],
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  });
  assert.deepEqual(core.containerSecurityContext, {
    runAsUser: 1000,
    runAsGroup: 1000,
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  });
  assert.deepEqual(core.livenessProbe, {
    httpGet: { path: '/status', port: 'dashboard' },
    initialDelaySeconds: 60,
    periodSeconds: 30,
    failureThreshold: 3,
  });
  assert.deepEqual(core.readinessProbe, {
    httpGet: { path: '/status', port: 'dashboard' },
    initialDelaySeconds: 10,
    periodSeconds: 5,
    failureThreshold: 12,
  });
  assert.equal(d.spec.replicantTemplate, undefined, 'no replicantTemplate means no replicants');
  assert.deepEqual(d.spec.dashboardServiceTemplate, { enabled: true });
  assert.deepEqual(d.spec.listenersServiceTemplate, { enabled: true });
});

test('applyDefaults is pure and idempotent', () => {
  const inputs = [
    minimal(),
    minimal({
      replicantTemplate: { spec: { toleRations: [{ key: 'a', operator: 'Exists' }] } },
      coreTemplate: { spec: { volumeClaimTemplates: { storageClassName: 'fast' } } },
      updateStrategy: { evacuationStrategy: { waitTakeover: 1 } },
    }),
  ];
  for (const input of inputs) {
    const before = structuredClone(input);
    const once = applyDefaults(input);
    assert.deepEqual(input, before, 'the argument is not modified');
    assert.deepEqual(applyDefaults(once), once);
  }
});

test('user values win over defaults, security contexts are merged key by key', () => {
  const d = applyDefaults(
    minimal({
      clusterDomain: 'example.org',
      revisionHistoryLimit: 0,
      config: { mode: 'Replace', data: 'a = 1' },
      updateStrategy: {
        initialDelaySeconds: 0,
        evacuationStrategy: { connEvictRate: 5 },
        core: { type: 'BlueGreen' },
      },
      coreTemplate: {
        spec: {
          replicas: 1,
          podSecurityContext: { runAsUser: 0, runAsNonRoot: false },
          containerSecurityContext: { readOnlyRootFilesystem: true },
          livenessProbe: { tcpSocket: { port: 1883 } },
          dataVolume: 'EmptyDir',
          persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete' },
        },
      },
      dashboardServiceTemplate: { enabled: false },
    }),
  );
  assert.equal(d.spec.clusterDomain, 'example.org');
  assert.equal(d.spec.revisionHistoryLimit, 0);
  assert.deepEqual(d.spec.config, { mode: 'Replace', data: 'a = 1' });
  assert.equal(d.spec.updateStrategy?.initialDelaySeconds, 0);
  assert.deepEqual(d.spec.updateStrategy?.evacuationStrategy, {
    waitTakeover: 10,
    connEvictRate: 5,
    sessEvictRate: 1000,
    waitHealthCheck: 60,
  });
  assert.equal(d.spec.updateStrategy?.core?.type, 'BlueGreen');
  const core = d.spec.coreTemplate?.spec;
  assert.ok(core);
  assert.equal(core.replicas, 1);
  assert.equal(core.podSecurityContext?.runAsUser, 0);
  assert.equal(core.podSecurityContext?.runAsNonRoot, false);
  assert.equal(core.podSecurityContext?.fsGroup, 1000);
  assert.equal(core.containerSecurityContext?.readOnlyRootFilesystem, true);
  assert.deepEqual(core.containerSecurityContext?.capabilities, { drop: ['ALL'] });
  assert.deepEqual(core.livenessProbe, { tcpSocket: { port: 1883 } });
  assert.equal(core.readinessProbe?.httpGet?.path, '/status');
  assert.equal(core.dataVolume, 'EmptyDir');
  assert.equal(core.volumeClaimTemplates, undefined, 'no PVC spec is invented for EmptyDir');
  assert.deepEqual(core.persistentVolumeClaimRetentionPolicy, {
    whenDeleted: 'Retain',
    whenScaled: 'Delete',
  });
  assert.equal(d.spec.dashboardServiceTemplate?.enabled, false);
  assert.equal(d.spec.listenersServiceTemplate?.enabled, true);
});

test('a partial PVC spec gets access modes and size, keeping the rest', () => {
  const d = applyDefaults(
    minimal({ coreTemplate: { spec: { volumeClaimTemplates: { storageClassName: 'fast' } } } }),
  );
  assert.deepEqual(d.spec.coreTemplate?.spec?.volumeClaimTemplates, {
    storageClassName: 'fast',
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: '500Mi' } },
  });
  const big = applyDefaults(
    minimal({
      coreTemplate: {
        spec: {
          volumeClaimTemplates: {
            accessModes: ['ReadWriteMany'],
            resources: { requests: { storage: '1Gi' } },
          },
        },
      },
    }),
  );
  assert.deepEqual(big.spec.coreTemplate?.spec?.volumeClaimTemplates, {
    accessModes: ['ReadWriteMany'],
    resources: { requests: { storage: '1Gi' } },
  });
});

test('a present replicantTemplate gets 2 replicas and the pod defaults; explicit 0 stays 0', () => {
  const d = applyDefaults(minimal({ replicantTemplate: {} }));
  assert.equal(d.spec.replicantTemplate?.spec?.replicas, 2);
  assert.equal(d.spec.replicantTemplate?.spec?.podSecurityContext?.runAsUser, 1000);
  assert.equal(d.spec.replicantTemplate?.spec?.readinessProbe?.httpGet?.path, '/status');
  assert.equal(
    (d.spec.replicantTemplate?.spec as Record<string, unknown>).dataVolume,
    undefined,
    'replicants have no data volume',
  );
  const zero = applyDefaults(minimal({ replicantTemplate: { spec: { replicas: 0 } } }));
  assert.equal(zero.spec.replicantTemplate?.spec?.replicas, 0);
});

test('toleRations are merged into tolerations without duplicates and the legacy field is dropped', () => {
  const d = applyDefaults(
    minimal({
      coreTemplate: {
        spec: {
          tolerations: [{ key: 'a', operator: 'Exists' }],
          toleRations: [
            { key: 'a', operator: 'Exists' },
            { key: 'b', operator: 'Equal', value: 'x', effect: 'NoSchedule' },
          ],
        },
      },
    }),
  );
  assert.deepEqual(d.spec.coreTemplate?.spec?.tolerations, [
    { key: 'a', operator: 'Exists' },
    { key: 'b', operator: 'Equal', value: 'x', effect: 'NoSchedule' },
  ]);
  assert.equal(d.spec.coreTemplate?.spec?.toleRations, undefined);
});

test('applyRebalanceDefaults fills instanceKind and the strategy, keeping user values', () => {
  const r: Rebalance = {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'Rebalance',
    metadata: { name: 'r' },
    spec: { instanceName: 'emqx', rebalanceStrategy: { connEvictRate: 10, waitTakeover: 5 } },
  };
  const before = structuredClone(r);
  const d = applyRebalanceDefaults(r);
  assert.deepEqual(r, before);
  assert.equal(d.spec.instanceKind, 'EMQX');
  assert.deepEqual(d.spec.rebalanceStrategy, {
    connEvictRate: 10,
    sessEvictRate: 500,
    waitTakeover: 5,
    waitHealthCheck: 60,
    absConnThreshold: 1000,
    relConnThreshold: '1.1',
    absSessThreshold: 1000,
    relSessThreshold: '1.1',
  });
  assert.deepEqual(applyRebalanceDefaults(d), d);
});

test('security contexts: an explicit {} opts out of the defaults, root drops runAsNonRoot, user values win', () => {
  const core = (spec: Record<string, unknown>) =>
    applyDefaults(minimal({ coreTemplate: { spec } })).spec.coreTemplate!.spec!;

  const optedOut = core({ podSecurityContext: {}, containerSecurityContext: {} });
  assert.deepEqual(optedOut.podSecurityContext, {});
  assert.deepEqual(optedOut.containerSecurityContext, {});

  // A root init container (the Go operator's sysctl sample) cannot run under a pod-level runAsNonRoot.
  const sysctl = core({
    initContainers: [{ name: 'sysctl', image: 'busybox', securityContext: { runAsUser: 0 } }],
  });
  assert.equal(sysctl.podSecurityContext?.runAsNonRoot, undefined);
  assert.equal(sysctl.podSecurityContext?.runAsUser, 1000, 'the other defaults stay');
  assert.equal(
    sysctl.containerSecurityContext?.runAsNonRoot,
    true,
    'the EMQX container itself stays non-root',
  );

  // runAsUser 0 on the pod: no runAsNonRoot anywhere, and the container defaults do not shadow the user's uid.
  const root = core({ podSecurityContext: { runAsUser: 0 } });
  assert.equal(root.podSecurityContext?.runAsNonRoot, undefined);
  assert.equal(root.containerSecurityContext?.runAsUser, undefined);
  assert.equal(root.containerSecurityContext?.runAsNonRoot, undefined);
  assert.equal(root.containerSecurityContext?.allowPrivilegeEscalation, false);

  // A runAsNonRoot the user wrote is kept, even next to a root init container.
  const kept = core({
    podSecurityContext: { runAsNonRoot: true },
    initContainers: [{ name: 'i', image: 'busybox', securityContext: { runAsUser: 0 } }],
  });
  assert.equal(kept.podSecurityContext?.runAsNonRoot, true);

  // Idempotent, like every default.
  for (const s of [optedOut, sysctl, root, kept]) {
    const again = applyDefaults(minimal({ coreTemplate: { spec: s } })).spec.coreTemplate!.spec!;
    assert.deepEqual(again.podSecurityContext, s.podSecurityContext);
    assert.deepEqual(again.containerSecurityContext, s.containerSecurityContext);
  }
});

test('template metadata written with an empty value (null) counts as absent', () => {
  const d = applyDefaults(
    minimal({
      coreTemplate: { metadata: { name: 'ignored', annotations: null as never, labels: { a: 'b' } } },
      replicantTemplate: { metadata: { labels: null as never } },
    }),
  );
  assert.deepEqual(d.spec.coreTemplate?.metadata, { name: 'ignored', labels: { a: 'b' } });
  assert.deepEqual(d.spec.replicantTemplate?.metadata, {});
});
