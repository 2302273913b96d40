import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import {
  awaitsServingGate,
  compareVersions,
  containersReady,
  nodeHost,
  podForNode,
  podReady,
  runningPods,
  statusNodes,
  type ApiNode,
} from './pod-facts.ts';
import { supportsEvacuation } from './emqx-access.ts';

function pod(name: string, role: 'core' | 'replicant', ip: string, ready = true): V1Pod {
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      labels: { 'apps.emqx.io/db-role': role },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'x', uid: 'set-uid', controller: true },
      ],
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [
        { type: 'ContainersReady', status: ready ? 'True' : 'False' },
        { type: 'Ready', status: ready ? 'True' : 'False' },
      ],
    },
  };
}

const pods = [
  pod('emqx-core-0', 'core', '127.1.0.2'),
  pod('emqx-core-1', 'core', '127.1.0.3'),
  pod('emqx-replicant-abc-x1', 'replicant', '127.1.0.7'),
];
const nodes: ApiNode[] = [
  {
    node: 'emqx@emqx-core-0.emqx-headless.ns.svc.cluster.local',
    node_status: 'running',
    role: 'core',
    version: '5.8.3',
    edition: 'Enterprise',
    otp_release: '26.2.5-3/14.2.5',
    connections: 3,
    live_connections: 2,
    uptime: 1000,
  },
  { node: 'emqx@emqx-core-1.emqx-headless.ns.svc.cluster.local', node_status: 'stopped', role: 'core' },
  { node: 'emqx@127.1.0.7', node_status: 'running', role: 'replicant', version: '5.8.3' },
  { node: 'emqx@127.1.0.99', node_status: 'running', role: 'replicant', version: '5.8.3' },
];

describe('observe', () => {
  it('matches core nodes by DNS name prefix and replicants by pod IP', () => {
    assert.equal(podForNode(nodes[0]!, pods)?.metadata?.name, 'emqx-core-0');
    assert.equal(podForNode(nodes[2]!, pods)?.metadata?.name, 'emqx-replicant-abc-x1');
    assert.equal(podForNode(nodes[3]!, pods), undefined);
    // a core named emqx-core-1 must not match the pod emqx-core-10 or vice versa
    const p10 = [pod('emqx-core-10', 'core', '127.1.0.9')];
    assert.equal(podForNode(nodes[1]!, p10), undefined);
  });

  it('builds status entries per role with pod names and counters', () => {
    const cores = statusNodes(nodes, pods, 'core');
    assert.equal(cores.length, 2);
    assert.deepEqual(cores[0], {
      name: 'emqx@emqx-core-0.emqx-headless.ns.svc.cluster.local',
      node: 'emqx@emqx-core-0.emqx-headless.ns.svc.cluster.local',
      node_status: 'running',
      role: 'core',
      otp_release: '26.2.5-3/14.2.5',
      version: '5.8.3',
      edition: 'Enterprise',
      podName: 'emqx-core-0',
      podUID: 'uid-emqx-core-0',
      controllerUID: 'set-uid',
      connections: 3,
      live_connections: 2,
      uptime: 1000,
    });
    assert.equal(cores[1]!.node_status, 'stopped');
    const repl = statusNodes(nodes, pods, 'replicant');
    assert.deepEqual(
      repl.map((n) => n.podName),
      ['emqx-replicant-abc-x1', undefined],
    );
  });

  it('running pods excludes stopped nodes and unmatched nodes', () => {
    assert.deepEqual([...runningPods(nodes, pods)].sort(), ['emqx-core-0', 'emqx-replicant-abc-x1']);
  });

  it('readiness', () => {
    assert.equal(containersReady(pods[0]!), true);
    assert.equal(containersReady(pod('a', 'core', '127.1.0.4', false)), false);
    const terminating = { ...pods[0]!, metadata: { ...pods[0]!.metadata, deletionTimestamp: new Date() } };
    assert.equal(podReady(terminating), false);
  });

  it('versions and evacuation support', () => {
    assert.equal(compareVersions('5.10.0', '5.9.1') > 0, true);
    assert.equal(compareVersions('5.0.3', '5.0.3'), 0);
    assert.equal(supportsEvacuation({ edition: 'Enterprise', version: '5.8.3' }), true);
    assert.equal(supportsEvacuation({ edition: 'Enterprise', version: '5.0.2' }), false);
    assert.equal(supportsEvacuation({ edition: 'Opensource', version: '5.8.3' }), false);
    assert.equal(nodeHost('emqx@[fd00::1]'), 'fd00::1');
  });
});

describe('awaitsServingGate (which pod changes queue a pass with priority)', () => {
  const withServing = (p: V1Pod, status?: 'True' | 'False'): V1Pod => ({
    ...p,
    status: {
      ...p.status,
      conditions: [
        ...(p.status?.conditions ?? []).filter((c) => c.type !== 'apps.emqx.io/on-serving'),
        ...(status ? [{ type: 'apps.emqx.io/on-serving', status }] : []),
      ],
    },
  });
  it('a pod whose probe passed and whose gate is unset or False awaits it', () => {
    assert.equal(awaitsServingGate(withServing(pod('emqx-core-0', 'core', '127.1.0.2'))), true);
    assert.equal(
      awaitsServingGate(withServing(pod('emqx-replicant-a', 'replicant', '127.1.0.5'), 'False')),
      true,
    );
  });
  it('a pod already serving, not ready, terminating, draining or of no EMQX role does not', () => {
    const ready = pod('emqx-core-0', 'core', '127.1.0.2');
    assert.equal(awaitsServingGate(withServing(ready, 'True')), false);
    assert.equal(awaitsServingGate(pod('emqx-core-0', 'core', '127.1.0.2', false)), false);
    assert.equal(
      awaitsServingGate({ ...ready, metadata: { ...ready.metadata, deletionTimestamp: new Date() } }),
      false,
    );
    assert.equal(
      awaitsServingGate({
        ...ready,
        metadata: { ...ready.metadata, annotations: { 'apps.emqx.io/draining': 'true' } },
      }),
      false,
    );
    assert.equal(awaitsServingGate({ ...ready, metadata: { ...ready.metadata, labels: {} } }), false);
  });
});
