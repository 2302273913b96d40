import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { serveLocalApi } from '../../test/support/local-api.ts';
import { forgetSecret, registerSecret } from '../observability/redact.ts';
import { EventRecorder, camelCaseReason } from './events.ts';
import { KubeClient } from './rest.ts';

interface Req {
  method: string;
  path: string;
  contentType?: string;
  body: Record<string, unknown>;
}

async function fakeServer(opts: { patch404?: boolean } = {}) {
  const requests: Req[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {},
      });
      const code = req.method === 'PATCH' && opts.patch404 ? 404 : req.method === 'POST' ? 201 : 200;
      res.writeHead(code, { 'Content-Type': 'application/json' }).end(raw || '{}');
    });
  });
  const kc = await serveLocalApi(server);
  return { client: new KubeClient(kc), requests };
}

const emqx = {
  apiVersion: 'apps.emqx.io/v2beta1',
  kind: 'EMQX',
  metadata: { name: 'emqx', namespace: 'prod', uid: 'uid-1', resourceVersion: '5' },
};

test('creates an events.k8s.io/v1 Event with reporting controller, MicroTime and a regarding reference', async () => {
  const { client, requests } = await fakeServer();
  const rec = new EventRecorder(client, { reportingInstance: 'emqx-operator-abc' });
  await rec.normal(emqx, 'ScaledCoreNodes', 'scaled core nodes from 2 to 3', 'Scale');
  assert.equal(requests.length, 1);
  const r = requests[0]!;
  assert.equal(r.method, 'POST');
  assert.equal(r.path, '/apis/events.k8s.io/v1/namespaces/prod/events');
  const b = r.body as Record<string, any>;
  assert.match(b.metadata.name, /^emqx\.[0-9a-f]+$/);
  assert.equal(b.metadata.namespace, 'prod');
  assert.match(b.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.deepEqual(b.regarding, {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    name: 'emqx',
    namespace: 'prod',
    uid: 'uid-1',
    resourceVersion: '5',
  });
  assert.equal(b.type, 'Normal');
  assert.equal(b.reason, 'ScaledCoreNodes');
  assert.equal(b.action, 'Scale');
  assert.equal(b.note, 'scaled core nodes from 2 to 3');
  assert.equal(b.reportingController, 'emqx-operator');
  assert.equal(b.reportingInstance, 'emqx-operator-abc');
});

test('repeats bump one series, with at most one write per interval', async () => {
  let now = 1_000_000;
  const { client, requests } = await fakeServer();
  const rec = new EventRecorder(client, { minWriteIntervalMs: 60_000, now: () => now });
  await rec.warning(emqx, 'ReconcileFailed', 'step addCore: boom');
  for (let i = 0; i < 5; i++) {
    now += 1000;
    await rec.warning(emqx, 'ReconcileFailed', 'step addCore: boom');
  }
  assert.equal(requests.length, 1, 'repeats inside the interval write nothing yet');
  now += 60_000;
  await rec.warning(emqx, 'ReconcileFailed', 'step addCore: boom');
  assert.equal(requests.length, 2);
  const p = requests[1]!;
  assert.equal(p.method, 'PATCH');
  assert.equal(
    p.path,
    `/apis/events.k8s.io/v1/namespaces/prod/events/${(requests[0]!.body.metadata as { name: string }).name}`,
  );
  assert.equal(p.contentType, 'application/merge-patch+json');
  assert.equal((p.body.series as { count: number }).count, 7);
  // a different message is a different series
  await rec.warning(emqx, 'ReconcileFailed', 'step addCore: other');
  assert.equal(requests.length, 3);
  assert.equal(requests[2]!.method, 'POST');
  // pending bumps are written by flush()
  now += 1;
  await rec.warning(emqx, 'ReconcileFailed', 'step addCore: boom');
  assert.equal(requests.length, 3);
  await rec.close();
  assert.equal(requests.length, 4);
  assert.equal((requests[3]!.body.series as { count: number }).count, 8);
  await rec.warning(emqx, 'ReconcileFailed', 'after close');
  assert.equal(requests.length, 4, 'nothing recorded after close');
});

test('a repeat after the series TTL starts a new Event; an expired Event (404) is re-created', async () => {
  let now = 0;
  const { client, requests } = await fakeServer({ patch404: true });
  const rec = new EventRecorder(client, { minWriteIntervalMs: 10, seriesTtlMs: 1000, now: () => now });
  await rec.normal(emqx, 'Ready', 'cluster ready');
  now += 2000;
  await rec.normal(emqx, 'Ready', 'cluster ready');
  assert.deepEqual(
    requests.map((r) => r.method),
    ['POST', 'POST'],
  );
  now += 100;
  await rec.normal(emqx, 'Ready', 'cluster ready'); // series bump → PATCH → 404 → new Event
  assert.deepEqual(
    requests.map((r) => r.method),
    ['POST', 'POST', 'PATCH', 'POST'],
  );
});

test('messages are redacted and truncated; reasons become CamelCase', async () => {
  const { client, requests } = await fakeServer();
  const rec = new EventRecorder(client);
  registerSecret('the-node-cookie-value');
  try {
    await rec.warning(
      emqx,
      'config sync failed',
      'PUT /configs failed: node.cookie = "the-node-cookie-value"',
    );
  } finally {
    forgetSecret('the-node-cookie-value');
  }
  await rec.normal(emqx, 'Long', 'x'.repeat(5000));
  const [a, b] = requests.map((r) => r.body as Record<string, string>);
  assert.equal(a!.reason, 'ConfigSyncFailed');
  assert.ok(!a!.note!.includes('the-node-cookie-value'), a!.note);
  assert.ok(Buffer.byteLength(b!.note!) <= 1024);
  assert.equal(camelCaseReason('Ready'), 'Ready');
  assert.equal(camelCaseReason('pod-evicted'), 'PodEvicted');
  assert.equal(camelCaseReason('1st try'), 'Event1stTry');
});

test('core v1 Events: involvedObject, source, count and lastTimestamp', async () => {
  let now = Date.parse('2024-05-01T10:00:00.500Z');
  const { client, requests } = await fakeServer();
  const rec = new EventRecorder(client, { api: 'v1', minWriteIntervalMs: 0, now: () => now });
  await rec.normal(emqx, 'Created', 'created');
  now += 5000;
  await rec.normal(emqx, 'Created', 'created');
  const [c, p] = requests;
  assert.equal(c!.path, '/api/v1/namespaces/prod/events');
  assert.equal((c!.body.involvedObject as { uid: string }).uid, 'uid-1');
  assert.deepEqual(c!.body.source, { component: 'emqx-operator' });
  assert.equal(c!.body.firstTimestamp, '2024-05-01T10:00:00Z');
  assert.equal(c!.body.count, 1);
  assert.deepEqual(p!.body, { count: 2, lastTimestamp: '2024-05-01T10:00:05Z' });
});

test('recording never throws, even when the API server fails', async () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  const rec = new EventRecorder(new KubeClient(kc));
  await rec.warning(emqx, 'X', 'y');
});
