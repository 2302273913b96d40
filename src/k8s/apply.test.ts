// Request-level tests of KubeClient and the write helpers against a local HTTP server that records requests.
// (The same helpers against a real kube-apiserver: test/runtime.test.ts.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import {
  apply,
  applyStatus,
  createIfAbsent,
  deleteObject,
  mergePatchChanges,
  mergePatchStatus,
  patchPodStatus,
  prepareForApply,
  NEVER_A_RESOURCE_VERSION,
} from './apply.ts';
import {
  KubeApiError,
  KubeClient,
  KubeRequestError,
  isConflict,
  isNotFound,
  type KubeObject,
} from './rest.ts';
import { makeCountingApiClient } from './typed-client.ts';
import { kubeWriteCount, onKubeWrite, type KubeWrite } from './writes.ts';
import { CoreV1Api } from '@kubernetes/client-node';

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

type Reply = { status: number; body?: unknown; delayMs?: number };

async function fakeApiServer(route: (r: Recorded) => Reply) {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const rec: Recorded = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: raw ? (JSON.parse(raw) as unknown) : undefined,
      };
      requests.push(rec);
      const reply = route(rec);
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(reply.status, { 'Content-Type': 'application/json' });
        res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'test-token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { kc, requests };
}

const status = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  code,
  reason,
  message,
});

const sts = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: {
    name: 'emqx-core',
    namespace: 'ns1',
    uid: 'u-1',
    resourceVersion: '42',
    creationTimestamp: '2024-01-01T00:00:00Z',
    generation: 3,
    managedFields: [{ manager: 'x' }],
    labels: { a: 'b' },
  },
  spec: { replicas: 3, futureField: { kept: true } },
  status: { replicas: 3 },
};

test('prepareForApply strips server-owned metadata and status', () => {
  const p = prepareForApply(sts);
  assert.deepEqual(p.metadata, { name: 'emqx-core', namespace: 'ns1', labels: { a: 'b' } });
  assert.equal('status' in p, false);
  assert.deepEqual(prepareForApply(sts, { keepStatus: true }).status, { replicas: 3 });
  assert.equal(sts.metadata.uid, 'u-1', 'the input is not modified');
});

test('apply: PATCH apply-patch with field manager emqx-operator and force; raw body; counted', async () => {
  const { kc, requests } = await fakeApiServer(() => ({
    status: 200,
    body: { ...sts, metadata: { name: 'emqx-core' } },
  }));
  const client = new KubeClient(kc);
  const seen: KubeWrite[] = [];
  const off = onKubeWrite((w) => seen.push(w));
  const before = await kubeWriteCount({ verb: 'apply', kind: 'StatefulSet' });
  const live = await apply(client, sts);
  off();
  assert.equal(live.metadata?.name, 'emqx-core');
  const r = requests[0]!;
  assert.equal(r.method, 'PATCH');
  assert.equal(r.path, '/apis/apps/v1/namespaces/ns1/statefulsets/emqx-core');
  assert.equal(r.query.get('fieldManager'), 'emqx-operator');
  assert.equal(r.query.get('force'), 'true');
  assert.equal(r.headers['content-type'], 'application/apply-patch+yaml');
  assert.equal(r.headers.authorization, 'Bearer test-token');
  assert.deepEqual(r.body, {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'emqx-core', namespace: 'ns1', labels: { a: 'b' } },
    spec: { replicas: 3, futureField: { kept: true } }, // unknown fields are not dropped
  });
  assert.equal((await kubeWriteCount({ verb: 'apply', kind: 'StatefulSet' })) - before, 1);
  assert.deepEqual(seen, [{ verb: 'apply', kind: 'StatefulSet', namespace: 'ns1', name: 'emqx-core' }]);
});

test('apply createOnly: the body carries a resource version no stored object has; the input is not modified', async () => {
  const { kc, requests } = await fakeApiServer(() => ({ status: 201, body: sts }));
  const client = new KubeClient(kc);
  await apply(client, sts, { createOnly: true });
  const body = requests[0]!.body as { metadata: Record<string, unknown> };
  assert.equal(body.metadata.resourceVersion, NEVER_A_RESOURCE_VERSION);
  assert.equal(requests[0]!.query.get('force'), 'true');
  // above int64, the range of etcd revisions, and still a valid uint64 (how the API server parses it)
  assert.ok(BigInt(NEVER_A_RESOURCE_VERSION) > 2n ** 63n - 1n);
  assert.equal(BigInt(NEVER_A_RESOURCE_VERSION), 2n ** 64n - 1n);
  assert.equal(sts.metadata.resourceVersion, '42', 'the input is not modified');
  await apply(client, sts);
  assert.equal(
    (requests[1]!.body as { metadata: Record<string, unknown> }).metadata.resourceVersion,
    undefined,
  );
});

