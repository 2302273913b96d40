// The crash-safety property of the rollout plan. An action can take several writes (annotate a pod, then start
// its evacuation; force_leave a node, then scale its set down). The operator may be killed between any two of
// them, and the next pass only sees what was written. So, for every intermediate snapshot:
//  - while an action is partly written, the pass plans that same action again (what is left of it), never
//    something else first;
//  - once all of it is written, it is not planned again.
// Each write is simulated on the hand-built world, the way Kubernetes and EMQX would show it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  coreNode,
  dsWorld,
  NEW,
  NOW,
  OLD,
  world,
  type PodSpec,
  type WorldSpec,
} from '../../../test/support/world.ts';
import { planRollout } from './index.ts';
import type { RolloutAction } from './types.ts';

type Write = (w: WorldSpec) => WorldSpec;

function editPod(w: WorldSpec, name: string, edit: (p: PodSpec) => PodSpec): WorldSpec {
  const map = (ps?: PodSpec[]) => ps?.map((p) => (p.name === name ? edit(p) : p));
  return { ...w, cores: map(w.cores), replicants: map(w.replicants) };
}

function scaleSet(w: WorldSpec, kind: string, name: string, replicas: number): WorldSpec {
  const key = kind === 'StatefulSet' ? 'statefulSets' : 'replicaSets';
  const sets = (
    w[key] ??
    (key === 'statefulSets' ? [{ name: 'emqx-core', rev: w.coreHash ?? NEW, replicas: w.cores!.length }] : [])
  ).map((s) => (s.name === name ? { ...s, replicas } : s));
  return { ...w, [key]: sets };
}

/** Replicas of the `emqx-core` StatefulSet in a world (a write of the same count changes nothing). */
function currentCoreReplicas(w: WorldSpec): number {
  return w.statefulSets?.find((x) => x.name === 'emqx-core')?.replicas ?? w.cores?.length ?? 0;
}

/** The lowest deletion cost, when the action writes it with the draining annotation. */
function cost(a: { lowestDeletionCost?: boolean }, p: PodSpec): Partial<PodSpec> {
  return a.lowestDeletionCost
    ? { extraAnnotations: { ...p.extraAnnotations, 'controller.kubernetes.io/pod-deletion-cost': '-99999' } }
    : {};
}

