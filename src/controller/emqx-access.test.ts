import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import { EmqxApiError } from '../emqx/client.ts';
import {
  apiTargets,
  capabilitiesOf,
  dashboardTls,
  connect,
  emqxAccess,
  isAlreadyStarted,
  isNotInCluster,
  operatorCredentials,
  podApiUrl,
  type EmqxApi,
} from './emqx-access.ts';

function pod(
  name: string,
  ip: string,
  opts: { role?: string; ready?: boolean; created?: string; port?: number } = {},
): V1Pod {
  return {
    metadata: {
      name,
      labels: { 'apps.emqx.io/db-role': opts.role ?? 'core' },
      creationTimestamp: (opts.created ?? '2026-01-01T00:00:00Z') as unknown as Date,
    },
    spec: {
      containers: [
        { name: 'emqx', ports: opts.port ? [{ name: 'dashboard', containerPort: opts.port }] : [] },
      ],
    },
    status: {
      phase: 'Running',
      podIP: ip,
      conditions: [{ type: 'ContainersReady', status: opts.ready === false ? 'False' : 'True' }],
    },
  };
}

const secret = (text: string): V1Secret => ({
  data: { bootstrap_api_key: Buffer.from(text).toString('base64') },
});

test('podApiUrl: the dashboard port of the pod, IPv6 addresses in brackets', () => {
  assert.equal(podApiUrl(pod('a', '127.1.0.2')), 'http://127.1.0.2:18083');
  assert.equal(podApiUrl(pod('a', '127.1.0.2', { port: 18084 })), 'http://127.1.0.2:18084');
  assert.equal(podApiUrl(pod('a', 'fd00::5')), 'http://[fd00::5]:18083');
});

test('apiTargets: ready cores only, oldest first', () => {
  const pods = [
    pod('emqx-core-1', '127.1.0.3', { created: '2026-01-01T00:02:00Z' }),
    pod('emqx-core-0', '127.1.0.2', { created: '2026-01-01T00:01:00Z' }),
    pod('emqx-core-2', '127.1.0.4', { ready: false }),
    pod('emqx-replicant-x', '127.1.1.2', { role: 'replicant' }),
  ];
  assert.deepEqual(apiTargets(pods), ['http://127.1.0.2:18083', 'http://127.1.0.3:18083']);
});

test('operatorCredentials: the operator line of the bootstrap Secret', () => {
  assert.deepEqual(operatorCredentials(secret('user:pw\nemqx-operator-controller:s3cret\n')), {
    key: 'emqx-operator-controller',
    secret: 's3cret',
  });
  assert.equal(operatorCredentials(secret('user:pw\n')), undefined);
  assert.equal(operatorCredentials(undefined), undefined);
});

test('emqxAccess says why the API cannot be asked', () => {
  assert.equal(emqxAccess([], secret('emqx-operator-controller:x')).unavailable, 'no ready core pod to ask');
  assert.equal(emqxAccess([pod('c', '127.1.0.2')], undefined).unavailable, 'operator API key not found');
  assert.equal(
    emqxAccess([pod('c', '127.1.0.2')], secret('emqx-operator-controller:x')).unavailable,
    undefined,
  );
});

test('connect: a new client per call, without the excluded target', () => {
  const calls: string[][] = [];
  const factory = (targets: string[]) => {
    calls.push(targets);
    return {} as EmqxApi;
  };
  const access = emqxAccess(
    [pod('c0', '127.1.0.2'), pod('c1', '127.1.0.3', { created: '2026-01-02T00:00:00Z' })],
    secret('emqx-operator-controller:x'),
  );
  const a = connect(factory, access);
  const b = connect(factory, access, 'http://127.1.0.2:18083');
  assert.notEqual(a, undefined);
  assert.notEqual(b, undefined);
  assert.deepEqual(calls, [['http://127.1.0.2:18083', 'http://127.1.0.3:18083'], ['http://127.1.0.3:18083']]);
  assert.equal(
    connect(factory, { ...access, targets: ['http://127.1.0.2:18083'] }, 'http://127.1.0.2:18083'),
    undefined,
  );
});

test('capabilitiesOf: computed once from a running node', () => {
  assert.deepEqual(capabilitiesOf([{ node_status: 'running', edition: 'Enterprise', version: '5.8.3' }]), {
    edition: 'Enterprise',
    version: '5.8.3',
    evacuation: true,
  });
  assert.equal(
    capabilitiesOf([{ node_status: 'running', edition: 'Opensource', version: '5.8.3' }]).evacuation,
    false,
  );
  assert.equal(
    capabilitiesOf([{ node_status: 'running', edition: 'Enterprise', version: '5.0.2' }]).evacuation,
    false,
  );
  assert.equal(
    capabilitiesOf([{ node_status: 'stopped', edition: 'Enterprise', version: '5.8.3' }]).evacuation,
    false,
  );
  assert.equal(capabilitiesOf(undefined).evacuation, false);
});

test('EMQX errors are told apart by their typed fields, not by the whole message', () => {
  const err = (status: number, body: unknown) =>
    new EmqxApiError('POST /x', 'http://127.1.0.2:18083', status, body);
  assert.equal(
    isAlreadyStarted(err(400, { code: 'BAD_REQUEST', message: "error on node 'emqx@a': already_started" })),
    true,
  );
  assert.equal(
    isAlreadyStarted(err(400, { code: 'BAD_REQUEST', message: "error on node 'emqx@a': not_started" })),
    false,
  );
  assert.equal(isAlreadyStarted(new Error('already_started')), false);
  assert.equal(isNotInCluster(err(400, { code: 'BAD_REQUEST', message: 'node_not_in_cluster' })), true);
  assert.equal(isNotInCluster(err(404, { code: 'NOT_FOUND', message: 'Node not found: emqx@a' })), true);
  assert.equal(isNotInCluster(err(400, { code: 'BAD_REQUEST', message: "Can't leave self" })), false);
  assert.equal(isNotInCluster(err(503, 'down')), false);
});

test('podApiUrl / dashboardTls: a pod with an https dashboard is called over https on that port, verified by its DNS name', () => {
  const pod = {
    metadata: { name: 'emqx-core-0', namespace: 'ns1' },
    spec: {
      hostname: 'emqx-core-0',
      subdomain: 'emqx-headless',
      containers: [
        {
          name: 'emqx',
          ports: [{ name: 'dashboard', containerPort: 18084 }],
          env: [{ name: 'EMQX_DASHBOARD__LISTENERS__HTTPS__BIND', value: '18084' }],
        },
      ],
    },
    status: { podIP: '127.1.0.5' },
  };
  assert.equal(podApiUrl(pod), 'https://127.1.0.5:18084');
  assert.deepEqual(dashboardTls([pod], 'cluster.local', 'PEM'), {
    ca: 'PEM',
    serverNames: { '127.1.0.5': 'emqx-core-0.emqx-headless.ns1.svc.cluster.local' },
  });
  const plain = {
    ...pod,
    spec: { ...pod.spec, containers: [{ name: 'emqx', ports: pod.spec.containers[0]!.ports }] },
  };
  assert.equal(podApiUrl(plain), 'http://127.1.0.5:18084');
  assert.equal(dashboardTls([plain], 'cluster.local', undefined), undefined);
});
