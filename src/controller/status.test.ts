import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NEW, NOW, world } from '../../test/support/world.ts';
import type { EMQXStatus } from '../api/types.ts';
import { buildStatus, type StatusDecisions } from './status.ts';

const decisions: StatusDecisions = {
  config: { state: 'Applied' },
  initialized: true,
  activity: {},
  progressing: {},
};

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