test('custom resources are discovered once (and re-discovered on a miss); status goes to /status', async () => {
  let discoveries = 0;
  const { kc, requests } = await fakeApiServer((r) => {
    if (r.method === 'GET' && r.path === '/apis/apps.emqx.io/v2beta1') {
      discoveries++;
      const resources = [
        { name: 'emqxes', kind: 'EMQX', namespaced: true },
        { name: 'emqxes/status', kind: 'EMQX', namespaced: true },
      ];
      if (discoveries > 1) resources.push({ name: 'rebalances', kind: 'Rebalance', namespaced: true });
      return { status: 200, body: { kind: 'APIResourceList', resources } };
    }
    return { status: 200, body: { kind: 'EMQX' } };
  });
  const client = new KubeClient(kc);
  const cr = {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace: 'default' },
    spec: { image: 'emqx:5', anything: { nested: [1, 2] } },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
  await apply(client, cr);
  await applyStatus(client, cr);
  await mergePatchStatus(
    client,
    { apiVersion: cr.apiVersion, kind: 'EMQX', namespace: 'default', name: 'emqx' },
    { phase: 'Ready' },
    { resourceVersion: '7' },
  );
  await apply(client, { ...cr, kind: 'Rebalance', metadata: { name: 'rb', namespace: 'default' } });
  assert.equal(discoveries, 2, 'second discovery only for the unknown kind');
  const writes = requests.filter((r) => r.method !== 'GET');
  assert.deepEqual(
    writes.map((r) => `${r.method} ${r.path} ${r.headers['content-type']}`),
    [
      'PATCH /apis/apps.emqx.io/v2beta1/namespaces/default/emqxes/emqx application/apply-patch+yaml',
      'PATCH /apis/apps.emqx.io/v2beta1/namespaces/default/emqxes/emqx/status application/apply-patch+yaml',
      'PATCH /apis/apps.emqx.io/v2beta1/namespaces/default/emqxes/emqx/status application/merge-patch+json',
      'PATCH /apis/apps.emqx.io/v2beta1/namespaces/default/rebalances/rb application/apply-patch+yaml',
    ],
  );
  assert.deepEqual((writes[0]!.body as { spec: unknown }).spec, cr.spec);
  assert.equal((writes[0]!.body as { status?: unknown }).status, undefined);
  assert.deepEqual(writes[1]!.body, {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: 'emqx', namespace: 'default' },
    status: cr.status,
  });
  assert.deepEqual(writes[2]!.body, { status: { phase: 'Ready' }, metadata: { resourceVersion: '7' } });
});

test('patchPodStatus uses a strategic merge patch of pods/status', async () => {
  const { kc, requests } = await fakeApiServer(() => ({ status: 200, body: { kind: 'Pod' } }));
  const before = await kubeWriteCount({ verb: 'patch', kind: 'Pod' });
  const cond = {
    type: 'apps.emqx.io/on-serving',
    status: 'True',
    lastTransitionTime: '2024-01-01T00:00:00Z',
  };
  await patchPodStatus(new KubeClient(kc), { namespace: 'ns', name: 'p-0' }, { conditions: [cond] });
  const r = requests[0]!;
  assert.equal(r.path, '/api/v1/namespaces/ns/pods/p-0/status');
  assert.equal(r.headers['content-type'], 'application/strategic-merge-patch+json');
  assert.deepEqual(r.body, { status: { conditions: [cond] } });
  assert.equal((await kubeWriteCount({ verb: 'patch', kind: 'Pod' })) - before, 1);
});

test('createIfAbsent: created, or 409 → the live object', async () => {
  let exists = false;
  const { kc, requests } = await fakeApiServer((r) => {
    if (r.method === 'POST') {
      if (exists) return { status: 409, body: status(409, 'AlreadyExists', 'secrets "c" already exists') };
      exists = true;
      return { status: 201, body: { kind: 'Secret', metadata: { name: 'c', uid: 'new' } } };
    }
    return { status: 200, body: { kind: 'Secret', metadata: { name: 'c', uid: 'old' } } };
  });
  const client = new KubeClient(kc);
  const secret: KubeObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'c', namespace: 'ns' },
    stringData: { k: 'v' },
  };
  const first = await createIfAbsent(client, secret);
  assert.equal(first.created, true);
  const second = await createIfAbsent(client, secret);
  assert.equal(second.created, false);
  assert.equal(second.object.metadata?.uid, 'old');
  assert.deepEqual(
    requests.map((r) => `${r.method} ${r.path}`),
    [
      'POST /api/v1/namespaces/ns/secrets',
      'POST /api/v1/namespaces/ns/secrets',
      'GET /api/v1/namespaces/ns/secrets/c',
    ],
  );
  assert.equal(requests[0]!.query.get('fieldManager'), 'emqx-operator');
});

