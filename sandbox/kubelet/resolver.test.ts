import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { CacheResolver } from './resolver.ts';

function svc(name: string, over: Partial<V1Service['spec']> = {}): V1Service {
  return {
    metadata: { name, namespace: 'ns' },
    spec: {
      clusterIP: 'None',
      selector: { app: 'emqx' },
      ports: [{ name: 'ekka', port: 4370, targetPort: 'ekka' }],
      ...over,
    },
  };
}

function pod(i: number, ready: boolean, over: Partial<V1Pod> = {}): V1Pod {
  return {
    metadata: { name: `emqx-core-${i}`, namespace: 'ns', labels: { app: 'emqx' } },
    spec: {
      hostname: `emqx-core-${i}`,
      subdomain: 'emqx-headless',
      containers: [{ name: 'emqx', ports: [{ name: 'ekka', containerPort: 4370 }] }],
    },
    status: {
      podIP: `127.1.0.${i + 1}`,
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
    ...over,
  };
}

function resolver(services: V1Service[], pods: V1Pod[]) {
  return new CacheResolver('cluster.local', {
    services: (ns) => services.filter((s) => !ns || s.metadata?.namespace === ns),
    pods: (ns) => pods.filter((p) => !ns || p.metadata?.namespace === ns),
  });
}

test('SRV of a headless Service lists ready pods by hostname.subdomain, with the endpoint port', async () => {
  const r = resolver([svc('emqx-headless')], [pod(0, true), pod(1, true), pod(2, false)]);
  const srv = await r.resolveSrv('emqx-headless.ns.svc.cluster.local');
  assert.deepEqual(
    srv.map((s) => [s.name, s.port]),
    [
      ['emqx-core-0.emqx-headless.ns.svc.cluster.local', 4370],
      ['emqx-core-1.emqx-headless.ns.svc.cluster.local', 4370],
    ],
  );
  assert.deepEqual(await r.resolveSrv('emqx-headless.ns.svc.cluster.local.'), srv, 'trailing dot');
  assert.deepEqual(
    await r.resolveSrv('_ekka._tcp.emqx-headless.ns.svc.cluster.local'),
    srv,
    'named port form',
  );
  assert.deepEqual(await r.resolveSrv('_other._tcp.emqx-headless.ns.svc.cluster.local'), []);
});

test('publishNotReadyAddresses includes unready pods; pods without an IP or terminal ones never appear', async () => {
  const noIP = pod(3, false, { status: { phase: 'Pending' } });
  const done = pod(4, false, { status: { podIP: '127.1.0.5', phase: 'Failed' } });
  const r = resolver(
    [svc('emqx-headless', { publishNotReadyAddresses: true })],
    [pod(0, true), pod(2, false), noIP, done],
  );
  assert.deepEqual(
    (await r.resolveSrv('emqx-headless.ns.svc.cluster.local')).map((s) => s.name),
    ['emqx-core-0.emqx-headless.ns.svc.cluster.local', 'emqx-core-2.emqx-headless.ns.svc.cluster.local'],
  );
});

test('pods without hostname/subdomain get IP-based names; A lookups resolve those names', async () => {
  const anon = pod(5, true, { spec: { containers: [] } });
  const r = resolver([svc('emqx-headless', { ports: [{ name: 'api', port: 18083 }] })], [pod(0, true), anon]);
  const names = (await r.resolveSrv('emqx-headless.ns.svc.cluster.local')).map((s) => `${s.name}:${s.port}`);
  assert.deepEqual(names, [
    'emqx-core-0.emqx-headless.ns.svc.cluster.local:18083',
    '127-1-0-6.emqx-headless.ns.svc.cluster.local:18083',
  ]);
  assert.deepEqual(await r.resolveHost('emqx-core-0.emqx-headless.ns.svc.cluster.local'), ['127.1.0.1']);
  assert.deepEqual(await r.resolveHost('127-1-0-6.emqx-headless.ns.svc.cluster.local'), ['127.1.0.6']);
  assert.deepEqual(await r.resolveHost('emqx-headless.ns.svc.cluster.local'), ['127.1.0.1', '127.1.0.6']);
  assert.deepEqual(await r.resolveHost('emqx-core-0.emqx-headless.ns.svc'), ['127.1.0.1'], '.svc shorthand');
  assert.deepEqual(await r.resolveHost('127-1-0-1.ns.pod.cluster.local'), ['127.1.0.1']);
  assert.deepEqual(await r.resolveHost('127.1.0.77'), ['127.1.0.77'], 'IP literal');
});

test('unknown names, other namespaces, other domains resolve to nothing; a ClusterIP Service to its ClusterIP', async () => {
  const r = resolver(
    [
      svc('emqx-headless'),
      svc('emqx-dashboard', { clusterIP: '127.70.0.12' }),
      svc('off-loopback', { clusterIP: '10.0.0.12' }),
    ],
    [pod(0, true)],
  );
  assert.deepEqual(await r.resolveSrv('nope.ns.svc.cluster.local'), []);
  assert.deepEqual(await r.resolveSrv('emqx-headless.other.svc.cluster.local'), []);
  assert.deepEqual(await r.resolveSrv('emqx-headless.ns.svc.example.org'), []);
  assert.deepEqual(await r.resolveHost('emqx-dashboard.ns.svc.cluster.local'), ['127.70.0.12']);
  assert.deepEqual(
    await r.resolveHost('off-loopback.ns.svc.cluster.local'),
    [],
    'never an address off loopback',
  );
  assert.deepEqual(await r.resolveSrv('emqx-dashboard.ns.svc.cluster.local'), []);
  assert.deepEqual(await r.resolveHost('emqx-core-9.emqx-headless.ns.svc.cluster.local'), []);
  const custom = new CacheResolver('corp.internal', {
    services: () => [svc('emqx-headless')],
    pods: () => [pod(0, true)],
  });
  assert.equal((await custom.resolveSrv('emqx-headless.ns.svc.corp.internal')).length, 1);
});
