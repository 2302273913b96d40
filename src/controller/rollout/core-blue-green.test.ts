import { migrateTo, runCases } from '../../../test/support/rollout-cases.ts';
import { coreNode, NEW, OLD } from '../../../test/support/world.ts';

const blueGreen = {
  updateStrategy: { core: { type: 'BlueGreen' as const } },
  coreTemplate: { spec: { replicas: 2 } },
};
const sets = (oldReplicas: number) => [
  { name: `emqx-core-${OLD}`, rev: OLD, replicas: oldReplicas, createdAt: '2026-01-01T00:00:00Z' },
  { name: `emqx-core-${NEW}`, rev: NEW, replicas: 2, createdAt: '2026-01-01T00:10:00Z' },
];
const newCores = [
  { name: `emqx-core-${NEW}-0`, rev: NEW },
  { name: `emqx-core-${NEW}-1`, rev: NEW },
];

runCases('blue-green cores', [
  {
    name: 'waits for every new core to run before retiring an old one',
    world: {
      spec: blueGreen,
      cores: [
        { name: `emqx-core-${OLD}-0`, rev: OLD },
        { name: `emqx-core-${OLD}-1`, rev: OLD },
        { name: `emqx-core-${NEW}-0`, rev: NEW },
        { name: `emqx-core-${NEW}-1`, rev: NEW, running: false },
      ],
      statefulSets: sets(2),
    },
    action: null,
    phase: 'UpdatingCores',
    message: /waiting for the new core nodes to run/,
  },
  {
    name: 'old replicants move first',
    world: {
      spec: { ...blueGreen, replicantTemplate: { spec: { replicas: 1 } } },
      cores: [{ name: `emqx-core-${OLD}-0`, rev: OLD }, ...newCores],
      statefulSets: sets(1),
      replicants: [
        { name: 'emqx-replicant-old-a', rev: OLD, clients: 4 },
        { name: 'emqx-replicant-new-a', rev: NEW },
      ],
      replicaSets: [
        { name: 'emqx-replicant-old', rev: OLD, replicas: 1 },
        { name: 'emqx-replicant-new', rev: NEW, replicas: 1 },
      ],
    },
    action: { kind: 'evacuate', node: 'emqx@127.1.1.2' },
    phase: 'DrainingReplicants',
  },
  {
    name: 'evacuates the highest old ordinal to the new nodes',
    world: {
      spec: blueGreen,
      cores: [
        { name: `emqx-core-${OLD}-0`, rev: OLD },
        { name: `emqx-core-${OLD}-1`, rev: OLD, clients: 7 },
        ...newCores,
      ],
      statefulSets: sets(2),
    },
    action: { kind: 'evacuate', node: coreNode(`emqx-core-${OLD}-1`) },
    phase: 'DrainingCores',
    check: (d) => {
      const to = migrateTo(d);
      if (to.join() !== [coreNode(`emqx-core-${NEW}-0`), coreNode(`emqx-core-${NEW}-1`)].join())
        throw new Error(`migrate_to ${to.join()}`);
    },
  },
  {
    name: 'a drained old core leaves the cluster through another node, then its set shrinks',
    world: {
      spec: blueGreen,
      cores: [
        { name: `emqx-core-${OLD}-0`, rev: OLD },
        { name: `emqx-core-${OLD}-1`, rev: OLD },
        ...newCores,
      ],
      statefulSets: sets(2),
    },
    action: {
      kind: 'removeNode',
      node: coreNode(`emqx-core-${OLD}-1`),
      leave: true,
      exclude: 'http://127.1.0.3:18083',
      scale: {
        set: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: `emqx-core-${OLD}` },
        from: 2,
        replicas: 1,
      },
      events: [],
    },
  },
  {
    name: 'the last old core: the Event says the PVCs are kept',
    world: {
      spec: blueGreen,
      cores: [{ name: `emqx-core-${OLD}-0`, rev: OLD }, ...newCores],
      statefulSets: sets(1),
    },
    action: { kind: 'removeNode', node: coreNode(`emqx-core-${OLD}-0`) },
    check: (d) => {
      const e = d.action!.events[0];
      if (e?.reason !== 'OldCoreDataRetained' || !/data-emqx-core-old-\*|are kept/.test(e.message))
        throw new Error(JSON.stringify(e));
    },
  },
  {
    name: 'an old core whose pod is already gone and whose node left: only the set shrinks',
    world: { spec: blueGreen, cores: newCores, statefulSets: sets(1) },
    action: { kind: 'removeNode', leave: false },
  },
  {
    name: 'no EMQX API: waits rather than remove a node blind',
    world: {
      spec: blueGreen,
      api: false,
      cores: [{ name: `emqx-core-${OLD}-0`, rev: OLD }, ...newCores],
      statefulSets: sets(1),
    },
    action: null,
    requeue: true,
  },
]);
