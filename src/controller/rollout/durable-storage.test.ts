import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCases } from '../../../test/support/rollout-cases.ts';
import { coreNode, dsWorld, NEW, OLD } from '../../../test/support/world.ts';
import type { RolloutDecision } from './types.ts';

const cores = (n: number, rev = NEW, extra: Record<number, object> = {}) =>
  Array.from({ length: n }, (_, i) => ({ name: `emqx-core-${i}`, rev, ...extra[i] }));
const sts = (replicas: number, rev = NEW) => [{ name: 'emqx-core', rev, replicas }];
const wantCores = (replicas: number) => ({ coreTemplate: { spec: { replicas } } });
const SITES4 = { 'emqx-core-0': 'S0', 'emqx-core-1': 'S1', 'emqx-core-2': 'S2', 'emqx-core-3': 'S3' };
const shards = (...sets: string[][]) => sets;

/**
 * Blue-green with two old cores (sites A0, A1) and two new ones (B0, B1), both sets running; `clients` on the second
 * old core (the next one to go).
 */
function blueGreen(ds: { shards: string[][]; factor?: number; explicit?: boolean }, clients?: number) {
  return {
    spec: { updateStrategy: { core: { type: 'BlueGreen' as const } }, ...wantCores(2) },
    cores: [
      { name: `emqx-core-${OLD}-0`, rev: OLD },
      { name: `emqx-core-${OLD}-1`, rev: OLD, ...(clients !== undefined && { clients }) },
      { name: `emqx-core-${NEW}-0`, rev: NEW },
      { name: `emqx-core-${NEW}-1`, rev: NEW },
    ],
    statefulSets: [
      { name: `emqx-core-${OLD}`, rev: OLD, replicas: 2, createdAt: '2026-01-01T00:00:00Z' },
      { name: `emqx-core-${NEW}`, rev: NEW, replicas: 2, createdAt: '2026-01-01T00:10:00Z' },
    ],
    ds: dsWorld({
      ...ds,
      sites: {
        [`emqx-core-${OLD}-0`]: 'A0',
        [`emqx-core-${OLD}-1`]: 'A1',
        [`emqx-core-${NEW}-0`]: 'B0',
        [`emqx-core-${NEW}-1`]: 'B1',
      },
    }),
  };
}

function dsAction(d: RolloutDecision): { db: string; sites: string[] } {
  if (d.action?.kind !== 'dsSetReplicas') throw new Error(`not a DS action: ${JSON.stringify(d.action)}`);
  return { db: d.action.db, sites: d.action.sites };
}