test('deleteObject sends preconditions and propagation policy; 404 → false; 409 → KubeApiError', async () => {
  let n = 0;
  const { kc, requests } = await fakeApiServer(() => {
    n++;
    if (n === 1) return { status: 200, body: { kind: 'Status', status: 'Success' } };
    if (n === 2) return { status: 404, body: status(404, 'NotFound', 'pods "p" not found') };
    return { status: 409, body: status(409, 'Conflict', 'Precondition failed: UID in precondition: u1') };
  });
  const client = new KubeClient(kc);
  const ref = { apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'p' };
  assert.equal(
    await deleteObject(client, ref, { uid: 'u1', propagationPolicy: 'Foreground', gracePeriodSeconds: 0 }),
    true,
  );
  assert.deepEqual(requests[0]!.body, {
    apiVersion: 'v1',
    kind: 'DeleteOptions',
    propagationPolicy: 'Foreground',
    preconditions: { uid: 'u1' },
    gracePeriodSeconds: 0,
  });
  assert.equal(await deleteObject(client, ref), false);
  const err = await deleteObject(client, ref, { uid: 'u1' }).catch((e: unknown) => e);
  assert.ok(err instanceof KubeApiError);
  assert.equal(err.code, 409);
  assert.equal(err.reason, 'Conflict');
  assert.ok(isConflict(err));
  assert.match(err.message, /Precondition failed/);
});

test('errors: HTTP status parsed; get() maps 404 to undefined; timeouts are KubeRequestError', async () => {
  const { kc } = await fakeApiServer((r) => {
    if (r.path.endsWith('/slow')) return { status: 200, body: {}, delayMs: 500 };
    if (r.path.endsWith('/missing')) return { status: 404, body: status(404, 'NotFound', 'not found') };
    return { status: 422, body: status(422, 'Invalid', 'spec.replicas: Invalid value: -1') };
  });
  const client = new KubeClient(kc, { timeoutMs: 100 });
  assert.equal(
    await client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'n', name: 'missing' }),
    undefined,
  );
  const invalid = await apply(client, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'x', namespace: 'n' },
  }).catch((e: unknown) => e);
  assert.ok(invalid instanceof KubeApiError);
  assert.equal(invalid.code, 422);
  assert.equal(invalid.reason, 'Invalid');
  assert.ok(!isNotFound(invalid));
  const slow = await client.request('GET', '/api/v1/slow').catch((e: unknown) => e);
  assert.ok(slow instanceof KubeRequestError, String(slow));
  assert.equal(slow.timedOut, true);
});

test('connection refused is a KubeRequestError, not an HTTP error', async () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  const err = await new KubeClient(kc).request('GET', '/version').catch((e: unknown) => e);
  assert.ok(err instanceof KubeRequestError);
  assert.equal(err.timedOut, false);
});

test('typed clients made with makeCountingApiClient count their writes too', async () => {
  const { kc, requests } = await fakeApiServer(() => ({
    status: 201,
    body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } },
  }));
  const core = makeCountingApiClient(kc, CoreV1Api);
  const seen: KubeWrite[] = [];
  const off = onKubeWrite((w) => seen.push(w));
  await core.createNamespacedConfigMap({ namespace: 'ns', body: { metadata: { name: 'cm' } } });
  await core.readNamespacedConfigMap({ namespace: 'ns', name: 'cm' });
  off();
  assert.equal(requests.length, 2);
  assert.deepEqual(seen, [
    { verb: 'create', kind: 'ConfigMap', namespace: 'ns', name: undefined, subresource: undefined },
  ]);
});

test('mergePatchChanges: a merge patch that would leave the object as it is changes nothing', () => {
  const crd = {
    spec: {
      conversion: {
        strategy: 'Webhook',
        webhook: {
          conversionReviewVersions: ['v1'],
          clientConfig: {
            service: { namespace: 'ns', name: 'wh', path: '/convert', port: 443 },
            caBundle: 'QQ==',
          },
        },
      },
    },
  };
  const patch = {
    spec: {
      conversion: {
        strategy: 'Webhook',
        webhook: {
          conversionReviewVersions: ['v1'],
          clientConfig: {
            url: null,
            service: { namespace: 'ns', name: 'wh', path: '/convert', port: 443 },
            caBundle: 'QQ==',
          },
        },
      },
    },
  };
  assert.equal(mergePatchChanges(crd, patch), false, 'same values; url absent and patched to null');
  const other = structuredClone(patch);
  other.spec.conversion.webhook.clientConfig.caBundle = 'Qg==';
  assert.equal(mergePatchChanges(crd, other), true, 'another CA bundle');
  const toUrl = structuredClone(patch) as any;
  toUrl.spec.conversion.webhook.clientConfig = { url: 'https://127.0.0.1:1/convert', service: null };
  assert.equal(mergePatchChanges(crd, toUrl), true, 'a URL instead of the Service');
  assert.equal(mergePatchChanges({ a: [1, 2] }, { a: [1] }), true, 'a list is replaced whole');
  assert.equal(mergePatchChanges({ a: 1 }, { a: { b: 1 } }), true, 'an object over a scalar');
  assert.equal(mergePatchChanges({ a: 1 }, { b: null }), false, 'removing what is not there');
  assert.equal(mergePatchChanges({}, { a: {} }), true, 'an absent key is added even as {}');
});
