// The executor against a recording fake of the Kubernetes client and of the EMQX API: the order of its writes,
// and what it does with what a write tells it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NEW, NOW, OLD, world } from '../../test/support/world.ts';
import { EmqxApiError } from '../emqx/client.ts';
import { NEVER_A_RESOURCE_VERSION } from '../k8s/apply.ts';
import type { EventRecorder } from '../k8s/events.ts';
import { KubeApiError, type KubeClient, type ObjectRef } from '../k8s/rest.ts';
import { nullLogger } from '../observability/logger.ts';
import { act } from './act.ts';
import { podApiUrl, type EmqxApi } from './emqx-access.ts';
import { plan } from './plan.ts';
import type { Snapshot } from './snapshot.ts';

interface Harness {
  log: string[];
  events: string[];
  /** Request bodies by `METHOD path`. */
  bodies: Map<string, unknown>;
  run(s: Snapshot): ReturnType<typeof act>;
}

function harness(
  opts: { failOn?: RegExp; kubeError?: Error; putConfigs?: () => Promise<void> } = {},
): Harness {
  const log: string[] = [];
  const events: string[] = [];
  const bodies = new Map<string, unknown>();
  const client = {
    async path(ref: ObjectRef, sub?: string) {
      return `${ref.kind}/${ref.name ?? ''}${sub ? `/${sub}` : ''}`;
    },
    async request(method: string, path: string, ro?: { body?: unknown }) {
      const line = `${method} ${path}`;
      log.push(line);
      bodies.set(line, ro?.body);
      if (opts.failOn?.test(line)) throw opts.kubeError ?? new Error(`refused ${line}`);
      return {};
    },
  } as unknown as KubeClient;
  const recorder = {
    normal: async (_o: unknown, reason: string) => void events.push(reason),
    warning: async (_o: unknown, reason: string) => void events.push(`!${reason}`),
  } as unknown as EventRecorder;
  const api = {
    evacuationStart: async (node: string) => void log.push(`EMQX evacuation/start ${node}`),
    evacuationStop: async (node: string) => void log.push(`EMQX evacuation/stop ${node}`),
    forceLeave: async (node: string) => void log.push(`EMQX force_leave ${node}`),
    putConfigs: opts.putConfigs ?? (async () => void log.push('EMQX PUT configs')),
  } as unknown as EmqxApi;
  return {
    log,
    events,
    bodies,
    run: (s) =>
      act({ client, events: recorder, log: nullLogger, emqxApiFactory: () => api }, s, plan(s, NOW), NOW),
  };
}

const index = (log: string[], re: RegExp) => log.findIndex((l) => re.test(l));

test('act: a drained core leaves the cluster before its StatefulSet shrinks', async () => {
  const h = harness();
  await h.run(
    world({
      spec: { coreTemplate: { spec: { replicas: 1 } } },
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW },
      ],
      statefulSets: [{ name: 'emqx-core', rev: NEW, replicas: 2 }],
    }),
  );
  const leave = index(h.log, /EMQX force_leave emqx@emqx-core-1\./);
  const sts = index(h.log, /^PATCH StatefulSet\/emqx-core$/);
  assert.ok(leave >= 0 && sts > leave, h.log.join('\n'));
  assert.ok(h.events.includes('NodeLeftCluster') && h.events.includes('CoreNodeRemoved'), h.events.join());
});

test('act: a core that must leave, with no other core to ask, is not scaled away (the pass fails and is retried)', async () => {
  const h = harness();
  const s = world({
    spec: { coreTemplate: { spec: { replicas: 1 } } },
    cores: [
      { name: 'emqx-core-0', rev: NEW },
      { name: 'emqx-core-1', rev: NEW },
    ],
    statefulSets: [{ name: 'emqx-core', rev: NEW, replicas: 2 }],
  });
  const victim = s.pods.find((p) => p.metadata?.name === 'emqx-core-1')!;
  // only the leaving node's own API is left to ask (the other core's pod is not ready)
  const onlyVictim = { ...s, access: { ...s.access, targets: [podApiUrl(victim)] } } as Snapshot;
  const r = await h.run(onlyVictim);
  assert.match(
    (r.failure as Error | undefined)?.message ?? '',
    /emqx@emqx-core-1\..* must leave the cluster .* no other core can be asked/,
  );
  assert.ok(h.events.includes('!ReconcileFailed'), h.events.join());
  assert.equal(index(h.log, /EMQX force_leave/), -1, h.log.join('\n'));
  assert.equal(index(h.log, /StatefulSet\/emqx-core/), -1, `no scale-down: ${h.log.join('\n')}`);
  // with another core to ask, the same pass goes through
  await h.run(s);
  assert.ok(index(h.log, /EMQX force_leave emqx@emqx-core-1\./) >= 0, h.log.join('\n'));
});