runCases('durable storage', [
  {
    name: 'scale-up: once the new cores run, every DB is assigned to all four sites (one Event)',
    world: {
      spec: wantCores(4),
      cores: cores(4),
      statefulSets: sts(4),
      ds: dsWorld({ sites: SITES4, shards: shards(['S0', 'S1'], ['S0', 'S1']) }),
    },
    action: { kind: 'dsSetReplicas', db: 'messages', sites: ['S0', 'S1', 'S2', 'S3'] },
    phase: 'UpdatingDurableStorage',
    check: (d) => {
      assert.equal(d.action!.events.length, 1);
      assert.equal(d.action!.events[0]!.reason, 'DurableStorageReplicasChanged');
      assert.match(
        d.action!.events[0]!.message,
        /messages: replica sites \[.*core-0.*core-1.*\] → \[.*core-3.*\]/,
      );
    },
  },
  {
    name: 'scale-up: a new core that does not run yet is not assigned; nothing is written',
    world: {
      spec: wantCores(4),
      cores: cores(4, NEW, { 3: { running: false } }),
      statefulSets: sts(4),
      ds: dsWorld({
        sites: { 'emqx-core-0': 'S0', 'emqx-core-1': 'S1', 'emqx-core-2': 'S2' },
        shards: shards(['S0', 'S1']),
      }),
    },
    action: null,
  },
  {
    name: 'steady state: the assignment already is the cores that stay',
    world: {
      spec: wantCores(2),
      cores: cores(2),
      statefulSets: sts(2),
      ds: dsWorld({ sites: SITES4, shards: shards(['S0', 'S1'], ['S0', 'S1']) }),
    },
    action: null,
    phase: 'Idle',
  },
  {
    name: 'transitions toward the right sites are not re-requested',
    world: {
      spec: wantCores(4),
      cores: cores(4),
      statefulSets: sts(4),
      ds: dsWorld({ sites: SITES4, shards: shards(['S0', 'S1', '+S2', '+S3']) }),
    },
    action: null,
  },
  {
    name: 'scale-down 4 → 2: the replicas move to the two cores that stay first, the set held at 4',
    world: {
      spec: wantCores(2),
      cores: cores(4),
      statefulSets: sts(4),
      ds: dsWorld({ sites: SITES4, shards: shards(['S0', 'S2'], ['S1', 'S3'], ['S2', 'S3']) }),
    },
    action: { kind: 'dsSetReplicas', sites: ['S0', 'S1'] },
    coreReplicas: 4,
  },
  {
    name: 'scale-down: the top core is not evacuated while its site still has a transition',
    world: {
      spec: wantCores(2),
      cores: cores(4, NEW, { 3: { clients: 5 } }),
      statefulSets: sts(4),
      ds: dsWorld({ sites: SITES4, shards: shards(['S0', 'S1', '-S3'], ['S0', 'S1']) }),
    },
    action: null,
    phase: 'ScalingDownCores',
    message: /durable storage replicas of .*emqx-core-3.* \(site S3\)/,
    coreReplicas: 4,
  },
  {
    name: 'scale-down: once the top core holds nothing it is evacuated as usual',
    world: {
      spec: wantCores(2),
      cores: cores(4, NEW, { 3: { clients: 5 } }),
      statefulSets: sts(4),
      ds: dsWorld({ sites: SITES4, shards: shards(['S0', 'S1'], ['S0', 'S1']) }),
    },
    action: { kind: 'evacuate', node: coreNode('emqx-core-3') },
    coreReplicas: 4,
  },
  {
    name: 'scale-down: a core with an empty site leaves the cluster',
    world: {
      spec: wantCores(2),
      cores: cores(3),
      statefulSets: sts(3),
      ds: dsWorld({ sites: SITES4, shards: shards(['S0', 'S1']) }),
    },
    action: { kind: 'removeNode', node: coreNode('emqx-core-2') },
    coreReplicas: 2,
  },
  {
    name: 'scale-down: durable storage state unreadable → no removal',
    world: {
      spec: wantCores(2),
      cores: cores(3),
      statefulSets: sts(3),
      ds: dsWorld({ sites: SITES4, shards: [], readable: false }),
    },
    action: null,
    message: /waiting for the durable storage state/,
    coreReplicas: 3,
  },
  {
    name: 'refusal: fewer cores than the replication factor keeps the cores and writes nothing',
    world: {
      spec: wantCores(2),
      cores: cores(3),
      statefulSets: sts(3),
      ds: dsWorld({ sites: SITES4, factor: 3, shards: shards(['S0', 'S1', 'S2']) }),
    },
    action: null,
    coreReplicas: 3,
    message: /spec\.coreTemplate\.spec\.replicas 2 is below the durable storage replication factor 3/,
  },
  {
    name: 'durable storage disabled in EMQX (404): the scale-down goes on as without it',
    world: {
      spec: wantCores(2),
      cores: cores(3),
      statefulSets: sts(3),
      ds: { active: false, replicationFactor: 3, factorExplicit: false },
    },
    action: { kind: 'removeNode', node: coreNode('emqx-core-2') },
  },
  {
    name: 'in-place upgrade: the next core waits until the restarted core’s shards are up again',
    world: {
      spec: wantCores(2),
      cores: [
        { name: 'emqx-core-0', rev: OLD },
        { name: 'emqx-core-1', rev: NEW },
      ],
      statefulSets: sts(2),
      ds: dsWorld({ sites: SITES4, down: ['emqx-core-1'], shards: shards(['S0', 'S1']) }),
    },
    action: null,
    phase: 'UpdatingCores',
    message: /every durable storage shard to be up/,
  },
  {
    name: 'in-place upgrade: with every shard up, the next core is replaced (same site kept: no DS write)',
    world: {
      spec: wantCores(2),
      cores: [
        { name: 'emqx-core-0', rev: OLD },
        { name: 'emqx-core-1', rev: NEW },
      ],
      statefulSets: sts(2),
      ds: dsWorld({ sites: SITES4, shards: shards(['S0', 'S1']) }),
    },
    action: { kind: 'replacePod' },
  },
  {
    name: 'blue-green: the replicas move to the new cores before an old core is evacuated',
    world: blueGreen({ shards: shards(['A0', 'A1']) }, 3),
    action: { kind: 'dsSetReplicas', sites: ['B0', 'B1'] },
  },
  {
    name: 'blue-green with the default factor 3 and 2 cores: no refusal (the old set is not a scale-down)',
    world: blueGreen({ factor: 3, explicit: false, shards: shards(['A0', 'A1']) }),
    action: { kind: 'dsSetReplicas', sites: ['B0', 'B1'] },
  },
  {
    name: 'blue-green: an old core whose site still has a replica (leaving) is not evacuated yet',
    world: blueGreen({ shards: shards(['A1', 'B0', 'B1', '-A1'], ['B0', 'B1']) }, 3),
    action: null,
    phase: 'DrainingCores',
    message: /site A1/,
  },
]);

test('durable storage: a DS action names only sites of cores meant to stay (pods 0…n-1 of the current set)', async () => {
  const { planRollout } = await import('./index.ts');
  const { world, NOW } = await import('../../../test/support/world.ts');
  const d = planRollout(
    world({
      spec: wantCores(3),
      cores: cores(4),
      statefulSets: sts(4),
      ds: dsWorld({ sites: SITES4, factor: 2, shards: shards(['S0', 'S3']) }),
    }),
    NOW,
  );
  assert.deepEqual(dsAction(d).sites, ['S0', 'S1', 'S2']);
});
