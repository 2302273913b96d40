import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1ConfigMap, V1Container, V1Pod, V1Secret } from '@kubernetes/client-node';
import { expand, parseQuantity, resolveEnv, type EnvSources } from './env.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function pod(container: V1Container): V1Pod {
  return {
    metadata: {
      name: 'emqx-core-0',
      namespace: 'ns1',
      uid: 'uid-1',
      labels: { app: 'emqx', 'apps.emqx.io/db-role': 'core' },
      annotations: { note: 'hello' },
    },
    spec: {
      containers: [container],
      nodeName: 'sandbox-node-1',
      serviceAccountName: 'sa1',
      hostname: 'emqx-core-0',
    },
    status: { podIP: '127.1.0.7', podIPs: [{ ip: '127.1.0.7' }], hostIP: '127.0.0.1' },
  };
}

function sources(secrets: V1Secret[] = [], configMaps: V1ConfigMap[] = []): EnvSources {
  return {
    secret: (ns, name) => secrets.find((s) => s.metadata?.namespace === ns && s.metadata?.name === name),
    configMap: (ns, name) =>
      configMaps.find((c) => c.metadata?.namespace === ns && c.metadata?.name === name),
  };
}

test('expand replaces $(VAR) with known values, keeps unknown ones and unescapes $$', () => {
  const vars: Record<string, string> = { A: 'x', B: 'y' };
  assert.equal(
    expand('$(A)-$(B)', (n) => vars[n]),
    'x-y',
  );
  assert.equal(
    expand('$(C)/$(A)', (n) => vars[n]),
    '$(C)/x',
  );
  assert.equal(
    expand('$$(A) costs $5', (n) => vars[n]),
    '$(A) costs $5',
  );
  assert.equal(
    expand('open $(A', (n) => vars[n]),
    'open $(A',
  );
});

test('value, $(VAR) expansion of earlier vars only, and fieldRef paths', () => {
  const c: V1Container = {
    name: 'emqx',
    env: [
      { name: 'LATER_REF', value: '$(NAME)' },
      { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NODE', value: 'emqx@$(NAME).$(NS).svc' },
      { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
      { name: 'ROLE', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.emqx.io/db-role']" } } },
      { name: 'NOTE', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['note']" } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'IPS', valueFrom: { fieldRef: { fieldPath: 'status.podIPs' } } },
      { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
    ],
  };
  const r = resolveEnv(pod(c), c, sources());
  assert.ok(r.ok);
  assert.deepEqual(r.env, {
    LATER_REF: '$(NAME)',
    NAME: 'emqx-core-0',
    NODE: 'emqx@emqx-core-0.$(NS).svc',
    NS: 'ns1',
    UID: 'uid-1',
    ROLE: 'core',
    NOTE: 'hello',
    IP: '127.1.0.7',
    IPS: '127.1.0.7',
    HOST: '127.0.0.1',
    NODE_NAME: 'sandbox-node-1',
    SA: 'sa1',
    HOSTNAME: 'emqx-core-0',
  });
});

test('secretKeyRef, configMapKeyRef and envFrom with prefix; env overrides envFrom', () => {
  const secret: V1Secret = {
    metadata: { name: 's', namespace: 'ns1' },
    data: { cookie: b64('c00kie'), user: b64('admin') },
  };
  const cm: V1ConfigMap = { metadata: { name: 'cm', namespace: 'ns1' }, data: { EMQX_A: '1', EMQX_B: '2' } };
  const c: V1Container = {
    name: 'emqx',
    envFrom: [{ configMapRef: { name: 'cm' } }, { secretRef: { name: 's' }, prefix: 'S_' }],
    env: [
      { name: 'EMQX_B', value: 'override' },
      { name: 'COOKIE', valueFrom: { secretKeyRef: { name: 's', key: 'cookie' } } },
      { name: 'A', valueFrom: { configMapKeyRef: { name: 'cm', key: 'EMQX_A' } } },
      { name: 'FROM_ENVFROM', value: '$(S_user)' },
    ],
  };
  const r = resolveEnv(pod(c), c, sources([secret], [cm]));
  assert.ok(r.ok);
  assert.equal(r.env.EMQX_A, '1');
  assert.equal(r.env.EMQX_B, 'override');
  assert.equal(r.env.S_cookie, 'c00kie');
  assert.equal(r.env.S_user, 'admin');
  assert.equal(r.env.COOKIE, 'c00kie');
  assert.equal(r.env.A, '1');
  assert.equal(r.env.FROM_ENVFROM, 'admin');
});

test('missing non-optional objects and keys are CreateContainerConfigError; optional ones are skipped', () => {
  const cm: V1ConfigMap = { metadata: { name: 'cm', namespace: 'ns1' }, data: { a: '1' } };
  const cases: Array<[V1Container, string]> = [
    [
      { name: 'c', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } }] },
      'secret "nope" not found',
    ],
    [
      { name: 'c', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'zz' } } }] },
      "couldn't find key zz in ConfigMap ns1/cm",
    ],
    [{ name: 'c', envFrom: [{ secretRef: { name: 'nope' } }] }, 'secret "nope" not found'],
    [{ name: 'c', envFrom: [{ configMapRef: { name: 'nope' } }] }, 'configmap "nope" not found'],
  ];
  for (const [c, message] of cases) {
    const r = resolveEnv(pod(c), c, sources([], [cm]));
    assert.deepEqual(r, { ok: false, reason: 'CreateContainerConfigError', message });
  }
  const optional: V1Container = {
    name: 'c',
    envFrom: [{ secretRef: { name: 'nope', optional: true } }],
    env: [
      { name: 'X', valueFrom: { secretKeyRef: { name: 'nope', key: 'k', optional: true } } },
      { name: 'Y', valueFrom: { configMapKeyRef: { name: 'cm', key: 'zz', optional: true } } },
      { name: 'Z', value: 'z' },
    ],
  };
  const r = resolveEnv(pod(optional), optional, sources([], [cm]));
  assert.ok(r.ok);
  assert.deepEqual(Object.keys(r.env).sort(), ['HOSTNAME', 'Z']);
});

test('resourceFieldRef reads limits (or node allocatable) with a divisor', () => {
  const c: V1Container = {
    name: 'c',
    resources: { limits: { memory: '512Mi' }, requests: { cpu: '250m' } },
    env: [
      { name: 'MEM_MI', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
      { name: 'CPU_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
      { name: 'CPU_REQ_M', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
    ],
  };
  const r = resolveEnv(pod(c), c, sources());
  assert.ok(r.ok);
  assert.equal(r.env.MEM_MI, '512');
  assert.equal(r.env.CPU_LIMIT, '8');
  assert.equal(r.env.CPU_REQ_M, '250');
  assert.equal(parseQuantity('1.5Gi'), 1.5 * 2 ** 30);
  assert.equal(parseQuantity('bogus'), undefined);
});
