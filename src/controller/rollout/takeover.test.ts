// Taking over the Go operator's workloads: its sets are old revisions that leave one pod at a time once this
// operator's own run, and are deleted at zero. (plan.test.ts covers the gate: annotation and Go operator stopped.)
import assert from 'node:assert/strict';
import { migrateTo, runCases } from '../../../test/support/rollout-cases.ts';
import { coreNode, NEW, type PodSpec, type SetSpec, type WorldSpec } from '../../../test/support/world.ts';

const GO = '5d8b7c9f4';
const goSet = (replicas: number, statusReplicas = replicas): SetSpec => ({
  name: `emqx-core-${GO}`,
  rev: GO,
  replicas,
  statusReplicas,
  foreign: true,
  claimTemplate: 'emqx-core-data',
  createdAt: '2025-06-01T00:00:00Z',
});
const goCores = (n: number, clients = 0): PodSpec[] =>
  Array.from({ length: n }, (_, i) => ({ name: `emqx-core-${GO}-${i}`, rev: GO, clients }));
const ourSet: SetSpec = { name: 'emqx-core', rev: NEW, replicas: 2, createdAt: '2026-01-01T00:00:00Z' };
const ourCores = (running = true): PodSpec[] => [
  { name: 'emqx-core-0', rev: NEW, running },
  { name: 'emqx-core-1', rev: NEW, running },
];
const base = (w: Partial<WorldSpec>): WorldSpec => ({
  takeover: true,
  spec: { coreTemplate: { spec: { replicas: 2 } } },
  ...w,
});

