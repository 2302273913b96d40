import { migrateTo, runCases } from '../../../test/support/rollout-cases.ts';
import { coreNode, NEW, OLD } from '../../../test/support/world.ts';

const three = (revs: string[], extra: Record<number, object> = {}) =>
  revs.map((rev, i) => ({ name: `emqx-core-${i}`, rev, ...extra[i] }));

runCases('in-place core roll', [
  {
    name: 'nothing to do when every core is on the current revision',
    world: { cores: three([NEW, NEW, NEW]) },
    action: null,
    phase: 'Idle',
  },
  {
    name: 'waits for the StatefulSet to get the new template before deleting a pod',
    world: {
      cores: three([OLD, OLD, OLD]),
      statefulSets: [{ name: 'emqx-core', rev: OLD, replicas: 3 }],
    },
    action: null,
    phase: 'UpdatingCores',
    message: /updating the core StatefulSet template/,
    requeue: true,
  },
  {
    name: 'replaces the highest ordinal first when it has no clients',
    world: { cores: three([OLD, OLD, OLD]) },
    action: { kind: 'replacePod', pod: { name: 'emqx-core-2', uid: 'uid-emqx-core-2' } },
    phase: 'UpdatingCores',
    message: /replacing core emqx-core-2 \(3 left/,
  },
  {
    name: 'no EMQX API: a serving old core is not replaced blind (its clients are unknown)',
    world: { api: false, cores: three([OLD, OLD, OLD], { 2: { clients: 5 } }) },
    action: null,
    phase: 'UpdatingCores',
    message: /waiting for the EMQX API before draining/,
    requeue: true,
  },
  {
    name: 'no EMQX API and the old core is not Ready: it serves nobody and is replaced (a broken cluster can be fixed)',
    world: { api: false, cores: three([OLD, OLD, OLD], { 2: { ready: false } }) },
    action: { kind: 'replacePod', pod: { name: 'emqx-core-2', uid: 'uid-emqx-core-2' } },
  },
  {
    name: 'evacuates the clients of the victim to the other nodes first (Enterprise)',
    world: {
      cores: three([NEW, OLD, OLD], { 2: { clients: 5 } }),
      replicants: [{ name: 'emqx-replicant-new-a', rev: NEW }],
      replicaSets: [{ name: 'emqx-replicant-new', rev: NEW, replicas: 1 }],
    },
    action: {
      kind: 'evacuate',
      node: coreNode('emqx-core-2'),
      markDraining: '2026-01-01T01:00:00.000Z',
    },
    check: (d) => {
      const to = migrateTo(d);
      // every other running node, the replicants included (in-place replicants attach to any core version)
      to.sort();
      if (to.length !== 3) throw new Error(`migrate_to: ${to.join(',')}`);
    },
  },
  {
    name: 'waits while the evacuation runs',
    world: {
      cores: three([OLD, OLD, OLD], { 2: { clients: 5, draining: 'x' } }),
      evacuations: [{ node: coreNode('emqx-core-2'), state: 'evicting_conns' }],
    },
    action: null,
    message: /evacuating .*emqx-core-2.*: evicting_conns/,
    requeue: true,
  },
  {
    name: 'replaces the pod once its evacuation reached prohibiting',
    world: {
      cores: three([OLD, OLD, OLD], { 2: { clients: 5, draining: 'x' } }),
      evacuations: [{ node: coreNode('emqx-core-2'), state: 'prohibiting' }],
    },
    action: { kind: 'replacePod', pod: { name: 'emqx-core-2', uid: 'uid-emqx-core-2' } },
  },
  {
    name: 'waits for a replaced core to come back before the next',
    world: {
      cores: [
        { name: 'emqx-core-0', rev: OLD },
        { name: 'emqx-core-1', rev: OLD },
        { name: 'emqx-core-2', rev: OLD, terminating: true },
      ],
      spec: { coreTemplate: { spec: { replicas: 3 } } },
    },
    action: null,
    message: /waiting for the replaced core to come back/,
    requeue: true,
  },
  {
    name: 'waits until every other core runs',
    world: { cores: three([OLD, OLD, NEW], { 2: { running: false } }) },
    action: null,
    message: /waiting for emqx-core-2 to run before replacing emqx-core-1/,
    requeue: true,
  },
  {
    name: 'revert mid-upgrade: only the core already on the abandoned revision is replaced',
    // The spec went back to OLD: OLD is now the current revision and the one replaced core (on NEW) is "old".
    world: {
      coreHash: OLD,
      cores: three([OLD, OLD, NEW]),
      statefulSets: [{ name: 'emqx-core', rev: OLD, replicas: 3 }],
    },
    action: { kind: 'replacePod', pod: { name: 'emqx-core-2', uid: 'uid-emqx-core-2' } },
  },
  {
    name: 'revert mid-upgrade: nothing left to do once that core is back on the old revision',
    world: {
      coreHash: OLD,
      cores: three([OLD, OLD, OLD]),
      statefulSets: [{ name: 'emqx-core', rev: OLD, replicas: 3 }],
    },
    action: null,
    phase: 'Idle',
  },
  {
    name: 'keeps the last old core while old replicants still need it',
    world: {
      cores: [
        { name: 'emqx-core-0', rev: OLD },
        { name: 'emqx-core-1', rev: NEW },
      ],
      replicants: [
        { name: 'emqx-replicant-old-a', rev: OLD, clients: 3 },
        { name: 'emqx-replicant-new-a', rev: NEW },
      ],
      replicaSets: [
        { name: 'emqx-replicant-old', rev: OLD, replicas: 1 },
        { name: 'emqx-replicant-new', rev: NEW, replicas: 1 },
      ],
      spec: { replicantTemplate: { spec: { replicas: 1 } } },
    },
    // the replicant drain goes on meanwhile: the old replicant is evacuated to the new one
    action: { kind: 'evacuate', node: 'emqx@127.1.1.2' },
    phase: 'DrainingReplicants',
  },
  {
    name: 'the held core is not replaced while the new replicants are not serving yet',
    world: {
      cores: [
        { name: 'emqx-core-0', rev: OLD },
        { name: 'emqx-core-1', rev: NEW },
      ],
      replicants: [
        { name: 'emqx-replicant-old-a', rev: OLD, clients: 3 },
        { name: 'emqx-replicant-new-a', rev: NEW, running: false },
      ],
      replicaSets: [
        { name: 'emqx-replicant-old', rev: OLD, replicas: 1 },
        { name: 'emqx-replicant-new', rev: NEW, replicas: 1 },
      ],
      spec: { replicantTemplate: { spec: { replicas: 1 } } },
    },
    action: null,
    phase: 'UpdatingReplicants',
    message: /waiting for 1 new replicant\(s\) to serve/,
  },
  {
    name: '1-core cluster with replicants: the only core is replaced (nothing runs the new version to hold it for)',
    world: {
      cores: [{ name: 'emqx-core-0', rev: OLD }],
      replicants: [{ name: 'emqx-replicant-old-a', rev: OLD }],
      replicaSets: [{ name: 'emqx-replicant-old', rev: OLD, replicas: 1 }],
      spec: { replicantTemplate: { spec: { replicas: 1 } } },
    },
    action: { kind: 'replacePod', pod: { name: 'emqx-core-0', uid: 'uid-emqx-core-0' } },
  },
  {
    name: '1-core cluster: once the core runs the new version, old replicants are drained without a hold',
    world: {
      cores: [{ name: 'emqx-core-0', rev: NEW }],
      replicants: [
        { name: 'emqx-replicant-old-a', rev: OLD, running: false },
        { name: 'emqx-replicant-new-a', rev: NEW },
      ],
      replicaSets: [
        { name: 'emqx-replicant-old', rev: OLD, replicas: 1 },
        { name: 'emqx-replicant-new', rev: NEW, replicas: 1 },
      ],
      spec: { replicantTemplate: { spec: { replicas: 1 } } },
    },
    // its node no longer runs (no core of its version): nothing to evacuate, the pod goes (marked first as the
    // pod its ReplicaSet removes)
    action: {
      kind: 'markRetiring',
      pod: { name: 'emqx-replicant-old-a', uid: 'uid-emqx-replicant-old-a' },
    },
  },
]);
