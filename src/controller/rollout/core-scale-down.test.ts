import { runCases } from '../../../test/support/rollout-cases.ts';
import { coreNode, NEW } from '../../../test/support/world.ts';

const cores = (n: number, extra: Record<number, object> = {}) =>
  Array.from({ length: n }, (_, i) => ({ name: `emqx-core-${i}`, rev: NEW, ...extra[i] }));
const sts = (replicas: number) => [{ name: 'emqx-core', rev: NEW, replicas }];
const wantCores = (replicas: number) => ({ coreTemplate: { spec: { replicas } } });

runCases('core scale-down', [
  {
    name: 'evacuates the top core first, holding the StatefulSet at its size',
    world: { spec: wantCores(1), cores: cores(3, { 2: { clients: 9 } }), statefulSets: sts(3) },
    action: { kind: 'evacuate', node: coreNode('emqx-core-2') },
    phase: 'ScalingDownCores',
    coreReplicas: 3,
  },
  {
    name: 'a drained top core leaves the cluster through another core, then the set shrinks by one',
    world: { spec: wantCores(1), cores: cores(3), statefulSets: sts(3) },
    action: {
      kind: 'removeNode',
      node: coreNode('emqx-core-2'),
      leave: true,
      exclude: 'http://127.1.0.4:18083',
    },
    coreReplicas: 2,
    check: (d) => {
      if (d.action!.events[0]?.reason !== 'CoreNodeRemoved')
        throw new Error(JSON.stringify(d.action!.events));
    },
  },
  {
    name: 'no EMQX API: waits, holding the set',
    world: { spec: wantCores(1), api: false, cores: cores(3), statefulSets: sts(3) },
    action: null,
    coreReplicas: 3,
    message: /waiting for the EMQX API/,
  },
  {
    name: 'the top pod is gone but its node is still listed: it is made to leave first',
    world: { spec: wantCores(1), cores: cores(2), statefulSets: sts(3) },
    check: (d) => {
      // emqx-core-2 has no pod here, so the world lists no node for it: the set goes down at once
      if (d.coreReplicas !== 2) throw new Error(String(d.coreReplicas));
    },
    action: null,
  },
  {
    name: 'zero cores is refused: one core stays',
    world: { spec: wantCores(0), cores: cores(1), statefulSets: sts(1) },
    action: null,
    coreReplicas: undefined,
    phase: 'Idle',
  },
  {
    name: 'a scale-down to zero from three stops at one',
    world: { spec: wantCores(0), cores: cores(2), statefulSets: sts(2) },
    action: { kind: 'removeNode', node: coreNode('emqx-core-1') },
    coreReplicas: 1,
  },
  {
    name: 'scale-up is not a rollout: nothing to do here',
    world: { spec: wantCores(3), cores: cores(1), statefulSets: sts(1) },
    action: null,
    coreReplicas: undefined,
  },
]);