/** The writes the executor makes for an action, in its order (act.ts). */
function writesOf(a: RolloutAction): Write[] {
  switch (a.kind) {
    case 'evacuate':
      return [
        ...(a.markDraining
          ? [
              (w: WorldSpec) =>
                editPod(w, a.pod.name, (p) => ({ ...p, draining: a.markDraining, ...cost(a, p) })),
            ]
          : []),
        (w) => ({ ...w, evacuations: [...(w.evacuations ?? []), { node: a.node, state: 'evicting_conns' }] }),
      ];
    case 'markDraining':
      return [(w) => editPod(w, a.pod.name, (p) => ({ ...p, draining: a.since, ...cost(a, p) }))];
    case 'markRetiring':
      return [
        (w) =>
          editPod(w, a.pod.name, (p) => ({
            ...p,
            ...cost({ lowestDeletionCost: true }, p),
            ...(a.markDraining && { draining: a.markDraining }),
          })),
      ];
    case 'replacePod':
      return [(w) => editPod(w, a.pod.name, (p) => ({ ...p, terminating: true }))];
    case 'removeNode': {
      const pod = (w: WorldSpec) => [...(w.cores ?? [])].find((p) => coreNode(p.name) === a.node)?.name;
      return [
        ...(a.leave
          ? [(w: WorldSpec) => (pod(w) ? editPod(w, pod(w)!, (p) => ({ ...p, running: false })) : w)]
          : []),
        ...(a.scale
          ? [(w: WorldSpec) => scaleSet(w, a.scale!.set.kind, a.scale!.set.name, a.scale!.replicas)]
          : []),
      ];
    }
    case 'retireReplicant':
      return [
        (w) =>
          editPod(w, a.pod.name, (p) => ({
            ...p,
            extraAnnotations: { 'controller.kubernetes.io/pod-deletion-cost': '-99999' },
          })),
        (w) => scaleSet(w, 'ReplicaSet', a.scale.set.name, a.scale.replicas),
      ];
    case 'scale':
      return a.targets.map((t) => (w: WorldSpec) => scaleSet(w, t.set.kind, t.set.name, t.replicas));
    case 'stopEvacuations':
      return a.nodes.map((n) => (w: WorldSpec) => ({
        ...w,
        evacuations: w.evacuations?.filter((e) => e.node !== n),
      }));
    case 'dsSetReplicas':
      // EMQX records the new assignment at once: joining and leaving transitions appear on every shard
      return [
        (w) => {
          const obs = w.ds?.observed;
          if (!obs) return w;
          const dbs = obs.dbs.map((db) =>
            db.name !== a.db
              ? db
              : {
                  ...db,
                  shards: db.shards.map((sh) => {
                    const have = sh.replicas.map((r) => r.site);
                    return {
                      ...sh,
                      transitions: [
                        ...a.sites
                          .filter((x) => !have.includes(x))
                          .map((site) => ({ site, transition: 'joining' })),
                        ...have
                          .filter((x) => !a.sites.includes(x))
                          .map((site) => ({ site, transition: 'leaving' })),
                      ],
                    };
                  }),
                },
          );
          return { ...w, ds: { ...w.ds!, observed: { ...obs, dbs } } };
        },
      ];
    case 'prune':
      return a.objects.map((o) => (w: WorldSpec) => ({
        ...w,
        replicaSets: w.replicaSets?.filter((s) => s.name !== o.name),
        statefulSets: w.statefulSets?.filter((s) => s.name !== o.name),
      }));
  }
}

/** What an action is about: its kind and the node, pod or sets it touches. */
function target(a: RolloutAction | undefined): string {
  if (!a) return 'none';
  switch (a.kind) {
    case 'evacuate':
    case 'markDraining':
      return `drain ${a.node}`;
    case 'replacePod':
      return `replace ${a.pod.name}`;
    case 'removeNode':
      return `remove ${a.node} ${a.scale?.set.name ?? ''}`;
    case 'retireReplicant':
      return `retire ${a.pod.name}`;
    case 'markRetiring':
      return `mark ${a.pod.name}`;
    case 'scale':
      return `scale ${a.targets.map((t) => t.set.name).join()}`;
    case 'stopEvacuations':
      return `stop evacuations`;
    case 'prune':
      return `prune`;
    case 'dsSetReplicas':
      return `ds ${a.db} ${a.sites.join()}`;
  }
}

const replicantSpec = { replicantTemplate: { spec: { replicas: 1 } } };
/** One core; one old replicant with clients and its new replacement, each in its own ReplicaSet. */
const replicantRollover: WorldSpec = {
  cores: [{ name: 'emqx-core-0', rev: NEW }],
  replicants: [
    { name: 'emqx-replicant-old-a', rev: OLD, clients: 3 },
    { name: 'emqx-replicant-new-a', rev: NEW },
  ],
  replicaSets: [
    { name: 'emqx-replicant-old', rev: OLD, replicas: 1 },
    { name: 'emqx-replicant-new', rev: NEW, replicas: 1 },
  ],
};