test('act: a pod is marked draining before its evacuation starts', async () => {
  const h = harness();
  await h.run(
    world({
      cores: [
        { name: 'emqx-core-0', rev: OLD },
        { name: 'emqx-core-1', rev: OLD, clients: 3 },
      ],
    }),
  );
  const mark = index(h.log, /^PATCH Pod\/emqx-core-1$/);
  const start = index(h.log, /EMQX evacuation\/start/);
  assert.ok(mark >= 0 && start > mark, h.log.join('\n'));
});

test('act: a config EMQX rejects never reaches the ConfigMap, and the status says why', async () => {
  const h = harness({
    putConfigs: async () => {
      throw new EmqxApiError('PUT /api/v5/configs', 'http://127.1.0.2:18083', 400, { errors: 'bad value' });
    },
  });
  const s = world({ cores: [{ name: 'emqx-core-0', rev: NEW }] });
  const children = new Map(s.children);
  children.set(
    'ConfigMap',
    new Map([
      [
        'emqx-configs',
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'emqx-configs', annotations: { 'apps.emqx.io/applied-config-hash': 'older' } },
        },
      ],
    ]),
  );
  const result = await h.run({ ...s, children });
  assert.equal(index(h.log, /ConfigMap\/emqx-configs/), -1, h.log.join('\n'));
  assert.ok(h.events.includes('!ConfigRejected'));
  const cond = result.status.conditions!.find((c) => c.type === 'ConfigApplied')!;
  assert.equal(cond.status, 'False');
  assert.match(cond.message, /EMQX rejected spec.config.data/);
  // the rest of the pass goes on
  assert.ok(index(h.log, /^PATCH StatefulSet\/emqx-core$/) >= 0);
});

test('act: a StatefulSet the API server refuses is reported, not retried in a loop', async () => {
  const h = harness({
    failOn: /^PATCH StatefulSet\/emqx-core$/,
    kubeError: new KubeApiError('PATCH', 'StatefulSet/emqx-core', 422, {
      reason: 'Invalid',
      message: 'spec.template: invalid',
    }),
  });
  const result = await h.run(world({ cores: [], statefulSets: [] }));
  assert.equal(result.failure, undefined);
  assert.ok(h.events.includes('!CoreStatefulSetRejected'), h.events.join());
  assert.equal(result.status.conditions!.find((c) => c.type === 'Initialized')!.status, 'False');
});

test('act: a failed write stops the pass; the status is still written and the error returned', async () => {
  const h = harness({ failOn: /^PATCH Secret\/emqx-node-cookie$/ });
  const result = await h.run(world({ cores: [{ name: 'emqx-core-0', rev: NEW }] }));
  assert.match(String((result.failure as Error).message), /refused PATCH Secret/);
  assert.equal(index(h.log, /StatefulSet/), -1, 'nothing after the failed step');
  assert.ok(index(h.log, /^PATCH EMQX\/emqx\/status$/) >= 0, h.log.join('\n'));
  assert.ok(h.events.includes('!ReconcileFailed'));
});

