import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ANNOTATION_GO_LAST_APPLIED,
  detectForeignWorkloads,
  foreignWorkloadsMessage,
  goOperatorRunning,
  writtenAfterTakeover,
  type WorkloadLike,
} from './foreign-workloads.ts';

const entry = (manager: string, operation = 'Update', subresource?: string) => ({
  manager,
  operation,
  ...(subresource !== undefined && { subresource }),
});

function sts(
  name: string,
  managers: Array<ReturnType<typeof entry> & { time?: string }>,
  annotations?: Record<string, string>,
): WorkloadLike {
  return {
    kind: 'StatefulSet',
    metadata: { name, managedFields: managers, ...(annotations && { annotations }) },
  };
}

describe('detectForeignWorkloads', () => {
  it("flags the Go operator's sets: its field manager, its last-applied annotation", () => {
    const goCore = sts(
      'emqx-core-5d8b7c',
      [entry('manager'), entry('kube-controller-manager', 'Update', 'status')],
      {
        [ANNOTATION_GO_LAST_APPLIED]: 'UEsDB...',
      },
    );
    const goReplicant: WorkloadLike = {
      kind: 'ReplicaSet',
      metadata: { name: 'emqx-replicant-6f9', managedFields: [entry('manager')] },
    };
    const found = detectForeignWorkloads([goReplicant, goCore]);
    assert.deepEqual(
      found.map((f) => `${f.kind}/${f.name}`),
      ['ReplicaSet/emqx-replicant-6f9', 'StatefulSet/emqx-core-5d8b7c'],
    );
    assert.deepEqual(found[1]!.reasons, [
      `it carries ${ANNOTATION_GO_LAST_APPLIED}, the Go operator's annotation`,
      'it was written by manager, never by emqx-operator',
    ]);
  });

  it('never flags what this operator applied, even after others wrote to it', () => {
    const ours = sts('emqx-core', [
      entry('emqx-operator', 'Apply'),
      entry('kube-controller-manager', 'Update', 'status'),
      entry('kubectl-edit'),
    ]);
    const oursBlueGreen = sts('emqx-core-1234567890', [entry('emqx-operator', 'Apply')]);
    assert.deepEqual(detectForeignWorkloads([ours, oursBlueGreen]), []);
  });

  it('an object without managedFields or the annotation cannot be told apart and is left alone', () => {
    assert.deepEqual(detectForeignWorkloads([{ kind: 'StatefulSet', metadata: { name: 'x' } }]), []);
    // The annotation alone is enough.
    assert.equal(
      detectForeignWorkloads([
        { kind: 'StatefulSet', metadata: { name: 'x', annotations: { [ANNOTATION_GO_LAST_APPLIED]: '' } } },
      ]).length,
      1,
    );
    // Only status writers (the controllers): nothing to name, but still never ours.
    assert.equal(
      detectForeignWorkloads([sts('y', [entry('kube-controller-manager', 'Update', 'status')])]).length,
      0,
    );
  });

  it('the message names the objects, says nothing changes and points to the migration guide', () => {
    const many = Array.from({ length: 6 }, (_, i) => sts(`emqx-core-h${i}`, [entry('manager')]));
    const msg = foreignWorkloadsMessage('emqx', detectForeignWorkloads(many));
    assert.match(msg, /^StatefulSet emqx-core-h0 \(it was written by manager, never by emqx-operator\), /);
    assert.match(msg, /and 2 more: not created by this operator/);
    assert.match(msg, /Nothing of this cluster is changed while they exist/);
    assert.match(msg, /README "Migrating from the Go/);
    assert.match(msg, /stop the Go operator, then annotate this resource apps\.emqx\.io\/takeover="true"/);
  });

  it('the Go operator runs while its Lease is held and renewed within its duration', () => {
    const now = new Date('2026-01-01T00:01:00Z');
    const lease = (renewTime: string, durationSeconds?: number, holder: string | undefined = 'op-1') => ({
      ok: true as const,
      leases: [
        {
          namespace: 'system',
          renewTime,
          ...(holder && { holder }),
          ...(durationSeconds && { durationSeconds }),
        },
      ],
    });
    assert.match(goOperatorRunning(lease('2026-01-01T00:00:50Z', 15), now)!, /held by op-1, renewed 10s ago/);
    assert.equal(goOperatorRunning(lease('2026-01-01T00:00:40Z', 15), now), undefined, 'expired');
    assert.match(goOperatorRunning(lease('2026-01-01T00:00:40Z', 30), now)!, /renewed 20s ago/);
    assert.match(goOperatorRunning(lease('2026-01-01T00:00:50Z'), now)!, /renewed 10s ago/, 'default 15 s');
    assert.equal(goOperatorRunning(lease('2026-01-01T00:00:59Z', 15, ''), now), undefined, 'released');
    assert.equal(goOperatorRunning({ ok: true, leases: [] }, now), undefined, 'never ran here');
    assert.match(goOperatorRunning({ ok: false, error: 'forbidden' }, now)!, /cannot tell.*forbidden/);
  });

  it("this operator's scale-downs of a Go set do not make it its own; only a whole-object apply does", () => {
    const scaled = sts('emqx-core-h', [
      entry('manager'),
      { manager: 'emqx-operator', operation: 'Update', subresource: 'scale' },
    ]);
    assert.equal(detectForeignWorkloads([scaled]).length, 1);
    const applied = sts('emqx-core', [entry('manager'), { manager: 'emqx-operator', operation: 'Apply' }]);
    assert.equal(detectForeignWorkloads([applied]).length, 0);
  });

  it('a write by another manager after this operator scaled a Go set down means something still runs it', () => {
    const set = (goTime: string, statusTime = '2026-01-01T00:09:00Z') =>
      sts('emqx-core-h', [
        { manager: 'manager', operation: 'Update', time: goTime },
        { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', time: statusTime },
        { manager: 'emqx-operator', operation: 'Update', subresource: 'scale', time: '2026-01-01T00:05:00Z' },
      ]);
    assert.equal(writtenAfterTakeover([set('2026-01-01T00:01:00Z')]), undefined, 'before ours');
    assert.match(
      writtenAfterTakeover([set('2026-01-01T00:06:00Z')])!,
      /manager wrote StatefulSet emqx-core-h at 2026-01-01T00:06:00.000Z, after this operator scaled it down/,
    );
    assert.equal(
      writtenAfterTakeover([
        sts('emqx-core-h', [{ manager: 'manager', operation: 'Update', time: '2026-01-01T00:06:00Z' }]),
      ]),
      undefined,
      'never written by this operator: nothing to compare with',
    );
  });
});
