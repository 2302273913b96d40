// Services carry traffic in the sandbox (kubelet/service-proxy.ts): ClusterIP in the loopback service range,
// a LoadBalancer address written into status and shown by kubectl, a NodePort on the node address.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useSandbox } from './support/sandbox.ts';

const sb = useSandbox();

async function httpText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return `${res.status} ${(await res.text()).trim()}`;
}

test('a LoadBalancer Service: ClusterIP, external IP (kubectl shows it) and node port reach the ready pods', async (t) => {
  const ns = await sb.newNamespace(t);
  await sb.apply(
    [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              containers: [
                {
                  name: 'main',
                  image: 'nginx:1.27',
                  ports: [{ name: 'http', containerPort: 8080 }],
                  readinessProbe: { httpGet: { port: 'http', path: '/' }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web' },
        spec: {
          type: 'LoadBalancer',
          selector: { app: 'web' },
          ports: [{ name: 'http', port: 18080, targetPort: 'http' }],
        },
      },
    ],
    ns,
  );
  const svc = await sb.waitFor(
    'the Service has a load-balancer address',
    async () => {
      const s = (await sb.api.get(`/api/v1/namespaces/${ns}/services/web`)) as any;
      return s.status?.loadBalancer?.ingress?.[0]?.ip ? s : undefined;
    },
    30_000,
  );
  const clusterIP: string = svc.spec.clusterIP;
  const lbIP: string = svc.status.loadBalancer.ingress[0].ip;
  const nodePort: number = svc.spec.ports[0].nodePort;
  assert.match(clusterIP, /^127\./, 'ClusterIPs come from a loopback range');
  assert.match(lbIP, /^127\./);
  assert.notEqual(lbIP, clusterIP);
  const out = await sb.kubectl(['get', 'svc', 'web', '-n', ns]);
  assert.ok(out.includes(lbIP), `kubectl get svc shows the external IP:\n${out}`);

  await sb.waitFor(
    'the ClusterIP answers (a ready pod behind it)',
    async () => (await httpText(`http://${clusterIP}:18080/`)) === '200 ok',
    30_000,
  );
  assert.equal(await httpText(`http://${lbIP}:18080/`), '200 ok');
  assert.equal(await httpText(`http://127.0.0.1:${nodePort}/`), '200 ok');
  assert.deepEqual(
    await sb.sandbox.resolver.resolveHost(`web.${ns}.svc.cluster.local`),
    [clusterIP],
    'the Service name resolves to its ClusterIP',
  );

  // no ready endpoint: connections are refused (closed) instead of reaching a pod
  await sb.api.patch(`/apis/apps/v1/namespaces/${ns}/deployments/web`, { spec: { replicas: 0 } });
  await sb.waitFor(
    'no answer once no pod is ready',
    async () => {
      try {
        await httpText(`http://${clusterIP}:18080/`);
        return false;
      } catch {
        return true;
      }
    },
    30_000,
  );
});
