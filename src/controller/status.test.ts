import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EMQXStatus } from '../api/types.ts';
import { conditionEvents, creating } from './status.ts';

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
const coresUp = status(
  ['Initialized', 'True', 'ResourcesCreated', T0],
  ['CoreNodesProgressing', 'False', 'CoreNodesUpToDate', T1],
  ['CoreNodesReady', 'True', 'AllCoreNodesRunning', T1],
  ['ReplicantNodesProgressing', 'True', 'ScalingReplicantNodes', T0],
  ['ReplicantNodesReady', 'False', 'ReplicantNodesNotReady', T0],
  ['Available', 'False', 'NodesNotReady', T0],
  ['Ready', 'False', 'ReplicantNodesProgressing', T0],
  ['ConfigApplied', 'True', 'ConfigApplied', T0],
);
const ready = status(
  ['Initialized', 'True', 'ResourcesCreated', T0],
  ['CoreNodesProgressing', 'False', 'CoreNodesUpToDate', T1],
  ['CoreNodesReady', 'True', 'AllCoreNodesRunning', T1],
  ['ReplicantNodesProgressing', 'False', 'ReplicantNodesUpToDate', T2],
  ['ReplicantNodesReady', 'True', 'AllReplicantNodesRunning', T2],
  ['Available', 'True', 'ClusterAvailable', T2],
  ['Ready', 'True', 'ClusterReady', T2],
  ['ConfigApplied', 'True', 'ConfigApplied', T0],
);
const reasons = (prev: EMQXStatus | undefined, next: EMQXStatus) =>
  conditionEvents(prev, next).map((e) => `${e.type}/${e.reason}`);

test('conditionEvents: a new cluster records that it was created and that it is Ready, nothing in between', () => {
  const all = [...reasons(undefined, created), ...reasons(created, coresUp), ...reasons(coresUp, ready)];
  assert.deepEqual(all, ['Normal/ResourcesCreated', 'Normal/ClusterReady']);
});

test('conditionEvents: once the cluster was Ready, every flip is recorded', () => {
  const coreDown = status(
    ['Initialized', 'True', 'ResourcesCreated', T0],
    ['CoreNodesProgressing', 'False', 'CoreNodesUpToDate', T1],
    ['CoreNodesReady', 'False', 'CoreNodesNotReady', T3],
    ['ReplicantNodesProgressing', 'False', 'ReplicantNodesUpToDate', T2],
    ['ReplicantNodesReady', 'True', 'AllReplicantNodesRunning', T2],
    ['Available', 'False', 'NodesNotReady', T3],
    ['Ready', 'False', 'NotAvailable', T3],
    ['ConfigApplied', 'True', 'ConfigApplied', T0],
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
  const rejected = status(
    ...(created
      .conditions!.filter((c) => c.type !== 'ConfigApplied')
      .map((c) => [c.type, c.status, c.reason, c.lastTransitionTime]) as C[]),
    ['ConfigApplied', 'False', 'ConfigRejected', T1],
  );
  assert.equal(creating(created), true);
  assert.deepEqual(reasons(created, rejected), ['Warning/ConfigRejected']);
});

test('creating: no status, or Ready never True since Initialized flipped', () => {
  assert.equal(creating(undefined), true);
  assert.equal(creating({}), true);
  assert.equal(creating(created), true);
  assert.equal(creating(ready), false);
});
