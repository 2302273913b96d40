import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NEW, NOW, OLD, world, type WorldSpec } from '../../test/support/world.ts';
import { FIELD_MANAGER } from '../api/names.ts';
import { parseEmqxConfig } from '../emqx/config.ts';
import type { KubeObject } from '../k8s/rest.ts';
import type { OwnedKind } from './cache.ts';
import { plan } from './plan.ts';
import { madeByOperatorFor, unwantedCertificates, unwantedChildren } from './prune.ts';
import type { Snapshot } from './snapshot.ts';

const running: WorldSpec = {
  cores: [
    { name: 'emqx-core-0', rev: NEW },
    { name: 'emqx-core-1', rev: NEW },
  ],
};

/** A live child as this operator writes it: owned by the EMQX (uid-1234), applied by its field manager. */
function ours(kind: OwnedKind, name: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind,
    metadata: {
      name,
      uid: `uid-${name}-${kind}`,
      ownerReferences: [
        { apiVersion: 'apps.emqx.io/v2beta1', kind: 'EMQX', name: 'emqx', uid: 'uid-1234', controller: true },
      ],
      managedFields: [{ manager: FIELD_MANAGER, operation: 'Apply', apiVersion: 'v1' }],
      ...extra,
    },
  } as KubeObject;
}

function withChildren(s: Snapshot, objs: KubeObject[]): Snapshot {
  const children = new Map(s.children);
  for (const o of objs) {
    const kind = o.kind as OwnedKind;
    children.set(kind, new Map([...(children.get(kind) ?? []), [o.metadata!.name!, o]]));
  }
  return { ...s, children };
}

const deleted = (s: Snapshot) => (plan(s, NOW).deletions ?? []).map((d) => `${d.kind}/${d.name}`);

test('prune: a disabled dashboard Service is deleted (with its uid as precondition); enabled, it is kept', () => {
  const live = [ours('Service', 'emqx-dashboard')];
  const off = world({ ...running, spec: { dashboardServiceTemplate: { enabled: false } } });
  const p = plan(withChildren(off, live), NOW);
  assert.deepEqual(p.deletions, [
    {
      kind: 'Service',
      apiVersion: 'v1',
      name: 'emqx-dashboard',
      uid: 'uid-emqx-dashboard-Service',
      reason: 'spec.dashboardServiceTemplate.enabled is false (or no dashboard listener)',
    },
  ]);
  assert.ok(!p.objects.some((o) => o.metadata?.name === 'emqx-dashboard'));
  assert.deepEqual(deleted(withChildren(world(running), live)), []);
});

test('prune: the listeners Service goes only when disabled, never while its ports are unknown', () => {
  const live = [ours('Service', 'emqx-listeners')];
  const off = world({ ...running, spec: { listenersServiceTemplate: { enabled: false } } });
  assert.deepEqual(deleted(withChildren(off, live)), ['Service/emqx-listeners']);
  // EMQX unreachable: the plan leaves the live Service as it is (not in the objects) and must not delete it
  const s = withChildren(world({ ...running, api: false }), live);
  assert.deepEqual(unwantedChildren(s, []), []);
  assert.deepEqual(deleted(s), []);
});

test('prune: discovery RBAC goes when discovery is no longer k8s, once no old-revision pod runs', () => {
  const rbac = [
    ours('ServiceAccount', 'emqx-discovery'),
    ours('Role', 'emqx-discovery'),
    ours('RoleBinding', 'emqx-discovery'),
  ];
  const k8s = withChildren(world(running), rbac);
  const withConf = (s: Snapshot, text: string): Snapshot => ({
    ...s,
    config: { ok: true, conf: parseEmqxConfig(text) },
  });
  assert.deepEqual(deleted(withConf(k8s, 'cluster.discovery_strategy = k8s')), []);
  assert.deepEqual(deleted(withConf(k8s, 'cluster.discovery_strategy = dns')).sort(), [
    'Role/emqx-discovery',
    'RoleBinding/emqx-discovery',
    'ServiceAccount/emqx-discovery',
  ]);
  // a rollout still runs pods started with k8s discovery: they keep their account and RBAC until replaced
  const rolling = withChildren(
    world({
      cores: [
        { name: 'emqx-core-0', rev: OLD },
        { name: 'emqx-core-1', rev: NEW },
      ],
    }),
    rbac,
  );
  assert.deepEqual(deleted(withConf(rolling, 'cluster.discovery_strategy = dns')), []);
  // k8s discovery with the user's own ServiceAccount: only the operator's account goes
  const own = withConf(
    withChildren(world({ ...running, spec: { serviceAccountName: 'mine' } }), rbac),
    'cluster.discovery_strategy = k8s',
  );
  assert.deepEqual(deleted(own), ['ServiceAccount/emqx-discovery']);
});

