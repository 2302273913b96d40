// The cluster cache against a local fake API server: nothing is reported to the controllers before every informer
// has synced (an operator that restarts must not reconcile from a partial view).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { serveLocalApi } from '../../test/support/local-api.ts';
import { createLogger } from '../observability/logger.ts';
import { KubeClient, type KubeObject } from '../k8s/rest.ts';
import { ClusterCache, tlsSecretIdentity } from './cache.ts';

const LABELS = { 'apps.emqx.io/instance': 'emqx', 'apps.emqx.io/managed-by': 'emqx-operator' };

/** Lists answer at once with `items[plural]` (empty by default), the Secrets' list after `secretsDelayMs`. */
async function fakeServer(items: Record<string, KubeObject[]>, secretsDelayMs: number) {
  const watches = new Map<string, http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (body: unknown) =>
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === '/apis/apps.emqx.io/v2beta1') {
      return json({
        resources: [
          { name: 'emqxes', kind: 'EMQX', namespaced: true },
          { name: 'rebalances', kind: 'Rebalance', namespaced: true },
        ],
      });
    }
    const plural = url.pathname.split('/').pop()!;
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      // the operator's own (labelled) informer of the kind; the Secrets also have a TLS one by field selector
      if (url.searchParams.get('labelSelector')) watches.set(plural, res);
      return;
    }
    const list = () => json({ metadata: { resourceVersion: '1' }, items: items[plural] ?? [] });
    if (plural === 'secrets') setTimeout(list, secretsDelayMs);
    else list();
  });
  const kc = await serveLocalApi(server);
  return {
    client: new KubeClient(kc),
    watching: (plural: string) => watches.has(plural),
    event(plural: string, type: 'ADDED' | 'MODIFIED', obj: KubeObject) {
      watches.get(plural)?.write(JSON.stringify({ type, object: obj }) + '\n');
    },
  };
}

test('controllers hear of no change before every informer synced, and of every change after', async () => {
  const emqx = {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace: 'ns', resourceVersion: '1', generation: 1 },
    spec: {},
  };
  const srv = await fakeServer({ emqxes: [emqx] }, 300);
  const cache = new ClusterCache(srv.client, {
    namespaces: ['ns'],
    logger: createLogger({ level: 'error' }),
  });
  after(() => cache.stop());
  const heard: string[] = [];
  let started = false;
  cache.onChange((kind, key) => heard.push(`${kind}/${key} ${started ? 'after' : 'before'} the sync`));
  await cache.start();
  started = true;
  // the EMQX list came 300 ms before the Secrets': a pass then would have seen no Secret at all
  assert.deepEqual(heard, []);
  assert.equal(cache.emqxList().length, 1);

  const deadline = Date.now() + 10_000;
  while (!srv.watching('secrets') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  srv.event('secrets', 'ADDED', {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'emqx-node-cookie', namespace: 'ns', resourceVersion: '2', labels: LABELS },
  });
  while (heard.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(heard, ['EMQX/ns/emqx after the sync']);
});

test('cache: a TLS Secret is kept as name and version only, never its data', () => {
  const kept = tlsSecretIdentity({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'mqtt-tls', namespace: 'prod', uid: 'u', resourceVersion: '42', labels: { a: 'b' } },
    data: { 'tls.key': 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t' },
  } as never);
  assert.deepEqual(kept, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'mqtt-tls', namespace: 'prod', uid: 'u', resourceVersion: '42' },
  });
  assert.doesNotMatch(JSON.stringify(kept), /tls\.key|LS0t/);
});
