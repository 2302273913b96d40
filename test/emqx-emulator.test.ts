// Integration test of the EMQX node emulator inside the sandbox: hand-written objects wired the way the operator
// wires them (emqx-operator-anchor.md §2), no operator. A headless Service, a StatefulSet of 3 cores and a
// ReplicaSet of 2 replicants must form one EMQX cluster; a pod with the wrong cookie must stay out of it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod, V1PodList } from '@kubernetes/client-node';
import { createEmqxHandler } from '../sandbox/emqx/index.ts';
import { useSandbox } from './support/sandbox.ts';

const emqx = createEmqxHandler({ timeScale: 2 });
const sb = useSandbox({ handlers: [emqx] });

const IMAGE = 'emqx/emqx-enterprise:5.8.3';
const API_KEY = 'it-key';
const API_SECRET = 'it-secret-0123456789';
const AUTH = `Basic ${Buffer.from(`${API_KEY}:${API_SECRET}`).toString('base64')}`;
const CORE_LABELS = { 'apps.emqx.io/instance': 'emqx', 'apps.emqx.io/db-role': 'core' };
const REPL_LABELS = { 'apps.emqx.io/instance': 'emqx', 'apps.emqx.io/db-role': 'replicant' };

interface ApiNode {
  node: string;
  node_status: string;
  role: string;
  version?: string;
  edition?: string;
}

function objects(ns: string, dns: string): object[] {
  const env = (role: 'core' | 'replicant') => [
    ...(role === 'core'
      ? [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]
      : []),
    ...(role === 'replicant'
      ? [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }]
      : []),
    { name: 'EMQX_CLUSTER__DISCOVERY_STRATEGY', value: 'dns' },
    { name: 'EMQX_CLUSTER__DNS__RECORD_TYPE', value: 'srv' },
    { name: 'EMQX_CLUSTER__DNS__NAME', value: dns },
    { name: 'EMQX_HOST', value: role === 'core' ? `$(POD_NAME).${dns}` : '$(POD_IP)' },
    { name: 'EMQX_NODE__DATA_DIR', value: 'data' },
    { name: 'EMQX_NODE__ROLE', value: role },
    {
      name: 'EMQX_NODE__COOKIE',
      valueFrom: { secretKeyRef: { name: 'emqx-node-cookie', key: 'node_cookie' } },
    },
    { name: 'EMQX_API_KEY__BOOTSTRAP_FILE', value: '/opt/emqx/data/bootstrap_api_key' },
    { name: 'EMQX_DASHBOARD__LISTENERS__HTTP__BIND', value: '18083' },
  ];
  const podSpec = (role: 'core' | 'replicant') => ({
    terminationGracePeriodSeconds: 5,
    containers: [
      {
        name: 'emqx',
        image: IMAGE,
        env: env(role),
        ports: [{ name: 'dashboard', containerPort: 18083 }],
        readinessProbe: {
          httpGet: { path: '/status', port: 'dashboard' },
          periodSeconds: 1,
          failureThreshold: 12,
        },
        volumeMounts: [
          {
            name: 'bootstrap-api-key',
            mountPath: '/opt/emqx/data/bootstrap_api_key',
            subPath: 'bootstrap_api_key',
            readOnly: true,
          },
          { name: 'emqx-config', mountPath: '/opt/emqx/etc/emqx.conf', subPath: 'emqx.conf', readOnly: true },
          { name: 'emqx-log', mountPath: '/opt/emqx/log' },
          { name: role === 'core' ? 'emqx-core-data' : 'emqx-replicant-data', mountPath: '/opt/emqx/data' },
        ],
      },
    ],
    volumes: [
      { name: 'bootstrap-api-key', secret: { secretName: 'emqx-bootstrap-api-key' } },
      { name: 'emqx-config', configMap: { name: 'emqx-configs' } },
      { name: 'emqx-log', emptyDir: {} },
      ...(role === 'replicant' ? [{ name: 'emqx-replicant-data', emptyDir: {} }] : []),
    ],
  });
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'emqx-node-cookie', namespace: ns },
      stringData: { node_cookie: 'the-right-cookie' },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'emqx-bootstrap-api-key', namespace: ns },
      stringData: {
        bootstrap_api_key: `${API_KEY}:${API_SECRET}\nemqx-operator-controller:${'k'.repeat(64)}\n`,
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'emqx-configs', namespace: ns },
      data: {
        'emqx.conf': [
          'listeners.tcp.default.bind = "0.0.0.0:1883"',
          'listeners.ssl.default.bind = "0.0.0.0:8883"',
          'listeners.ws.default.bind = "0.0.0.0:8083"',
          'listeners.wss.default.bind = "0.0.0.0:8084"',
          '',
        ].join('\n'),
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'emqx-headless', namespace: ns },
      spec: {
        clusterIP: 'None',
        publishNotReadyAddresses: true,
        selector: CORE_LABELS,
        ports: [
          { name: 'erlang-dist', port: 4370, targetPort: 4370 },
          { name: 'gen-rpc', port: 5369, targetPort: 5369 },
        ],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'emqx-core', namespace: ns, labels: CORE_LABELS },
      spec: {
        replicas: 3,
        serviceName: 'emqx-headless',
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: CORE_LABELS },
        template: { metadata: { labels: CORE_LABELS }, spec: podSpec('core') },
        volumeClaimTemplates: [
          {
            metadata: { name: 'emqx-core-data' },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Mi' } } },
          },
        ],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'emqx-replicant', namespace: ns, labels: REPL_LABELS },
      spec: {
        replicas: 2,
        selector: { matchLabels: REPL_LABELS },
        template: { metadata: { labels: REPL_LABELS }, spec: podSpec('replicant') },
      },
    },
  ];
}

