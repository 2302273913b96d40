import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { dsWorld, NEW, NOW, world } from '../../test/support/world.ts';
import type { EMQXStatus } from '../api/types.ts';
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

describe('buildStatus', () => {
  it('lists nodes with name and node, and leaves empty lists out (no replicants: no replicantNodes)', () => {
    const s = world({
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW },
      ],
    });
    const status = buildStatus(s, decisions, NOW);
    assert.equal(status.coreNodes?.length, 2);
    for (const n of status.coreNodes!) assert.equal(n.node, n.name);
    assert.match(status.coreNodes![0]!.node!, /^emqx@emqx-core-0\./);
    assert.equal('replicantNodes' in status, false);
    assert.equal('nodeEvacuationsStatus' in status, false);
    const none = buildStatus(
      world({ cores: [{ name: 'emqx-core-0', rev: NEW, running: false }] }),
      decisions,
      NOW,
    );
    assert.equal('coreNodes' in none, false, 'EMQX answered with no core node: no list');
  });

  it('foreign workloads: Ready False with the message, other conditions and columns as they were', () => {
    const previous: EMQXStatus = {
      cores: '2/2',
      replicants: '3/3',
      conditions: [
        {
          type: 'CoreNodesReady',
          status: 'True',
          reason: 'x',
          message: '',
          lastTransitionTime: '2025-01-01T00:00:00Z',
        },
        {
          type: 'Ready',
          status: 'True',
          reason: 'x',
          message: '',
          lastTransitionTime: '2025-01-01T00:00:00Z',
        },
      ],
    };
    const s = world({
      cores: [{ name: 'emqx-core-abc-0', rev: 'abc' }],
      statefulSets: [{ name: 'emqx-core-abc', rev: 'abc', replicas: 1, foreign: true }],
      previousStatus: previous,
    });
    const status = buildStatus(
      s,
      {
        ...decisions,
        foreignWorkloads: { reason: 'ForeignWorkloads', message: 'StatefulSet emqx-core-abc: not ours' },
      },
      NOW,
    );
    assert.equal(status.phase, 'ForeignWorkloads');
    assert.equal(status.cores, '2/2');
    assert.equal(status.replicants, '3/3');
    const byType = new Map(status.conditions!.map((c) => [c.type, c]));
    assert.equal(byType.get('CoreNodesReady')?.status, 'True');
    assert.equal(byType.get('CoreNodesReady')?.lastTransitionTime, '2025-01-01T00:00:00Z');
    assert.deepEqual(
      [byType.get('Ready')?.status, byType.get('Ready')?.reason, byType.get('Ready')?.message],
      ['False', 'ForeignWorkloads', 'StatefulSet emqx-core-abc: not ours'],
    );
    // The same snapshot without the decision: the columns are computed (0 of the 1 core on this revision).
    assert.equal(buildStatus(s, decisions, NOW).cores, '0/1');
  });
});