test('act: independent stages run together (Secrets with the headless Service, PDBs with Services), dependent ones wait', async () => {
  const log: string[] = [];
  const client = {
    async path(ref: ObjectRef, sub?: string) {
      return `${ref.kind}/${ref.name ?? ''}${sub ? `/${sub}` : ''}`;
    },
    async request(method: string, path: string) {
      log.push(`start ${method} ${path}`);
      await new Promise((r) => setTimeout(r, 5));
      log.push(`end ${method} ${path}`);
      return {};
    },
  } as unknown as KubeClient;
  const events = { normal: async () => {}, warning: async () => {} } as unknown as EventRecorder;
  const s = world({ cores: [], statefulSets: [] }); // a new cluster: every object is created
  await act(
    { client, events, log: nullLogger, emqxApiFactory: () => undefined as never },
    s,
    plan(s, NOW),
    NOW,
  );
  const at = (re: RegExp) => {
    const i = index(log, re);
    assert.ok(i >= 0, `${re} in\n${log.join('\n')}`);
    return i;
  };
  const lastEnd = (re: RegExp) =>
    Math.max(...log.map((l, i) => (l.startsWith('end') && re.test(l) ? i : -1)));
  // the headless Service starts while a key Secret is still being written
  assert.ok(at(/^start PATCH Service\/emqx-headless$/) < lastEnd(/ Secret\//), log.join('\n'));
  // the ConfigMap and the StatefulSet only once both are done
  assert.ok(at(/^start PATCH ConfigMap\//) > lastEnd(/ Secret\/| Service\/emqx-headless$/), log.join('\n'));
  assert.ok(at(/^start PATCH StatefulSet\//) > at(/^end PATCH ConfigMap\//), log.join('\n'));
  // the PDB and the other Services together, after the StatefulSet
  const pdb = at(/^start PATCH PodDisruptionBudget\//);
  assert.ok(pdb > at(/^end PATCH StatefulSet\//), log.join('\n'));
  assert.ok(
    at(/^start PATCH Service\/emqx-listeners$/) < at(/^end PATCH PodDisruptionBudget\//),
    log.join('\n'),
  );
});

/** A new cluster whose key Secrets observe did not find (nor read: readsKeySecretsFromServer). */
const newClusterMissingSecrets = (): Snapshot => {
  const s = world({ cores: [], statefulSets: [] });
  return { ...s, secrets: { ...s.secrets, missing: ['emqx-node-cookie', 'emqx-bootstrap-api-key'] } };
};
const rvOf = (body: unknown) =>
  (body as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;

test('act: key Secrets the pass did not find are written create-only, nothing else is', async () => {
  const h = harness();
  const result = await h.run(newClusterMissingSecrets());
  assert.equal(result.failure, undefined);
  assert.equal(rvOf(h.bodies.get('PATCH Secret/emqx-node-cookie')), NEVER_A_RESOURCE_VERSION);
  assert.equal(rvOf(h.bodies.get('PATCH Secret/emqx-bootstrap-api-key')), NEVER_A_RESOURCE_VERSION);
  for (const [line, body] of h.bodies)
    if (!/ Secret\//.test(line)) assert.equal(rvOf(body ?? {}), undefined, line);
  // found Secrets (the default world) are applied as usual
  const found = harness();
  await found.run(world({ cores: [], statefulSets: [] }));
  assert.equal(rvOf(found.bodies.get('PATCH Secret/emqx-node-cookie')), undefined);
});

test('act: a create-only key Secret that exists stops the pass quietly, before anything uses its value', async () => {
  const h = harness({
    failOn: /^PATCH Secret\/emqx-node-cookie$/,
    kubeError: new KubeApiError('PATCH', 'Secret/emqx-node-cookie', 409, {
      reason: 'Conflict',
      message: 'the object has been modified',
    }),
  });
  const result = await h.run(newClusterMissingSecrets());
  assert.equal(result.keySecretExists, 'emqx-node-cookie');
  assert.equal(result.failure, undefined, 'not an error: no back-off');
  assert.equal(result.requeueAfterMs, 0, 'the next pass (which reads it) follows at once');
  assert.equal(result.statusFailed, true, 'the status is left to that pass');
  assert.equal(index(h.log, /ConfigMap|StatefulSet|\/status$/), -1, h.log.join('\n'));
  assert.deepEqual(h.events, [], 'no Event');
});

test('act: a 409 on a Secret that is not create-only is an ordinary failure', async () => {
  const h = harness({
    failOn: /^PATCH Secret\/emqx-node-cookie$/,
    kubeError: new KubeApiError('PATCH', 'Secret/emqx-node-cookie', 409, { reason: 'Conflict' }),
  });
  const result = await h.run(world({ cores: [], statefulSets: [] }));
  assert.equal(result.keySecretExists, undefined);
  assert.ok(result.failure instanceof KubeApiError);
  assert.ok(h.events.includes('!ReconcileFailed'));
});