async function pods(ns: string, selector: string): Promise<V1Pod[]> {
  return (await sb.api.get<V1PodList>(`/api/v1/namespaces/${ns}/pods`, { labelSelector: selector })).items;
}

async function nodesVia(ip: string): Promise<ApiNode[]> {
  const res = await fetch(`http://${ip}:18083/api/v5/nodes`, { headers: { authorization: AUTH } });
  if (res.status !== 200) throw new Error(`GET /api/v5/nodes on ${ip}: ${res.status}`);
  return (await res.json()) as ApiNode[];
}

test('3 cores (StatefulSet) + 2 replicants (ReplicaSet) form one EMQX cluster; a wrong cookie stays out', async (t) => {
  const ns = await sb.newNamespace(t, 'emqx');
  const dns = `emqx-headless.${ns}.svc.cluster.local`;
  await sb.apply(objects(ns, dns), ns);

  const coreName = (i: number) => `emqx@emqx-core-${i}.${dns}`;
  const expectCluster = async (): Promise<ApiNode[] | undefined> => {
    const cores = (await pods(ns, 'apps.emqx.io/db-role=core')).filter((p) =>
      p.metadata?.name?.startsWith('emqx-core-'),
    );
    const repls = await pods(ns, 'apps.emqx.io/db-role=replicant');
    if (cores.length !== 3 || repls.length !== 2 || [...cores, ...repls].some((p) => !p.status?.podIP))
      return undefined;
    const expected = [
      ...[0, 1, 2].map((i) => [coreName(i), 'core']),
      ...repls.map((p) => [`emqx@${p.status!.podIP}`, 'replicant']),
    ].sort((a, b) => a[0]!.localeCompare(b[0]!));
    // every node, core or replicant, must see the same five running members
    for (const p of [...cores, ...repls]) {
      const nodes = await nodesVia(p.status!.podIP!);
      const running = nodes
        .filter((n) => n.node_status === 'running')
        .map((n) => [n.node, n.role])
        .sort((a, b) => a[0]!.localeCompare(b[0]!));
      if (JSON.stringify(running) !== JSON.stringify(expected)) return undefined;
    }
    return nodesVia(cores[0]!.status!.podIP!);
  };
  const nodes = await sb.waitFor('5 running EMQX nodes seen by every pod', expectCluster, 120_000, 500);
  assert.equal(nodes.length, 5);
  for (const n of nodes) {
    assert.equal(n.version, '5.8.3');
    assert.equal(n.edition, 'Enterprise');
  }
  // pods turn Ready through the /status readiness probe
  await sb.waitFor(
    'all 5 pods Ready',
    async () =>
      (await pods(ns, 'apps.emqx.io/instance=emqx')).filter((p) =>
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      ).length === 5,
    60_000,
    500,
  );

  // a core-labelled pod in the same headless Service, but with another cookie
  const odd = structuredClone(
    (objects(ns, dns)[4] as { spec: { template: { spec: Record<string, unknown> } } }).spec.template.spec,
  ) as { containers: Array<{ env: Array<{ name: string; value?: string; valueFrom?: unknown }> }> };
  const env = odd.containers[0]!.env;
  const cookie = env.find((e) => e.name === 'EMQX_NODE__COOKIE')!;
  delete cookie.valueFrom;
  cookie.value = 'a-wrong-cookie';
  await sb.apply(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'emqx-odd', labels: CORE_LABELS },
      spec: {
        ...odd,
        hostname: 'emqx-odd',
        subdomain: 'emqx-headless',
        volumes: [
          ...(odd as unknown as { volumes: object[] }).volumes,
          { name: 'emqx-core-data', emptyDir: {} },
        ],
      },
    },
    ns,
  );
  const oddIp = await sb.waitFor(
    'emqx-odd serving /status',
    async () => {
      const p = await sb.api.get<V1Pod>(`/api/v1/namespaces/${ns}/pods/emqx-odd`);
      const ip = p.status?.podIP;
      if (!ip) return undefined;
      const res = await fetch(`http://${ip}:18083/status`);
      return res.status === 200 ? ip : undefined;
    },
    60_000,
    500,
  );
  // several autocluster rounds (5 s emulated each, 2.5 s real)
  await new Promise((r) => setTimeout(r, 8000));
  const alone = await nodesVia(oddIp);
  assert.deepEqual(
    alone.map((n) => [n.node, n.node_status]),
    [[`emqx@emqx-odd.${dns}`, 'running']],
  );
  const cluster = await expectCluster();
  assert.ok(cluster, 'the cluster still has exactly its 5 nodes');
  assert.ok(!cluster.some((n) => n.node.includes('emqx-odd')));

  // the cluster database lives on the cores' PVCs: a core pod deleted and recreated keeps it
  const core0 = coreName(0);
  emqx.fabric.retain(core0, 'it/topic', 'kept');
  const oldUid = (await sb.api.get<V1Pod>(`/api/v1/namespaces/${ns}/pods/emqx-core-1`)).metadata?.uid;
  await sb.api.delete(`/api/v1/namespaces/${ns}/pods/emqx-core-1`);
  await sb.waitFor(
    'emqx-core-1 recreated and back in the cluster',
    async () => {
      const p = await sb.api.get<V1Pod>(`/api/v1/namespaces/${ns}/pods/emqx-core-1`);
      const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      return p.metadata?.uid !== oldUid && ready && (await expectCluster());
    },
    120_000,
    500,
  );
  assert.equal(emqx.fabric.dbGet(coreName(1), 'retained', 'it/topic'), 'kept');
});
