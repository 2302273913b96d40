import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeApi } from './api.ts';
import { TokenManager } from './tokens.ts';

const pod: V1Pod = {
  metadata: { name: 'op-1', namespace: 'ops', uid: 'pod-uid' },
  spec: { serviceAccountName: 'op', containers: [] },
};

function fakeApi(answer: () => Promise<unknown>) {
  const calls: Array<{ path: string; body: any }> = [];
  const api = {
    post: (path: string, body: unknown) => (calls.push({ path, body }), answer()),
  } as unknown as KubeApi;
  return { api, calls };
}

test('a TokenRequest bound to the pod; the pod is poked when the token is there; then served from cache', async () => {
  const exp = new Date(Date.now() + 3600_000).toISOString();
  const { api, calls } = fakeApi(async () => ({ status: { token: 'jwt', expirationTimestamp: exp } }));
  const poked: string[] = [];
  const m = new TokenManager(api, (uid) => poked.push(uid));
  const first = m.get(pod, { path: 'token', expirationSeconds: 3607, audience: 'api' });
  assert.equal(first.ok, false);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(poked, ['pod-uid']);
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.path, '/api/v1/namespaces/ops/serviceaccounts/op/token');
  assert.deepEqual(calls[0]!.body.spec, {
    audiences: ['api'],
    expirationSeconds: 3607,
    boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'op-1', uid: 'pod-uid' },
  });
  const second = m.get(pod, { path: 'token', expirationSeconds: 3607, audience: 'api' });
  assert.deepEqual(second, { ok: true, token: Buffer.from('jwt') });
  assert.equal(calls.length, 1, 'no second request before 80% of the lifetime');
  m.stop();
});

test('a failed TokenRequest is reported in the volume error and retried', async () => {
  const { api, calls } = fakeApi(async () => {
    throw new Error('HTTP 404: serviceaccounts "op" not found');
  });
  const poked: string[] = [];
  const m = new TokenManager(api, (uid) => poked.push(uid));
  m.get(pod, { path: 'token' });
  await new Promise((r) => setImmediate(r));
  const r = m.get(pod, { path: 'token' });
  assert.equal(r.ok, false);
  assert.match((r as { message: string }).message, /serviceaccount ops\/op.*not found/);
  assert.equal(calls.length, 2, 'the second get retries');
  m.stop();
});