runCases('takeover', [
  {
    name: "the Go operator's cores are not replaced in place while this operator's cores start",
    world: base({
      cores: [...goCores(2, 5), ...ourCores(false)],
      statefulSets: [goSet(2), ourSet],
    }),
    action: null,
    phase: 'UpdatingCores',
    message: /waiting for the new core nodes to run/,
  },
  {
    name: 'a single old core is not replaced in place either (no replacePod of a Go pod)',
    world: base({
      spec: { coreTemplate: { spec: { replicas: 1 } } },
      cores: [...goCores(1, 5), { name: 'emqx-core-0', rev: NEW }],
      statefulSets: [goSet(1), { ...ourSet, replicas: 1 }],
    }),
    action: { kind: 'evacuate', node: coreNode(`emqx-core-${GO}-0`) },
    check: (d) => assert.deepEqual(migrateTo(d), [coreNode('emqx-core-0')]),
  },
  {
    name: 'once they run, the Go cores leave highest ordinal first: clients evacuated to the new cores',
    world: base({
      cores: [...goCores(2, 5), ...ourCores()],
      statefulSets: [goSet(2), ourSet],
    }),
    action: { kind: 'evacuate', node: coreNode(`emqx-core-${GO}-1`) },
    phase: 'DrainingCores',
    check: (d) => assert.deepEqual(migrateTo(d), [coreNode('emqx-core-0'), coreNode('emqx-core-1')]),
  },
  {
    name: 'a drained Go core leaves the cluster and its StatefulSet shrinks by one',
    world: base({
      cores: [...goCores(2), ...ourCores()],
      statefulSets: [goSet(2), ourSet],
    }),
    action: {
      kind: 'removeNode',
      node: coreNode(`emqx-core-${GO}-1`),
      leave: true,
      scale: {
        set: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: `emqx-core-${GO}` },
        from: 2,
        replicas: 1,
      },
    },
  },
  {
    name: "the last Go core's Event follows the resource's PVC policy, not the set's",
    world: base({
      spec: {
        coreTemplate: {
          spec: { replicas: 2, persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete' } },
        },
      },
      cores: [...goCores(1), ...ourCores()],
      statefulSets: [goSet(1), ourSet],
    }),
    action: { kind: 'removeNode', node: coreNode(`emqx-core-${GO}-0`) },
    check: (d) =>
      assert.deepEqual(
        d.action!.events.map((e) => e.reason),
        ['OldCoreDataDeleted'],
      ),
  },
  {
    name: 'BlueGreen: the same order',
    world: base({
      spec: { coreTemplate: { spec: { replicas: 2 } }, updateStrategy: { core: { type: 'BlueGreen' } } },
      cores: [
        ...goCores(2),
        { name: `emqx-core-${NEW}-0`, rev: NEW },
        { name: `emqx-core-${NEW}-1`, rev: NEW },
      ],
      statefulSets: [goSet(2), { ...ourSet, name: `emqx-core-${NEW}` }],
    }),
    action: { kind: 'removeNode', node: coreNode(`emqx-core-${GO}-1`) },
  },
  {
    name: "the Go operator's replicants are drained onto this operator's first, before any core",
    world: base({
      spec: { coreTemplate: { spec: { replicas: 2 } }, replicantTemplate: { spec: { replicas: 1 } } },
      cores: [...goCores(2), ...ourCores()],
      replicants: [
        { name: `emqx-replicant-${GO}-x1`, rev: GO, clients: 7 },
        { name: `emqx-replicant-${NEW}-a`, rev: NEW },
      ],
      statefulSets: [goSet(2), ourSet],
      replicaSets: [
        { name: `emqx-replicant-${GO}`, rev: GO, replicas: 1, foreign: true },
        { name: `emqx-replicant-${NEW}`, rev: NEW, replicas: 1 },
      ],
    }),
    action: { kind: 'evacuate', node: 'emqx@127.1.1.2' },
    phase: 'DrainingReplicants',
    check: (d) => assert.deepEqual(migrateTo(d), ['emqx@127.1.1.3']),
  },
  {
    name: 'a Go StatefulSet at zero is deleted at once, its PVCs kept by default (and said so)',
    world: base({
      cores: ourCores(),
      statefulSets: [goSet(0), ourSet],
      pvcs: [
        `emqx-core-data-emqx-core-${GO}-0`,
        `emqx-core-data-emqx-core-${GO}-1`,
        'emqx-core-data-emqx-core-0',
      ],
    }),
    action: {
      kind: 'prune',
      objects: [
        { apiVersion: 'apps/v1', kind: 'StatefulSet', name: `emqx-core-${GO}`, uid: `uid-emqx-core-${GO}` },
      ],
    },
    requeue: false,
    check: (d) => {
      const events = d.action!.events;
      assert.deepEqual(
        events.map((e) => e.reason),
        ['TakeoverRetired', 'TakeoverCompleted'],
      );
      assert.match(
        events[0]!.message,
        new RegExp(`PVCs emqx-core-data-emqx-core-${GO}-0, emqx-core-data-emqx-core-${GO}-1 are kept`),
      );
    },
  },
  {
    name: 'whenScaled: Delete: its PVCs go with it (never those of this operator)',
    world: base({
      spec: {
        coreTemplate: {
          spec: { replicas: 2, persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete' } },
        },
      },
      cores: ourCores(),
      statefulSets: [goSet(0), ourSet],
      pvcs: [`emqx-core-data-emqx-core-${GO}-0`, 'emqx-core-data-emqx-core-0'],
    }),
    action: {
      kind: 'prune',
      objects: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          name: `emqx-core-data-emqx-core-${GO}-0`,
          uid: `uid-emqx-core-data-emqx-core-${GO}-0`,
        },
        { apiVersion: 'apps/v1', kind: 'StatefulSet', name: `emqx-core-${GO}`, uid: `uid-emqx-core-${GO}` },
      ],
    },
  },
  {
    name: 'a Go StatefulSet scaled to zero whose pod is still going is waited for',
    world: base({
      cores: [...ourCores()],
      statefulSets: [goSet(0, 1), ourSet],
    }),
    action: null,
  },
  {
    name: 'an idle Go ReplicaSet is deleted too, the takeover is complete only once every Go set is gone',
    world: base({
      spec: { coreTemplate: { spec: { replicas: 2 } }, replicantTemplate: { spec: { replicas: 1 } } },
      cores: [...goCores(1), ...ourCores()],
      replicants: [{ name: `emqx-replicant-${NEW}-a`, rev: NEW }],
      statefulSets: [goSet(1), ourSet],
      replicaSets: [
        { name: `emqx-replicant-${GO}`, rev: GO, replicas: 0, foreign: true },
        { name: `emqx-replicant-${NEW}`, rev: NEW, replicas: 1 },
      ],
    }),
    // The Go core still has a pod to retire: that goes first.
    action: { kind: 'removeNode', node: coreNode(`emqx-core-${GO}-0`) },
  },
  {
    name: 'the idle Go ReplicaSet, once the cores are done',
    world: base({
      spec: { coreTemplate: { spec: { replicas: 2 } }, replicantTemplate: { spec: { replicas: 1 } } },
      cores: ourCores(),
      replicants: [{ name: `emqx-replicant-${NEW}-a`, rev: NEW }],
      statefulSets: [ourSet],
      replicaSets: [
        { name: `emqx-replicant-${GO}`, rev: GO, replicas: 0, foreign: true },
        { name: `emqx-replicant-${NEW}`, rev: NEW, replicas: 1 },
      ],
    }),
    action: {
      kind: 'prune',
      objects: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `emqx-replicant-${GO}`,
          uid: `uid-emqx-replicant-${GO}`,
        },
      ],
    },
    check: (d) => assert.ok(d.action!.events.some((e) => e.reason === 'TakeoverCompleted')),
  },
]);
