import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { dsWorld, NEW, NOW, world } from '../../test/support/world.ts';
import type { EMQXStatus } from '../api/types.ts';
import {
  acknowledgementStatus,
  buildStatus,
  conditionEvents,
  creating,
  statusChanged,
  type StatusDecisions,
} from './status.ts';

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

type C = [type: string, status: 'True' | 'False', reason: string, at: string];
const status = (...cs: C[]): EMQXStatus =>
  ({
    conditions: cs.map(([type, s, reason, at]) => ({
      type,
      status: s,
      reason,
      message: reason,
      lastTransitionTime: at,
    })),
  }) as EMQXStatus;

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:00:05Z';
const T2 = '2026-01-01T00:00:09Z';
const T3 = '2026-01-01T01:00:00Z';

// The conditions of a new cluster, pass by pass: created, cores come up, replicants come up, Ready.
const created = status(
  ['Initialized', 'True', 'ResourcesCreated', T0],
  ['CoreNodesProgressing', 'True', 'ScalingCoreNodes', T0],
  ['CoreNodesReady', 'False', 'CoreNodesNotReady', T0],
  ['ReplicantNodesProgressing', 'True', 'ScalingReplicantNodes', T0],
  ['ReplicantNodesReady', 'False', 'ReplicantNodesNotReady', T0],
  ['Available', 'False', 'NodesNotReady', T0],
  ['Ready', 'False', 'NotAvailable', T0],
  ['ConfigApplied', 'True', 'ConfigApplied', T0],
);
/** `base` with the conditions of the given types replaced, in place (the order stays). */
const change = (base: EMQXStatus, ...cs: C[]): EMQXStatus => {
  const by = new Map(cs.map((c) => [c[0], c]));
  return status(
    ...base.conditions!.map(
      (c) => by.get(c.type) ?? ([c.type, c.status, c.reason, c.lastTransitionTime] as C),
    ),
  );
};
const coresUp = change(
  created,
  ['CoreNodesProgressing', 'False', 'CoreNodesUpToDate', T1],
  ['CoreNodesReady', 'True', 'AllCoreNodesRunning', T1],
  ['Ready', 'False', 'ReplicantNodesProgressing', T0],
);
const ready = change(
  coresUp,
  ['ReplicantNodesProgressing', 'False', 'ReplicantNodesUpToDate', T2],
  ['ReplicantNodesReady', 'True', 'AllReplicantNodesRunning', T2],
  ['Available', 'True', 'ClusterAvailable', T2],
  ['Ready', 'True', 'ClusterReady', T2],
);
const reasons = (prev: EMQXStatus | undefined, next: EMQXStatus) =>
  conditionEvents(prev, next).map((e) => `${e.type}/${e.reason}`);

test('conditionEvents: a new cluster records that it was created and that it is Ready, nothing in between', () => {
  const all = [...reasons(undefined, created), ...reasons(created, coresUp), ...reasons(coresUp, ready)];
  assert.deepEqual(all, ['Normal/ResourcesCreated', 'Normal/ClusterReady']);
});

test('conditionEvents: once the cluster was Ready, every flip is recorded', () => {
  const coreDown = change(
    ready,
    ['CoreNodesReady', 'False', 'CoreNodesNotReady', T3],
    ['Available', 'False', 'NodesNotReady', T3],
    ['Ready', 'False', 'NotAvailable', T3],
  );
  assert.deepEqual(reasons(ready, coreDown), [
    'Warning/CoreNodesNotReady',
    'Warning/NodesNotReady',
    'Warning/NotAvailable',
  ]);
  // and the way back, although Ready is False again: it was Ready before (its flip is later than Initialized's)
  assert.equal(creating(coreDown), false);
  assert.deepEqual(reasons(coreDown, ready), [
    'Normal/AllCoreNodesRunning',
    'Normal/ClusterAvailable',
    'Normal/ClusterReady',
  ]);
});

test('conditionEvents: a refused config is recorded while the cluster is still coming up', () => {
  const rejected = change(created, ['ConfigApplied', 'False', 'ConfigRejected', T1]);
  assert.equal(creating(created), true);
  assert.deepEqual(reasons(created, rejected), ['Warning/ConfigRejected']);
});

test('creating: no status, or Ready never True since Initialized flipped', () => {
  assert.equal(creating(undefined), true);
  assert.equal(creating({}), true);
  assert.equal(creating(created), true);
  assert.equal(creating(ready), false);
});

test('acknowledgementStatus: phase Initializing, the generation, Initialized False; the first pass replaces it', () => {
  const ack = acknowledgementStatus(3, new Date(T0));
  assert.equal(ack.phase, 'Initializing');
  assert.equal(ack.observedGeneration, 3);
  assert.deepEqual(
    ack.conditions?.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime, c.observedGeneration]),
    [['Initialized', 'False', 'CreatingResources', T0, 3]],
  );
  assert.equal(creating(ack), true);
  assert.equal(statusChanged(ack, created), true);
});

test('conditionEvents: after the acknowledgement, a new cluster records the same Events as without it', () => {
  const ack = acknowledgementStatus(1, new Date(T0));
  const pending = change(created, ['ConfigApplied', 'False', 'ConfigPending', T0]);
  assert.deepEqual(reasons(undefined, ack), [], 'the acknowledgement itself announces nothing');
  assert.deepEqual(reasons(ack, pending), ['Normal/ResourcesCreated']);
  assert.deepEqual(reasons(undefined, pending), reasons(ack, pending));
  const all = [...reasons(ack, created), ...reasons(created, coresUp), ...reasons(coresUp, ready)];
  assert.deepEqual(all, ['Normal/ResourcesCreated', 'Normal/ClusterReady']);
});
