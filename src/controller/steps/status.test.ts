import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EMQX, EMQXNode, EMQXStatus } from '../../api/types.ts';
import type { ReconcileContext, RoleState } from '../context.ts';
import { buildStatus } from './status.ts';

function role(r: 'core' | 'replicant', desired: number): RoleState {
  const pods = Array.from({ length: desired }, (_, i) => ({
    metadata: { name: `emqx-${r}-${i}`, labels: { 'apps.emqx.io/pod-template-hash': 'h' } },
    status: { conditions: [{ type: 'ContainersReady', status: 'True' }] },
  }));
  return {
    role: r,
    desired,
    hash: 'h',
    pods,
    updated: pods,
    old: [],
    running: new Set(pods.map((p) => p.metadata.name)),
    progressing: false,
  };
}

const node = (name: string, r: 'core' | 'replicant'): EMQXNode => ({
  name,
  node: name,
  node_status: 'running',
  role: r,
});

function ctx(observed: Partial<ReconcileContext['observed']>, previous?: EMQXStatus): ReconcileContext {
  const emqx: EMQX = {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace: 'ns', generation: 1 },
    spec: { image: 'emqx/emqx:5.8.3' },
    ...(previous && { status: previous }),
  };
  return {
    namespace: 'ns',
    name: 'emqx',
    raw: emqx,
    emqx,
    observed: { config: { state: 'Applied' }, initialized: true, apiTargets: [], ...observed },
    now: () => new Date('2026-01-01T00:00:00Z'),
  } as unknown as ReconcileContext;
}

describe('buildStatus', () => {
  it('lists nodes with name and node, and leaves empty lists out (no replicants: no replicantNodes)', () => {
    const { status } = buildStatus(
      ctx({
        core: role('core', 2),
        coreNodes: [node('emqx@a', 'core'), node('emqx@b', 'core')],
        replicantNodes: [],
      }),
    );
    assert.deepEqual(
      status.coreNodes?.map((n) => [n.name, n.node]),
      [
        ['emqx@a', 'emqx@a'],
        ['emqx@b', 'emqx@b'],
      ],
    );
    assert.equal('replicantNodes' in status, false);
    assert.equal('nodeEvacuationsStatus' in status, false);
    const none = buildStatus(ctx({ core: role('core', 1), coreNodes: [] })).status;
    assert.equal('coreNodes' in none, false);
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
    const { status } = buildStatus(
      ctx({ foreignWorkloads: 'StatefulSet emqx-core-abc: not ours' }, previous),
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
  });
});
