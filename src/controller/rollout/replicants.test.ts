import { migrateTo, runCases } from '../../../test/support/rollout-cases.ts';
import { ago, NEW, NOW, OLD } from '../../../test/support/world.ts';

const spec = (extra: object = {}) => ({ replicantTemplate: { spec: { replicas: 2 } }, ...extra });
const rs = (oldReplicas: number) => [
  { name: `emqx-replicant-${OLD}`, rev: OLD, replicas: oldReplicas },
  { name: `emqx-replicant-${NEW}`, rev: NEW, replicas: 2 },
];
const cores = [{ name: 'emqx-core-0', rev: NEW }];
const fresh = [
  { name: `emqx-replicant-${NEW}-a`, rev: NEW },
  { name: `emqx-replicant-${NEW}-b`, rev: NEW },
];
const LOWEST = { 'controller.kubernetes.io/pod-deletion-cost': '-99999' };
const readySince = (seconds: number) => ({
  conditions: [
    {
      type: 'ReplicantNodesReady',
      status: 'True' as const,
      reason: 'x',
      message: 'x',
      lastTransitionTime: ago(seconds),
    },
  ],
});

runCases('replicant drain', [
  {
    name: 'waits for every new replicant to serve',
    world: {
      spec: spec(),
      cores,
      replicants: [
        { name: `emqx-replicant-${OLD}-a`, rev: OLD },
        fresh[0]!,
        { ...fresh[1]!, running: false },
      ],
      replicaSets: rs(1),
    },
    action: null,
    phase: 'UpdatingReplicants',
    message: /waiting for 1 new replicant\(s\) to serve/,
  },
  {
    name: 'waits initialDelaySeconds after the new replicants became ready',
    world: {
      spec: spec({ updateStrategy: { initialDelaySeconds: 10 } }),
      cores,
      replicants: [{ name: `emqx-replicant-${OLD}-a`, rev: OLD }, ...fresh],
      replicaSets: rs(1),
      previousStatus: readySince(3),
    },
    action: null,
    message: /draining old ones after 10s/,
  },
  {
    name: 'Enterprise: evacuates the newest old replicant to the new ones',
    world: {
      spec: spec(),
      cores,
      replicants: [
        { name: `emqx-replicant-${OLD}-a`, rev: OLD, clients: 2 },
        { name: `emqx-replicant-${OLD}-b`, rev: OLD, clients: 2 },
        ...fresh,
      ],
      replicaSets: rs(2),
      previousStatus: readySince(60),
    },
    action: {
      kind: 'evacuate',
      node: 'emqx@127.1.1.3',
      pod: { name: `emqx-replicant-${OLD}-b`, uid: `uid-emqx-replicant-${OLD}-b` },
    },
    phase: 'DrainingReplicants',
    check: (d) => {
      const to = migrateTo(d);
      if (to.join() !== 'emqx@127.1.1.4,emqx@127.1.1.5') throw new Error(to.join());
    },
  },
  {
    name: 'the replicant being drained stays the victim',
    world: {
      spec: spec(),
      cores,
      replicants: [
        { name: `emqx-replicant-${OLD}-a`, rev: OLD, clients: 2, draining: ago(5) },
        { name: `emqx-replicant-${OLD}-b`, rev: OLD, clients: 2 },
        ...fresh,
      ],
      replicaSets: rs(2),
      evacuations: [{ node: 'emqx@127.1.1.2', state: 'evicting_sessions' }],
    },
    action: null,
    message: /evacuating emqx@127.1.1.2: evicting_sessions/,
  },
  {
    name: 'a drained replicant goes: lowest deletion cost, then its ReplicaSet one smaller',
    world: {
      spec: spec(),
      cores,
      replicants: [
        { name: `emqx-replicant-${OLD}-a`, rev: OLD, draining: ago(30), extraAnnotations: LOWEST },
        ...fresh,
      ],
      replicaSets: rs(1),
      evacuations: [{ node: 'emqx@127.1.1.2', state: 'prohibiting' }],
    },
    action: {
      kind: 'retireReplicant',
      pod: { name: `emqx-replicant-${OLD}-a`, uid: `uid-emqx-replicant-${OLD}-a` },
      scale: {
        set: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `emqx-replicant-${OLD}` },
        from: 1,
        replicas: 0,
      },
    },
  },
  {
    // The ReplicaSet controller picks the pod to remove with its own cache: the lowest deletion cost is written a
    // pass before the set shrinks (here: drained by an operator that did not write it), never in the same instant.
    name: 'a drained replicant without the lowest deletion cost is marked first; its set is not scaled yet',
    world: {
      spec: spec(),
      cores,
      replicants: [
        { name: `emqx-replicant-${OLD}-a`, rev: OLD, draining: ago(30) },
        { name: `emqx-replicant-${OLD}-b`, rev: OLD, clients: 16 },
        ...fresh,
      ],
      replicaSets: rs(2),
      evacuations: [{ node: 'emqx@127.1.1.2', state: 'prohibiting' }],
    },
    action: {
      kind: 'markRetiring',
      pod: { name: `emqx-replicant-${OLD}-a`, uid: `uid-emqx-replicant-${OLD}-a` },
    },
    message: /marking emqx-replicant-old-a as the next pod to remove/,
    requeue: true,
  },
  {
    // Its node no longer runs (nothing to move, so it was never drained) but its pod still serves: it is marked
    // draining too, so that it leaves the Services before its ReplicaSet shrinks.
    name: 'an old replicant with nothing to move is marked draining and retiring in one write',
    world: {
      spec: spec(),
      cores,
      replicants: [
        { name: `emqx-replicant-${OLD}-a`, rev: OLD, running: false, serving: true, readinessGate: true },
        ...fresh,
      ],
      replicaSets: rs(1),
      previousStatus: readySince(60),
    },
    action: {
      kind: 'markRetiring',
      pod: { name: `emqx-replicant-${OLD}-a`, uid: `uid-emqx-replicant-${OLD}-a` },
      markDraining: NOW.toISOString(),
    },
  },
  {
    // Not Ready ranks before any deletion cost: a drained pod still Ready (its gate not yet False) would tie with
    // the other old pods on readiness.
    name: 'a drained replicant still Ready (readiness gate not yet False) is not removed yet',
    world: {
      spec: spec(),
      cores,
      replicants: [
        {
          name: `emqx-replicant-${OLD}-a`,
          rev: OLD,
          draining: ago(30),
          extraAnnotations: LOWEST,
          readinessGate: true,
          serving: true,
        },
        { name: `emqx-replicant-${OLD}-b`, rev: OLD, clients: 16, readinessGate: true },
        ...fresh,
      ],
      replicaSets: rs(2),
      evacuations: [{ node: 'emqx@127.1.1.2', state: 'prohibiting' }],
    },
    action: null,
    message: /waiting for emqx-replicant-old-a to leave the Services/,
    requeue: true,
  },
  {
    name: 'evacuation starts with the draining annotation and the lowest deletion cost in one write',
    world: {
      spec: spec(),
      cores,
      replicants: [{ name: `emqx-replicant-${OLD}-a`, rev: OLD, clients: 2 }, ...fresh],
      replicaSets: rs(1),
      previousStatus: readySince(60),
    },
    action: { kind: 'evacuate', lowestDeletionCost: true },
  },
  {
    // The ReplicaSet already went 3 → 2 for the drained pod, but the pod cache has not seen the ReplicaSet
    // controller delete it yet (two watches, no order between them; under load the controller is slow). Scaling
    // "one smaller" again would make the controller delete a second pod, one whose clients were never moved.
    name: 'a retirement in flight (set smaller than its pods) is not repeated: no second pod goes',
    world: {
      spec: spec(),
      cores,
      replicants: [
        { name: `emqx-replicant-${OLD}-a`, rev: OLD, draining: ago(30), extraAnnotations: LOWEST },
        { name: `emqx-replicant-${OLD}-b`, rev: OLD, clients: 16 },
        { name: `emqx-replicant-${OLD}-c`, rev: OLD, clients: 8 },
        ...fresh,
      ],
      replicaSets: rs(2),
      evacuations: [{ node: 'emqx@127.1.1.2', state: 'prohibiting' }],
    },
    action: null,
    message: /waiting for the ReplicaSet emqx-replicant-old to remove a pod \(3 pods for 2 replicas\)/,
    requeue: true,
  },
  {
    // The other order: the pod cache already shows the drained pod gone, the ReplicaSet cache still has the old
    // count. The next drained pod takes the set to what is left of it, not to one less than a stale count.
    name: 'a stale, larger replica count: the set goes to its pods left minus the drained one',
    world: {
      spec: spec(),
      cores,
      replicants: [
        { name: `emqx-replicant-${OLD}-b`, rev: OLD, draining: ago(30), extraAnnotations: LOWEST },
        { name: `emqx-replicant-${OLD}-c`, rev: OLD, clients: 8 },
        ...fresh,
      ],
      replicaSets: rs(3),
      evacuations: [{ node: 'emqx@127.1.1.2', state: 'prohibiting' }],
    },
    action: {
      kind: 'retireReplicant',
      pod: { name: `emqx-replicant-${OLD}-b`, uid: `uid-emqx-replicant-${OLD}-b` },
      scale: {
        set: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `emqx-replicant-${OLD}` },
        from: 3,
        replicas: 1,
      },
    },
  },
  {
    name: 'Opensource takeover: the pod first stops serving',
    world: {
      edition: 'Opensource',
      spec: spec(),
      cores,
      replicants: [{ name: `emqx-replicant-${OLD}-a`, rev: OLD, clients: 3 }, ...fresh],
      replicaSets: rs(1),
    },
    action: { kind: 'markDraining', node: 'emqx@127.1.1.2', since: '2026-01-01T01:00:00.000Z' },
  },
  {
    name: 'Opensource takeover: then waits waitTakeover seconds',
    world: {
      edition: 'Opensource',
      spec: spec({ updateStrategy: { evacuationStrategy: { waitTakeover: 10 } } }),
      cores,
      replicants: [{ name: `emqx-replicant-${OLD}-a`, rev: OLD, clients: 3, draining: ago(4) }, ...fresh],
      replicaSets: rs(1),
    },
    action: null,
    message: /waiting for takeover from emqx@127.1.1.2/,
  },
  {
    name: 'Opensource takeover: and removes the pod once they passed',
    world: {
      edition: 'Opensource',
      spec: spec({ updateStrategy: { evacuationStrategy: { waitTakeover: 10 } } }),
      cores,
      replicants: [
        {
          name: `emqx-replicant-${OLD}-a`,
          rev: OLD,
          clients: 3,
          draining: ago(11),
          extraAnnotations: LOWEST,
        },
        ...fresh,
      ],
      replicaSets: rs(1),
    },
    action: { kind: 'retireReplicant' },
  },
  {
    name: 'old sets whose pods are gone are brought down to what is left',
    world: { spec: spec(), cores, replicants: fresh, replicaSets: rs(2) },
    action: {
      kind: 'scale',
      targets: [
        {
          set: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `emqx-replicant-${OLD}` },
          from: 2,
          replicas: 0,
        },
      ],
    },
  },
  {
    name: 'replicants scaled to zero: old sets go to zero at once',
    world: {
      spec: { replicantTemplate: { spec: { replicas: 0 } } },
      cores,
      replicants: [{ name: `emqx-replicant-${OLD}-a`, rev: OLD }],
      replicaSets: [{ name: `emqx-replicant-${OLD}`, rev: OLD, replicas: 1 }],
    },
    action: { kind: 'scale' },
  },
]);
