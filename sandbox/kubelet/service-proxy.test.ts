import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { KubeApi } from './api.ts';
import { claimTestIp } from './ipam.ts';
import { LoadBalancerPool, ServiceProxy } from './service-proxy.ts';

test('LoadBalancerPool: one loopback address per owner, kept, never .0/.255, reused after release', () => {
  const pool = new LoadBalancerPool('127.201.0.0/16', 255);
  const a = pool.allocate('a');
  assert.equal(a, '127.201.1.1', 'skips .255 and .0');
  assert.equal(pool.allocate('a'), a);
  const b = pool.allocate('b', '127.201.9.9');
  assert.equal(b, '127.201.9.9', 'the address already in status is kept');
  assert.notEqual(pool.allocate('c', '127.201.9.9'), b, 'an address taken by another owner is not reused');
  assert.ok(pool.contains(b) && !pool.contains('127.202.0.1'));
  pool.release('b');
  assert.equal(pool.allocate('d', '127.201.9.9'), '127.201.9.9');
  assert.throws(() => new LoadBalancerPool('10.0.0.0/16'), /127\.0\.0\.0\/8/);
});

const servers: net.Server[] = [];
after(() => servers.forEach((s) => s.close()));

/** A TCP server on `ip`:`port` that answers each connection with its own name. */
async function namedServer(ip: string, port: number, name: string): Promise<void> {
  const s = net.createServer((sock) => sock.end(name));
  servers.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, ip, () => resolve());
  });
}

function ask(ip: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host: ip, port });
    let got = '';
    c.on('data', (d) => (got += d));
    c.on('close', () => resolve(got));
    c.on('error', () => resolve('<refused>'));
  });
}

test('ServiceProxy: ClusterIP, LoadBalancer (status written) and NodePort go to ready endpoints only', async () => {
  const third = 100 + Math.floor(Math.random() * 90);
  const podIps = [claimTestIp(), claimTestIp(), claimTestIp()];
  // pods a and b serve one container port (pod IPs of their own, so any free port number will do)
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  await namedServer(podIps[0]!, port, 'pod-a');
  await namedServer(podIps[1]!, port, 'pod-b');
  // pod-c is not ready (and listens nowhere)
  const pod = (name: string, ip: string, ready: boolean): V1Pod => ({
    metadata: { name, namespace: 'ns', labels: { app: 'x' } },
    spec: { containers: [{ name: 'c', ports: [{ name: 'mqtt', containerPort: port }] }] },
    status: {
      podIP: ip,
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  });
  const pods = [pod('a', podIps[0]!, true), pod('b', podIps[1]!, true), pod('c', podIps[2]!, false)];
  const svcPort = 20_000 + Math.floor(Math.random() * 20_000);
  const svc: V1Service = {
    metadata: { name: 'listeners', namespace: 'ns', uid: 'uid-1' },
    spec: {
      type: 'LoadBalancer',
      clusterIP: `127.${third}.3.4`,
      selector: { app: 'x' },
      ports: [{ name: 'mqtt', port: svcPort, targetPort: 'mqtt', protocol: 'TCP', nodePort: svcPort + 1 }],
    },
  };
  const patches: Array<{ path: string; body: any }> = [];
  const api = {
    patch: async (path: string, body: unknown) => {
      patches.push({ path, body });
      return {};
    },
  } as unknown as KubeApi;
  const logs: string[] = [];
  const proxy = new ServiceProxy({
    api,
    caches: {
      services: () => [svc],
      service: (n, ns) => (n === 'listeners' && ns === 'ns' ? svc : undefined),
      pods: () => pods,
    },
    nodeIP: '127.0.0.1',
    loadBalancerCidr: `127.${third + 64}.0.0/16`,
    log: (l) => logs.push(l),
  });
  try {
    proxy.sync();
    const deadline = Date.now() + 5000;
    while (patches.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(patches.length, 1, logs.join('\n'));
    assert.equal(patches[0]!.path, '/api/v1/namespaces/ns/services/listeners/status');
    const lbIp = patches[0]!.body.status.loadBalancer.ingress[0].ip as string;
    assert.ok(lbIp.startsWith(`127.${third + 64}.`), lbIp);
    await new Promise((r) => setTimeout(r, 100));
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(await ask(svc.spec!.clusterIP!, svcPort));
    assert.deepEqual([...seen].sort(), ['pod-a', 'pod-b'], 'round-robin over the ready pods, never pod-c');
    assert.match(await ask(lbIp, svcPort), /^pod-[ab]$/);
    assert.match(await ask('127.0.0.1', svcPort + 1), /^pod-[ab]$|^<refused>$/); // node port may be taken on a shared machine
    // no ready endpoint: the connection is closed at once
    pods[0]!.status!.conditions![0]!.status = 'False';
    pods[1]!.status!.conditions![0]!.status = 'False';
    assert.equal(await ask(svc.spec!.clusterIP!, svcPort), '');
  } finally {
    await proxy.stop();
  }
});

test('ServiceProxy: a UDP port relays datagrams to a ready endpoint and the replies back', async () => {
  const { default: dgram } = await import('node:dgram');
  const third = 100 + Math.floor(Math.random() * 90);
  const podIp = claimTestIp();
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const echo = dgram.createSocket('udp4');
  echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('pod-u:'), m]), r.port, r.address));
  await new Promise<void>((r) => echo.bind(port, podIp, () => r()));
  const svc: V1Service = {
    metadata: { name: 'dns', namespace: 'ns', uid: 'uid-u' },
    spec: {
      type: 'ClusterIP',
      clusterIP: `127.${third}.7.8`,
      selector: { app: 'u' },
      ports: [{ name: 'dns', port: port + 1, targetPort: port, protocol: 'UDP' }],
    },
  };
  const pods: V1Pod[] = [
    {
      metadata: { name: 'u', namespace: 'ns', labels: { app: 'u' } },
      spec: { containers: [{ name: 'c' }] },
      status: { podIP: podIp, phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    },
  ];
  const logs: string[] = [];
  const proxy = new ServiceProxy({
    api: {} as KubeApi,
    caches: { services: () => [svc], service: () => svc, pods: () => pods },
    nodeIP: '127.0.0.1',
    loadBalancerCidr: `127.${third + 64}.0.0/16`,
    log: (l) => logs.push(l),
  });
  const client = dgram.createSocket('udp4');
  try {
    proxy.sync();
    const deadline = Date.now() + 5000;
    while (!logs.some((l) => l.includes('on UDP/')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(
      logs.some((l) => l.includes(`on UDP/127.${third}.7.8:${port + 1}`)),
      logs.join('\n'),
    );
    client.bind(0, '127.0.0.1');
    const reply = new Promise<string>((resolve) => client.once('message', (m) => resolve(m.toString())));
    client.send('ping', port + 1, `127.${third}.7.8`);
    assert.equal(await reply, 'pod-u:ping');
  } finally {
    client.close();
    echo.close();
    await proxy.stop();
  }
});
