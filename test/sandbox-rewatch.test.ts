// The API server ends every watch after --min-request-timeout (here 2-4 s): the kubelet emulator's informers must
// re-establish them and keep running pods. Also exercises the Deployment controller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod, V1PodList } from '@kubernetes/client-node';
import { useSandbox } from './support/sandbox.ts';

const sb = useSandbox({ minRequestTimeoutSeconds: 2, nodes: 2 });

const isReady = (p: V1Pod) =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

test('informers re-watch after the API server ends their watches, and pods keep being run', async (t) => {
  const start = sb.sandbox.kubelet.informerConnects();
  assert.equal(Object.keys(start).length, 7);
  const reconnected = await sb.waitFor(
    'every informer to re-establish its watch at least twice',
    () => {
      const now = sb.sandbox.kubelet.informerConnects();
      return Object.entries(now).every(([path, n]) => n >= (start[path] ?? 0) + 2) ? now : undefined;
    },
    40_000,
    250,
  );
  t.diagnostic(`informer connects: ${JSON.stringify(reconnected)}`);

  const ns = await sb.newNamespace(t);
  await sb.apply(
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
            terminationGracePeriodSeconds: 2,
            containers: [
              {
                name: 'web',
                image: 'nginx',
                ports: [{ containerPort: 80 }],
                readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    },
    ns,
  );
  const list = async () =>
    (await sb.api.get<V1PodList>(`/api/v1/namespaces/${ns}/pods`, { labelSelector: 'app=web' })).items.filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
  const first = await sb.waitFor('2 ready Deployment pods', async () => {
    const ps = await list();
    return ps.length === 2 && ps.every(isReady) ? ps : undefined;
  });
  await sb.api.delete(`/api/v1/namespaces/${ns}/pods/${first[0].metadata!.name}`);
  const second = await sb.waitFor('a replacement pod, ready', async () => {
    const ps = await list();
    return ps.length === 2 && ps.every(isReady) && !ps.some((p) => p.metadata!.uid === first[0].metadata!.uid)
      ? ps
      : undefined;
  });
  assert.equal(second.length, 2);
});
