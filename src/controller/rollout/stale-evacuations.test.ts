import { runCases } from '../../../test/support/rollout-cases.ts';
import { coreNode, NEW, OLD } from '../../../test/support/world.ts';

runCases('stale evacuations', [
  {
    name: 'an evacuation EMQX resumed on an up-to-date core after its restart is stopped',
    world: {
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW },
      ],
      evacuations: [{ node: coreNode('emqx-core-1'), state: 'evicting_conns' }],
    },
    action: { kind: 'stopEvacuations', nodes: [coreNode('emqx-core-1')] },
  },
  {
    name: 'one the operator is running (draining annotation) is kept',
    world: {
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW, draining: 'x', clients: 1 },
      ],
      spec: { coreTemplate: { spec: { replicas: 2 } } },
      evacuations: [{ node: coreNode('emqx-core-1'), state: 'evicting_conns' }],
    },
    action: null,
  },
  {
    name: 'one on an old revision (being rolled) is kept',
    world: {
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: OLD, clients: 1 },
      ],
      evacuations: [{ node: coreNode('emqx-core-1'), state: 'evicting_conns' }],
    },
    action: null,
    message: /evacuating/,
  },
  {
    name: 'one on the top core of a scale-down is kept',
    world: {
      spec: { coreTemplate: { spec: { replicas: 1 } } },
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW, clients: 1 },
      ],
      statefulSets: [{ name: 'emqx-core', rev: NEW, replicas: 2 }],
      evacuations: [{ node: coreNode('emqx-core-1'), state: 'evicting_conns' }],
    },
    action: null,
    coreReplicas: 2,
  },
  {
    name: 'a stale stop goes first; the rest of the decision waits a pass and holds the core count',
    world: {
      spec: { coreTemplate: { spec: { replicas: 1 } } },
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW },
      ],
      statefulSets: [{ name: 'emqx-core', rev: NEW, replicas: 2 }],
      // core-0 is up to date and not being removed: its evacuation is stale
      evacuations: [{ node: coreNode('emqx-core-0'), state: 'evicting_conns' }],
    },
    action: { kind: 'stopEvacuations', nodes: [coreNode('emqx-core-0')] },
    coreReplicas: 2,
  },
]);