test('prune: the licence Secret goes once the config sets no licence key', () => {
  const s = withChildren(world(running), [ours('Secret', 'emqx-license')]);
  assert.deepEqual(deleted({ ...s, config: { ok: true, conf: parseEmqxConfig('license.key = "abc"') } }), []);
  assert.deepEqual(deleted(s), ['Secret/emqx-license']);
});

test('prune: the replicant PDB goes with the replicantTemplate', () => {
  const live = [ours('PodDisruptionBudget', 'emqx-replicant')];
  assert.deepEqual(deleted(withChildren(world(running), live)), ['PodDisruptionBudget/emqx-replicant']);
  const repl = world({ ...running, spec: { replicantTemplate: { spec: { replicas: 1 } } } });
  assert.deepEqual(deleted(withChildren(repl, live)), []);
});

test("prune: never an object of another owner, another field manager's, or one already being deleted", () => {
  const off = world({ ...running, spec: { dashboardServiceTemplate: { enabled: false } } });
  const other = ours('Service', 'emqx-dashboard', {
    ownerReferences: [
      { apiVersion: 'apps.emqx.io/v2beta1', kind: 'EMQX', name: 'emqx', uid: 'uid-other', controller: true },
    ],
  });
  assert.deepEqual(deleted(withChildren(off, [other])), []);
  const byHand = ours('Service', 'emqx-dashboard', {
    managedFields: [{ manager: 'kubectl', operation: 'Apply', apiVersion: 'v1' }],
  });
  assert.deepEqual(deleted(withChildren(off, [byHand])), []);
  const going = ours('Service', 'emqx-dashboard', { deletionTimestamp: NOW.toISOString() });
  assert.deepEqual(deleted(withChildren(off, [going])), []);
  // the operator's status-subresource entry alone does not make an object its own
  assert.equal(
    madeByOperatorFor(
      {
        ownerReferences: [
          {
            apiVersion: 'apps.emqx.io/v2beta1',
            kind: 'EMQX',
            name: 'emqx',
            uid: 'uid-1234',
            controller: true,
          },
        ],
        managedFields: [{ manager: FIELD_MANAGER, operation: 'Apply', subresource: 'status' }],
      },
      'uid-1234',
    ),
    false,
  );
});

test('prune: never a PVC, a workload, the cookie or the ConfigMap, and nothing on a halted plan', () => {
  const s = withChildren(world({ ...running, pvcs: ['emqx-core-data-emqx-core-0'] }), [
    ours('Secret', 'emqx-node-cookie'),
    ours('ConfigMap', 'unrelated'),
    ours('Service', 'emqx-dashboard'),
  ]);
  assert.deepEqual(deleted(s), []);
  const off = withChildren(world({ ...running, spec: { dashboardServiceTemplate: { enabled: false } } }), [
    ours('Service', 'emqx-dashboard'),
  ]);
  assert.equal(plan({ ...off, paused: true }, NOW).deletions, undefined);
  assert.equal(plan({ ...off, config: { ok: false, error: 'bad' } }, NOW).deletions, undefined);
});

/** The Certificate the operator made for spec.tls.<which>.issuerRef, and the Secret cert-manager issued from it. */
function issued(which: 'listeners' | 'dashboard') {
  const name = `emqx-${which}-tls`;
  const cert = {
    ...ours('Secret', name),
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
  } as KubeObject;
  cert.metadata!.uid = `uid-${name}-Certificate`;
  const secret: KubeObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      uid: `uid-${name}-Secret`,
      annotations: { 'cert-manager.io/certificate-name': name },
      managedFields: [{ manager: 'cert-manager-certificates-issuing', operation: 'Apply', apiVersion: 'v1' }],
    },
  };
  return { cert, secret };
}

