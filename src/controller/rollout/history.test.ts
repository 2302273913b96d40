import { runCases } from '../../../test/support/rollout-cases.ts';
import { NEW } from '../../../test/support/world.ts';

const at = (minute: number) => `2026-01-01T00:${String(minute).padStart(2, '0')}:00Z`;
const oldRs = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    name: `emqx-replicant-r${i}`,
    rev: `r${i}`,
    replicas: 0,
    createdAt: at(i),
  }));

runCases('history pruning', [
  {
    name: 'ReplicaSets at zero beyond revisionHistoryLimit go, oldest first',
    world: {
      spec: { revisionHistoryLimit: 2, replicantTemplate: { spec: { replicas: 0 } } },
      cores: [{ name: 'emqx-core-0', rev: NEW }],
      replicaSets: [...oldRs(4), { name: 'emqx-replicant-new', rev: NEW, replicas: 0, createdAt: at(30) }],
    },
    action: {
      kind: 'prune',
      objects: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'emqx-replicant-r1',
          uid: 'uid-emqx-replicant-r1',
        },
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'emqx-replicant-r0',
          uid: 'uid-emqx-replicant-r0',
        },
      ],
    },
    phase: 'Idle',
  },
  {
    name: 'a set that still has pods is kept',
    world: {
      spec: { revisionHistoryLimit: 0, replicantTemplate: { spec: { replicas: 0 } } },
      cores: [{ name: 'emqx-core-0', rev: NEW }],
      replicaSets: [{ name: 'emqx-replicant-r0', rev: 'r0', replicas: 0, statusReplicas: 1 }],
    },
    action: null,
  },
  {
    name: 'superseded core StatefulSets go too, with an Event on their PVCs',
    world: {
      spec: { revisionHistoryLimit: 0, updateStrategy: { core: { type: 'BlueGreen' } } },
      cores: [{ name: 'emqx-core-new-0', rev: NEW }],
      statefulSets: [
        { name: 'emqx-core-old', rev: 'old', replicas: 0, whenDeleted: 'Delete' },
        { name: 'emqx-core-new', rev: NEW, replicas: 1 },
      ],
    },
    action: {
      kind: 'prune',
      objects: [
        { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'emqx-core-old', uid: 'uid-emqx-core-old' },
      ],
    },
    check: (d) => {
      if (!/its PVCs are deleted/.test(d.action!.events[0]?.message ?? '')) throw new Error('event');
    },
  },
  {
    name: 'nothing is pruned while a rollout is under way',
    world: {
      spec: { revisionHistoryLimit: 0 },
      cores: [{ name: 'emqx-core-0', rev: 'old' }],
      replicaSets: oldRs(2),
    },
    action: { kind: 'replacePod' },
  },
]);
