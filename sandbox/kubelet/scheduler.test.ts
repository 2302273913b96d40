import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { chooseNode } from './scheduler.ts';
import { nodeManifest, nodeNames } from './nodes.ts';

function nodes(n = 3): V1Node[] {
  return nodeNames(n).map((name, i) => ({
    ...nodeManifest(name, i),
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  })) as V1Node[];
}

let seq = 0;
function pod(
  labels: Record<string, string>,
  spec: Partial<V1Pod['spec']> = {},
  nodeName?: string,
  owner?: string,
): V1Pod {
  seq++;
  return {
    metadata: {
      name: `p${seq}`,
      namespace: 'ns',
      uid: `u${seq}`,
      labels,
      ownerReferences: owner
        ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: owner, controller: true }]
        : [],
    },
    spec: { containers: [], ...spec, ...(nodeName ? { nodeName } : {}) },
  };
}

const antiAffinity = (app: string) => ({
  affinity: {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app } } },
      ],
    },
  },
});

test('spreads pods of one controller across nodes', () => {
  const ns = nodes();
  const placed: V1Pod[] = [];
  for (let i = 0; i < 3; i++) {
    const p = pod({ app: 'x' }, {}, undefined, 'rs1');
    const choice = chooseNode(p, ns, placed);
    placed.push({ ...p, spec: { ...p.spec!, nodeName: choice.node } });
  }
  assert.deepEqual(placed.map((p) => p.spec!.nodeName).sort(), [
    'sandbox-node-0',
    'sandbox-node-1',
    'sandbox-node-2',
  ]);
});

test('nodeSelector and required node affinity restrict the nodes', () => {
  const ns = nodes();
  assert.equal(
    chooseNode(pod({}, { nodeSelector: { 'topology.kubernetes.io/zone': 'sandbox-zone-b' } }), ns, []).node,
    'sandbox-node-1',
  );
  const affinity = {
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                {
                  key: 'kubernetes.io/hostname',
                  operator: 'NotIn',
                  values: ['sandbox-node-0', 'sandbox-node-1'],
                },
              ],
            },
          ],
        },
      },
    },
  };
  assert.equal(chooseNode(pod({}, affinity), ns, []).node, 'sandbox-node-2');
  const none = chooseNode(pod({}, { nodeSelector: { disk: 'ssd' } }), ns, []);
  assert.equal(none.node, undefined);
  assert.match(
    none.reason!,
    /0\/3 nodes are available: 3 node\(s\) didn't match Pod's node affinity\/selector/,
  );
});

test('required pod anti-affinity on the hostname: one pod per node, the fourth is unschedulable', () => {
  const ns = nodes();
  const placed: V1Pod[] = [];
  for (let i = 0; i < 3; i++) {
    const p = pod({ app: 'emqx' }, antiAffinity('emqx'));
    const choice = chooseNode(p, ns, placed);
    assert.ok(choice.node, choice.reason);
    assert.ok(!placed.some((q) => q.spec!.nodeName === choice.node), 'two anti-affine pods on one node');
    placed.push({ ...p, spec: { ...p.spec!, nodeName: choice.node } });
  }
  const fourth = chooseNode(pod({ app: 'emqx' }, antiAffinity('emqx')), ns, placed);
  assert.equal(fourth.node, undefined);
  assert.match(fourth.reason!, /anti-affinity/);
  // A pod without anti-affinity of its own is still kept away by the placed pods' rules.
  const plain = chooseNode(pod({ app: 'emqx' }), ns, placed);
  assert.equal(plain.node, undefined);
  assert.match(plain.reason!, /existing pods anti-affinity/);
  // Other apps are not affected.
  assert.ok(chooseNode(pod({ app: 'other' }, antiAffinity('other')), ns, placed).node);
});

test('not-ready nodes and untolerated NoSchedule taints are skipped', () => {
  const ns = nodes();
  ns[0].status = { conditions: [{ type: 'Ready', status: 'False' }] };
  ns[1].spec = { taints: [{ key: 'dedicated', value: 'infra', effect: 'NoSchedule' }] };
  assert.equal(chooseNode(pod({}), ns, []).node, 'sandbox-node-2');
  ns[2].spec = { unschedulable: true };
  assert.equal(chooseNode(pod({}), ns, []).node, undefined);
  const tolerant = pod(
    {},
    { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' }] },
  );
  assert.equal(chooseNode(tolerant, ns, []).node, 'sandbox-node-1');
});
