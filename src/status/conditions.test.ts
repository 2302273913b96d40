import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  available,
  computeConditions,
  configApplied,
  coreNodesProgressing,
  coreNodesReady,
  durableStorage,
  flips,
  foreignWorkloadsConditions,
  mergeConditions,
  phase,
  ready,
  replicantNodesReady,
  MAX_CONDITION_MESSAGE,
  type RoleObservation,
  type StatusObservation,
} from './conditions.ts';
import { forgetSecret, registerSecret } from '../observability/redact.ts';

function role(desired: number, running = desired, extra: Partial<RoleObservation> = {}): RoleObservation {
  return {
    desired,
    pods: desired,
    readyPods: running,
    runningUpdated: running,
    updatedPods: desired,
    oldPods: 0,
    progressing: false,
    ...extra,
  };
}

function obs(extra: Partial<StatusObservation> = {}): StatusObservation {
  return {
    generation: 3,
    paused: false,
    initialized: true,
    core: role(2),
    replicant: role(3),
    config: { state: 'Applied' },
    ...extra,
  };
}

describe('status conditions', () => {
  it('a converged cluster is Ready and its phase is Ready', () => {
    const conds = computeConditions(obs());
    const byType = Object.fromEntries(conds.map((c) => [c.type, c.status]));
    assert.equal(byType.Ready, 'True');
    assert.equal(byType.Available, 'True');
    assert.equal(byType.CoreNodesProgressing, 'False');
    assert.equal(phase(conds, false), 'Ready');
  });

  it('cores short of running nodes are not ready and the phase stops before CoreNodesReady', () => {
    const o = obs({ core: role(3, 1), replicant: { ...role(3, 0), pods: 0, updatedPods: 0 } });
    assert.equal(coreNodesReady(o).status, 'False');
    assert.match(coreNodesReady(o).message, /1\/3 core nodes running/);
    assert.equal(coreNodesProgressing(o).status, 'True');
    assert.equal(phase(computeConditions(o), false), 'CoreNodesProgressing');
  });

  it('no replicants in the spec counts as replicants ready', () => {
    const o = obs({ replicant: undefined });
    assert.equal(replicantNodesReady(o).status, 'True');
    assert.equal(replicantNodesReady(o).reason, 'NoReplicants');
    assert.equal(ready(o).status, 'True');
  });

  it('old-revision pods keep the role progressing and the cluster not Ready', () => {
    const o = obs({ core: role(2, 2, { oldPods: 1, pods: 3, activity: 'replacing emqx-core-1' }) });
    assert.equal(coreNodesProgressing(o).status, 'True');
    assert.equal(coreNodesProgressing(o).reason, 'UpdatingCoreNodes');
    assert.match(coreNodesProgressing(o).message, /replacing emqx-core-1/);
    assert.equal(available(o).status, 'True');
    assert.equal(ready(o).status, 'False');
    assert.equal(ready(o).reason, 'CoreNodesProgressing');
  });

  it('paused wins over everything for phase and Ready', () => {
    const o = obs({ paused: true });
    const conds = computeConditions(o);
    assert.equal(phase(conds, true), 'Paused');
    assert.equal(ready(o).reason, 'ReconcilePaused');
    assert.equal(conds.find((c) => c.type === 'Paused')?.status, 'True');
  });

  it('foreign workloads make Ready False with their message, even on a running cluster', () => {
    const o = obs({
      foreignWorkloads: {
        reason: 'ForeignWorkloads',
        message: 'StatefulSet emqx-core-abc (...): not created by this operator',
      },
    });
    assert.deepEqual(
      [ready(o).status, ready(o).reason, ready(o).message],
      ['False', 'ForeignWorkloads', 'StatefulSet emqx-core-abc (...): not created by this operator'],
    );
    assert.equal(ready(obs()).status, 'True', 'the same observation without them is Ready');
    // The other conditions stay as the previous operator left them; the phase says why nothing moves.
    const previous = [
      { type: 'CoreNodesReady', status: 'True', reason: '', message: '', lastTransitionTime: 't' },
      { type: 'Ready', status: 'True', reason: 'ClusterReady', message: '', lastTransitionTime: 't' },
      { type: 'SomethingElse', status: 'True', reason: 'x', message: '', lastTransitionTime: 't' },
    ] as const;
    const shown = foreignWorkloadsConditions([...previous], computeConditions(o));
    assert.deepEqual(
      shown.map((c) => `${c.type}=${c.status}/${c.reason}`),
      ['CoreNodesReady=True/', 'Ready=False/ForeignWorkloads'],
    );
    assert.equal(phase(shown, false), 'ForeignWorkloads');
  });

  it('invalid config is reported with its message', () => {
    const o = obs({
      config: { state: 'Invalid', message: 'spec.config.data: line 2, column 5: unexpected' },
    });
    const c = configApplied(o);
    assert.equal(c.status, 'False');
    assert.equal(c.reason, 'InvalidConfig');
    assert.match(c.message, /line 2, column 5/);
  });

  it('lastTransitionTime changes only when the status flips', () => {
    const first = mergeConditions(undefined, computeConditions(obs({ core: role(2, 1) })), 't1', 1);
    const second = mergeConditions(first, computeConditions(obs({ core: role(2, 1) })), 't2', 1);
    assert.deepEqual(
      second.map((c) => c.lastTransitionTime),
      first.map((c) => c.lastTransitionTime),
    );
    const third = mergeConditions(second, computeConditions(obs()), 't3', 2);
    const ready3 = third.find((c) => c.type === 'Ready');
    assert.equal(ready3?.lastTransitionTime, 't3');
    const init3 = third.find((c) => c.type === 'Initialized');
    assert.equal(init3?.lastTransitionTime, 't1');
    assert.equal(ready3?.observedGeneration, 2);
    assert.deepEqual(
      flips(second, third)
        .map((c) => c.type)
        .sort(),
      ['Available', 'CoreNodesProgressing', 'CoreNodesReady', 'Ready'],
    );
  });

  it('a config the parser or EMQX refused leaves Ready=False, not "the cluster matches the spec"', () => {
    for (const [state, reason] of [
      ['Invalid', 'InvalidConfig'],
      ['Rejected', 'ConfigRejected'],
    ] as const) {
      const o = obs({ config: { state, message: 'spec.config.data: line 1, column 3: unexpected' } });
      assert.equal(configApplied(o).status, 'False');
      const r = ready(o);
      assert.deepEqual([r.status, r.reason], ['False', reason], state);
      assert.match(r.message, /line 1, column 3/);
      assert.equal(phase(computeConditions(o), false), 'Available');
    }
  });

  it('condition messages are redacted and cut to MAX_CONDITION_MESSAGE characters', () => {
    registerSecret('licence-VALUE-1234');
    try {
      const long = `EMQX rejected spec.config.data: license key licence-VALUE-1234 invalid; ${'x'.repeat(5000)}`;
      const c = configApplied(obs({ config: { state: 'Rejected', message: long } }));
      assert.ok(c.message.length <= MAX_CONDITION_MESSAGE, `length ${c.message.length}`);
      assert.doesNotMatch(c.message, /licence-VALUE-1234/);
      assert.match(c.message, /\*{6}/);
      assert.match(c.message, /… \(\d+ more characters\)$/);
      const inline = configApplied(
        obs({ config: { state: 'Rejected', message: 'bad: password = "hunter2x"' } }),
      );
      assert.doesNotMatch(inline.message, /hunter2x/);
    } finally {
      forgetSecret('licence-VALUE-1234');
    }
  });

  it('an EMQX API that fails or times out is named in the node conditions', () => {
    const o = obs({ apiUnreachable: 'GET /api/v5/nodes on http://10.0.0.1:18083: timed out' });
    assert.match(
      coreNodesReady(o).message,
      /EMQX API unusable \(GET \/api\/v5\/nodes on http:\/\/10\.0\.0\.1:18083: timed out\): node states from Kubernetes only$/,
    );
    assert.match(replicantNodesReady(o).message, /EMQX API unusable/);
    assert.doesNotMatch(coreNodesReady(obs()).message, /EMQX API/);
  });
});