const withStale = (s: Snapshot, certs: KubeObject[]): Snapshot => ({
  ...s,
  staleCertificates: new Map(certs.map((c) => [c.metadata!.name!, c])),
});

const mounting = (s: Snapshot, secretName: string): Snapshot => ({
  ...s,
  pods: s.pods.map((p, i) =>
    i === 0 ? { ...p, spec: { ...p.spec!, volumes: [{ name: 'tls', secret: { secretName } }] } } : p,
  ),
});

test('prune: the Certificate of a removed issuerRef goes (uid precondition), then the Secret cert-manager issued', () => {
  const { cert, secret } = issued('listeners');
  const s = withChildren(world(running), [secret]);
  const p = plan(withStale(s, [cert]), NOW);
  assert.deepEqual(p.deletions, [
    {
      kind: 'Certificate',
      apiVersion: 'cert-manager.io/v1',
      name: 'emqx-listeners-tls',
      uid: 'uid-emqx-listeners-tls-Certificate',
      reason: 'spec.tls.listeners.issuerRef is unset',
    },
    {
      kind: 'Secret',
      apiVersion: 'v1',
      name: 'emqx-listeners-tls',
      uid: 'uid-emqx-listeners-tls-Secret',
      reason: 'spec.tls.listeners.issuerRef is unset',
    },
  ]);
  // the Certificate already gone (observed: none left): the Secret alone
  assert.deepEqual(deleted(withStale(s, [])), ['Secret/emqx-listeners-tls']);
  // not observed (no read this pass): nothing, the Secret could still have a Certificate
  assert.deepEqual(deleted(s), []);
  // the dashboard's the same way
  const d = issued('dashboard');
  assert.deepEqual(deleted(withStale(withChildren(world(running), [d.secret]), [d.cert])), [
    'Certificate/emqx-dashboard-tls',
    'Secret/emqx-dashboard-tls',
  ]);
});

test('prune: a removed issuerRef keeps its Certificate while a pod mounts the Secret or old-revision pods run', () => {
  const { cert, secret } = issued('listeners');
  const s = withStale(withChildren(world(running), [secret]), [cert]);
  assert.deepEqual(deleted(mounting(s, 'emqx-listeners-tls')), []);
  assert.deepEqual(deleted(mounting(s, 'another')), [
    'Certificate/emqx-listeners-tls',
    'Secret/emqx-listeners-tls',
  ]);
  const rolling = world({
    cores: [
      { name: 'emqx-core-0', rev: OLD },
      { name: 'emqx-core-1', rev: NEW },
    ],
  });
  assert.deepEqual(deleted(withStale(withChildren(rolling, [secret]), [cert])), []);
});

test('prune: never the Certificate of a set issuerRef, of another owner, nor one whose Secret the spec names', () => {
  const { cert, secret } = issued('listeners');
  const issuerRef = { name: 'ca', kind: 'Issuer' };
  const set = world({ ...running, spec: { tls: { listeners: { issuerRef } } } });
  assert.deepEqual(unwantedCertificates(withStale(withChildren(set, [secret]), [cert])), []);
  // the user now names the Secret cert-manager issued: it stays, and so does its Certificate (cert-manager may own
  // the Secret through it and delete it with it)
  const kept = world({ ...running, spec: { tls: { listeners: { secretName: 'emqx-listeners-tls' } } } });
  assert.deepEqual(unwantedCertificates(withStale(withChildren(kept, [secret]), [cert])), []);
  // a Certificate someone else wrote: neither it nor its Secret
  const foreign = {
    ...cert,
    metadata: { ...cert.metadata, managedFields: [{ manager: 'kubectl', operation: 'Apply' }] },
  } as KubeObject;
  assert.deepEqual(deleted(withStale(withChildren(world(running), [secret]), [foreign])), []);
  // a Secret of that name not issued by cert-manager for this Certificate
  const plain = { ...secret, metadata: { ...secret.metadata, annotations: {} } } as KubeObject;
  assert.deepEqual(deleted(withStale(withChildren(world(running), [plain]), [])), []);
  // a Certificate being deleted already: not again, and its Secret waits
  const going = {
    ...cert,
    metadata: { ...cert.metadata, deletionTimestamp: NOW.toISOString() },
  } as KubeObject;
  assert.deepEqual(deleted(withStale(withChildren(world(running), [secret]), [going])), []);
});
