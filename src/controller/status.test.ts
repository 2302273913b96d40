import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dsWorld, NEW, NOW, world } from '../../test/support/world.ts';
import { buildStatus, type StatusDecisions } from './status.ts';

const decisions: StatusDecisions = {
  config: { state: 'Applied' },
  initialized: true,
  activity: {},
  progressing: {},
};
const cores = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `emqx-core-${i}`, rev: NEW }));
const SITES = { 'emqx-core-0': 'S0', 'emqx-core-1': 'S1', 'emqx-core-2': 'S2' };

test('status.durableStorage: sites with their shard counts, under-replicated shards, transitions', () => {
  const s = world({
    cores: cores(3),
    ds: dsWorld({
      sites: SITES,
      down: ['emqx-core-2'],
      shards: [
        ['S0', 'S2'],
        ['S0', 'S1', '+S2'],
        ['S1', 'S0'],
      ],
    }),
  });
  const status = buildStatus(s, decisions, NOW);
  assert.deepEqual(status.durableStorage, {
    replicationFactor: 2,
    sites: [
      { site: 'S0', node: 'emqx@emqx-core-0.emqx-headless.ns1.svc.cluster.local', up: true, shards: 3 },
      { site: 'S1', node: 'emqx@emqx-core-1.emqx-headless.ns1.svc.cluster.local', up: true, shards: 2 },
      { site: 'S2', node: 'emqx@emqx-core-2.emqx-headless.ns1.svc.cluster.local', up: false, shards: 1 },
    ],
    shards: 3,
    underReplicatedShards: 1,
    transitions: 1,
  });
  const c = status.conditions!.find((x) => x.type === 'DurableStorage')!;
  assert.deepEqual([c.status, c.reason], ['False', 'UnderReplicated']);
});

test('a spec below the replication factor shows as a refusal in the DurableStorage condition', () => {
  const s = world({
    spec: { coreTemplate: { spec: { replicas: 1 } } },
    cores: cores(3),
    statefulSets: [{ name: 'emqx-core', rev: NEW, replicas: 3 }],
    ds: dsWorld({ sites: SITES, factor: 3, shards: [['S0', 'S1', 'S2']] }),
  });
  const c = buildStatus(s, decisions, NOW).conditions!.find((x) => x.type === 'DurableStorage')!;
  assert.equal(c.status, 'False');
  assert.equal(c.reason, 'ReplicationFactorNotMet');
  assert.match(
    c.message,
    /spec\.coreTemplate\.spec\.replicas 1 is below the durable storage replication factor 3/,
  );
});

test('no durable sessions: no durableStorage section and no DurableStorage condition', () => {
  const status = buildStatus(world({ cores: cores(2) }), decisions, NOW);
  assert.equal(status.durableStorage, undefined);
  assert.ok(!status.conditions!.some((x) => x.type === 'DurableStorage'));
});

test('/ds unreadable this pass: the last durableStorage section stays, the condition is Unknown', () => {
  const previous = {
    durableStorage: { replicationFactor: 2, sites: [], shards: 4, underReplicatedShards: 0, transitions: 0 },
  };
  const s = world({
    cores: cores(2),
    previousStatus: previous,
    ds: dsWorld({ sites: SITES, shards: [], readable: false }),
  });
  const status = buildStatus(s, decisions, NOW);
  assert.deepEqual(status.durableStorage, previous.durableStorage);
  assert.equal(status.conditions!.find((x) => x.type === 'DurableStorage')!.status, 'Unknown');
});