describe('DurableStorage condition', () => {
  const ds = (extra: Partial<NonNullable<StatusObservation['durableStorage']>> = {}) =>
    obs({
      durableStorage: {
        active: true,
        replicationFactor: 2,
        shards: 16,
        underReplicated: 0,
        transitions: 0,
        sites: 2,
        ...extra,
      },
    });
  const cases: Array<[string, StatusObservation, string | undefined, string | undefined]> = [
    ['absent without durable sessions', obs(), undefined, undefined],
    ['fully replicated', ds(), 'True', 'Replicated'],
    [
      'transitions running, nothing under-replicated',
      ds({ transitions: 3 }),
      'True',
      'TransitionsInProgress',
    ],
    ['under-replicated shards', ds({ underReplicated: 4, transitions: 4 }), 'False', 'UnderReplicated'],
    ['refused spec', ds({ refusal: 'below the factor' }), 'False', 'ReplicationFactorNotMet'],
    ['EMQX does not run it', ds({ active: false }), 'False', 'DurableStorageNotRunning'],
    ['unreadable', ds({ unreadable: 'timeout' }), 'Unknown', 'DurableStorageUnknown'],
    [
      'unreadable within an API outage grace: the last value stays',
      ds({ unreadable: 'timeout', lastKnown: { status: 'False', reason: 'UnderReplicated', message: 'm' } }),
      'False',
      'UnderReplicated',
    ],
    [
      'a refusal shows even within the grace (it comes from the spec)',
      ds({
        unreadable: 'timeout',
        refusal: 'below',
        lastKnown: { status: 'True', reason: 'Replicated', message: 'm' },
      }),
      'False',
      'ReplicationFactorNotMet',
    ],
    [
      'readable again: the fresh value, not the last one',
      ds({ lastKnown: { status: 'False', reason: 'UnderReplicated', message: 'm' } }),
      'True',
      'Replicated',
    ],
  ];
  for (const [name, o, status, reason] of cases) {
    it(name, () => {
      const c = durableStorage(o);
      assert.equal(c?.status, status);
      assert.equal(c?.reason, reason);
      assert.equal(
        computeConditions(o).some((x) => x.type === 'DurableStorage'),
        status !== undefined,
      );
    });
  }
  it('the message counts shards, sites and the factor', () => {
    assert.match(
      durableStorage(ds({ underReplicated: 4, transitions: 2 }))!.message,
      /4 of 16 shards on 2 sites, replication factor 2.*2 transitions/,
    );
  });
});
