import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCases } from '../../../test/support/rollout-cases.ts';
import { coreNode, NEW, OLD, world, type WorldSpec } from '../../../test/support/world.ts';
import { forgetRetiredCores } from './retired-cores.ts';

const blueGreen = {
  updateStrategy: { core: { type: 'BlueGreen' as const } },
  coreTemplate: { spec: { replicas: 2 } },
};
// The old set retired (0 replicas), both new cores run: what a finished BlueGreen upgrade looks like.
const retired = (over: Partial<WorldSpec> = {}): WorldSpec => ({
  spec: blueGreen,
  cores: [
    { name: `emqx-core-${NEW}-0`, rev: NEW },
    { name: `emqx-core-${NEW}-1`, rev: NEW },
  ],
  statefulSets: [
    { name: `emqx-core-${OLD}`, rev: OLD, replicas: 0, createdAt: '2026-01-01T00:00:00Z' },
    { name: `emqx-core-${NEW}`, rev: NEW, replicas: 2, createdAt: '2026-01-01T00:10:00Z' },
  ],
  ...over,
});

runCases('retired cores', [
  {
    name: 'a stopped core of a retired set, its pod gone, is removed from the cluster (no scale, PVC untouched)',
    world: retired({ stoppedCores: [`emqx-core-${OLD}-1`] }),
    action: { kind: 'removeNode', node: coreNode(`emqx-core-${OLD}-1`), leave: true, scale: undefined },
    phase: 'Idle',
    check: (d) => {
      const a = d.action as { events: Array<{ reason: string; message: string }> };
      if (
        a.events[0]?.reason !== 'RetiredCoreRemoved' ||
        !/emqx-core-old runs 0 replica/.test(a.events[0].message)
      )
        throw new Error(`event: ${JSON.stringify(a.events)}`);
    },
  },
  {
    name: 'a stopped core above the current set’s replicas (scaled down without leaving) is removed too',
    world: {
      spec: { coreTemplate: { spec: { replicas: 2 } } },
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW },
      ],
      statefulSets: [{ name: 'emqx-core', rev: NEW, replicas: 2 }],
      stoppedCores: ['emqx-core-2'],
    },
    action: { kind: 'removeNode', node: coreNode('emqx-core-2'), leave: true },
  },
  {
    name: 'never a core whose ordinal its set still runs (an InPlace replacement comes back under that name)',
    world: {
      spec: { coreTemplate: { spec: { replicas: 3 } } },
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW },
      ],
      statefulSets: [{ name: 'emqx-core', rev: NEW, replicas: 3 }],
      stoppedCores: ['emqx-core-2'],
    },
    action: null,
  },
  {
    name: 'never a core whose pod exists (it may be restarting)',
    world: retired({
      cores: [
        { name: `emqx-core-${OLD}-1`, rev: OLD, running: false, terminating: true },
        { name: `emqx-core-${NEW}-0`, rev: NEW },
        { name: `emqx-core-${NEW}-1`, rev: NEW },
      ],
      stoppedCores: [`emqx-core-${OLD}-1`],
    }),
    action: null,
  },
  {
    name: 'never a name that is not one of this cluster’s StatefulSets',
    world: retired({ stoppedCores: ['other-core-0'] }),
    action: null,
  },
  {
    name: 'never with durable storage on (a site’s replicas move first; EMQX refuses a site that holds any)',
    world: retired({
      stoppedCores: [`emqx-core-${OLD}-1`],
      ds: { active: true, replicationFactor: 2, factorExplicit: true, observed: { sites: [], dbs: [] } },
    }),
    action: null,
  },
  {
    name: 'never a node of another cluster’s headless Service, though its pod name matches',
    world: retired({
      stoppedCores: [`emqx@emqx-core-${OLD}-1.other-headless.ns1.svc.cluster.local`],
    }),
    action: null,
  },
  {
    name: 'never while no core runs to ask',
    world: retired({
      cores: [
        { name: `emqx-core-${NEW}-0`, rev: NEW, running: false },
        { name: `emqx-core-${NEW}-1`, rev: NEW, running: false },
      ],
      stoppedCores: [`emqx-core-${OLD}-1`],
    }),
    action: null,
  },
  {
    name: 'a rollout in progress goes first',
    world: retired({
      spec: { ...blueGreen, replicantTemplate: { spec: { replicas: 1 } } },
      replicants: [
        { name: 'emqx-replicant-old-a', rev: OLD, clients: 4 },
        { name: 'emqx-replicant-new-a', rev: NEW },
      ],
      replicaSets: [
        { name: 'emqx-replicant-old', rev: OLD, replicas: 1 },
        { name: 'emqx-replicant-new', rev: NEW, replicas: 1 },
      ],
      stoppedCores: [`emqx-core-${OLD}-1`],
    }),
    action: { kind: 'evacuate' },
  },
]);

test('retired cores: nothing to do while no core runs to ask', () => {
  const s = world(
    retired({
      cores: [
        { name: `emqx-core-${NEW}-0`, rev: NEW, running: false },
        { name: `emqx-core-${NEW}-1`, rev: NEW, running: false },
      ],
      stoppedCores: [`emqx-core-${OLD}-1`],
    }),
  );
  assert.ok(s.nodes?.some((n) => n.node_status === 'stopped'));
  assert.equal(forgetRetiredCores(s), undefined);
  // the same world with a core running: the node is removed
  const running = world(retired({ stoppedCores: [`emqx-core-${OLD}-1`] }));
  assert.equal(forgetRetiredCores(running)?.kind, 'removeNode');
});