const scenarios: Array<{ name: string; world: WorldSpec }> = [
  {
    name: 'in-place roll: evacuate the top core, then replace it',
    world: {
      cores: [
        { name: 'emqx-core-0', rev: OLD },
        { name: 'emqx-core-1', rev: OLD, clients: 4 },
      ],
    },
  },
  {
    name: 'core scale-down: leave, then shrink',
    world: {
      spec: { coreTemplate: { spec: { replicas: 1 } } },
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW },
      ],
      statefulSets: [{ name: 'emqx-core', rev: NEW, replicas: 2 }],
    },
  },
  {
    name: 'durable storage scale-down 3 → 2: move the replicas off the top core, then nothing until it is empty',
    world: {
      spec: { coreTemplate: { spec: { replicas: 2 } } },
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW },
        { name: 'emqx-core-2', rev: NEW },
      ],
      statefulSets: [{ name: 'emqx-core', rev: NEW, replicas: 3 }],
      ds: dsWorld({
        sites: { 'emqx-core-0': 'S0', 'emqx-core-1': 'S1', 'emqx-core-2': 'S2' },
        shards: [
          ['S0', 'S2'],
          ['S1', 'S2'],
        ],
      }),
    },
  },
  {
    name: 'blue-green: retire an old core',
    world: {
      spec: { updateStrategy: { core: { type: 'BlueGreen' } }, coreTemplate: { spec: { replicas: 1 } } },
      cores: [
        { name: 'emqx-core-old-0', rev: OLD },
        { name: 'emqx-core-new-0', rev: NEW },
      ],
      statefulSets: [
        { name: 'emqx-core-old', rev: OLD, replicas: 1, createdAt: '2026-01-01T00:00:00Z' },
        { name: 'emqx-core-new', rev: NEW, replicas: 1, createdAt: '2026-01-01T00:01:00Z' },
      ],
    },
  },
  {
    name: 'replicant drain: evacuate, then retire',
    world: {
      spec: replicantSpec,
      ...replicantRollover,
    },
  },
  {
    name: 'Opensource replicant: stop serving, then retire',
    world: {
      edition: 'Opensource',
      spec: { ...replicantSpec, updateStrategy: { evacuationStrategy: { waitTakeover: 0 } } },
      ...replicantRollover,
    },
  },
  {
    name: 'two stale evacuations',
    world: {
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW },
      ],
      evacuations: [
        { node: coreNode('emqx-core-0'), state: 'evicting_conns' },
        { node: coreNode('emqx-core-1'), state: 'evicting_conns' },
      ],
    },
  },
  {
    name: 'history pruning of two sets',
    world: {
      spec: { revisionHistoryLimit: 0, replicantTemplate: { spec: { replicas: 0 } } },
      cores: [{ name: 'emqx-core-0', rev: NEW }],
      replicaSets: [
        { name: 'emqx-replicant-a', rev: 'a', replicas: 0 },
        { name: 'emqx-replicant-b', rev: 'b', replicas: 0 },
      ],
    },
  },
];

for (const sc of scenarios) {
  test(`crash safety: ${sc.name}`, () => {
    let w = sc.world;
    // Walk the scenario for a few actions, checking each intermediate snapshot.
    for (let step = 0; step < 4; step++) {
      const decision = planRollout(world(w), NOW);
      const planned = decision.action;
      if (!planned) break;
      // After the action, the same pass applies the core StatefulSet with the replicas the decision holds.
      const coreReplicas = decision.coreReplicas;
      const writes = [
        ...writesOf(planned),
        ...(coreReplicas !== undefined && coreReplicas !== currentCoreReplicas(w)
          ? [(x: WorldSpec) => scaleSet(x, 'StatefulSet', 'emqx-core', coreReplicas)]
          : []),
      ];
      let partial = w;
      for (let i = 0; i < writes.length; i++) {
        const again = planRollout(world(partial), NOW).action;
        assert.equal(
          target(again),
          target(planned),
          `after ${i} of ${writes.length} writes of ${target(planned)}`,
        );
        partial = writes[i]!(partial);
      }
      const after = planRollout(world(partial), NOW).action;
      if (planned.kind !== 'scale' || after?.kind !== 'scale')
        assert.notDeepEqual(after, planned, `${target(planned)} is planned again once written`);
      w = partial;
    }
  });
}
