import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ago, NEW, NOW, OLD, world, type WorldSpec } from '../../test/support/world.ts';
import { ANNOTATION_APPLIED_CONFIG } from '../api/names.ts';
import { hotConfig, parseEmqxConfig } from '../emqx/config.ts';
import type { KubeObject } from '../k8s/rest.ts';
import { buildAll } from '../resources/index.ts';
import { hashObject } from '../resources/hash.ts';
import type { OwnedKind } from './cache.ts';
import { plan } from './plan.ts';
import type { Snapshot } from './snapshot.ts';

function withChild(s: Snapshot, kind: OwnedKind, obj: KubeObject): Snapshot {
  const children = new Map(s.children);
  children.set(kind, new Map([...(children.get(kind) ?? []), [obj.metadata!.name!, obj]]));
  return { ...s, children };
}

const running: WorldSpec = {
  cores: [
    { name: 'emqx-core-0', rev: NEW },
    { name: 'emqx-core-1', rev: NEW },
  ],
};
const kinds = (objs: Array<{ kind?: string; metadata?: { name?: string } }>) =>
  objs.map((o) => `${o.kind}/${o.metadata?.name}`);

test('plan: a paused resource writes nothing but its status', () => {
  const p = plan({ ...world(running), paused: true }, NOW);
  assert.equal(p.halted, 'paused');
  assert.deepEqual(p.objects, []);
  assert.deepEqual(p.serving, []);
  assert.equal(p.rollout.action, undefined);
  assert.equal(p.status.phase, 'Paused');
});

test('plan: invalid HOCON changes nothing, says where, and still follows the readiness gates', () => {
  const s = world({ cores: [{ name: 'emqx-core-0', rev: NEW, serving: false }] });
  const p = plan({ ...s, config: { ok: false, error: 'spec.config.data: line 2, column 5: bad' } }, NOW);
  assert.equal(p.halted, 'invalid config');
  assert.deepEqual(p.objects, []);
  assert.deepEqual(p.serving, [{ pod: 'emqx-core-0', status: 'True' }]);
  assert.deepEqual(
    p.events.map((e) => e.reason),
    ['InvalidConfig'],
  );
  assert.match(p.events[0]!.message, /line 2, column 5: bad; nothing was changed/);
  const cond = p.status.conditions!.find((c) => c.type === 'ConfigApplied')!;
  assert.equal(cond.status, 'False');
});

test('plan: the objects are the list render prints (buildAll), with what only the operator knows', () => {
  const s = world({ ...running, spec: { replicantTemplate: { spec: { replicas: 2 } } } });
  const p = plan(s, NOW);
  const rendered = buildAll(
    s.emqx,
    {},
    {
      cookie: 'x',
      operatorKey: { key: 'emqx-operator-controller', secret: 'yyyyyyyy' },
      userKeys: [],
      coreHash: NEW,
      replicantHash: NEW,
    },
  );
  assert.deepEqual(kinds(p.objects), kinds(rendered));
  const cm = p.objects.find((o) => o.kind === 'ConfigMap')!;
  assert.equal(cm.metadata!.annotations![ANNOTATION_APPLIED_CONFIG], hashObject(hotConfig({})));
});

test('plan: a changed runtime config is pushed to the running cluster before the ConfigMap', () => {
  const s = world(running);
  const stale = withChild(s, 'ConfigMap', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'emqx-configs', annotations: { [ANNOTATION_APPLIED_CONFIG]: 'older' } },
  });
  const p = plan({ ...stale, config: { ok: true, conf: parseEmqxConfig('log.console.level = debug') } }, NOW);
  assert.ok(p.configPush);
  assert.match(p.configPush.hocon, /debug/);
  assert.equal(p.configPush.mode, 'merge');
  // no ConfigMap yet (a new cluster), or no API: nothing to push, the file is written
  assert.equal(plan(s, NOW).configPush, undefined);
  assert.equal(plan({ ...stale, nodes: undefined }, NOW).configPush, undefined);
});

test('plan: the replicant ReplicaSet waits for the core nodes', () => {
  const spec = { replicantTemplate: { spec: { replicas: 2 } } };
  const waiting = plan(world({ spec, cores: [{ name: 'emqx-core-0', rev: NEW, running: false }] }), NOW);
  assert.ok(!waiting.objects.some((o) => o.kind === 'ReplicaSet'));
  assert.equal(waiting.decisions.activity.replicant, 'waiting for the core nodes before creating replicants');
  assert.ok(waiting.waits.includes(5000));
  const ready = plan(world({ spec, cores: [{ name: 'emqx-core-0', rev: NEW }] }), NOW);
  assert.ok(ready.objects.some((o) => o.kind === 'ReplicaSet'));
});

test('plan: no replicants wanted: every ReplicaSet goes to zero', () => {
  const p = plan(
    world({
      ...running,
      replicaSets: [
        { name: 'emqx-replicant-a', rev: 'a', replicas: 2 },
        { name: 'emqx-replicant-b', rev: 'b', replicas: 0 },
      ],
    }),
    NOW,
  );
  assert.deepEqual(
    p.scales.map((t) => [t.set.name, t.replicas]),
    [['emqx-replicant-a', 0]],
  );
});

test('plan: the listeners Service keeps its live ports when EMQX cannot say, and selects serving replicants', () => {
  const s = world(running);
  const live = withChild(s, 'Service', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'emqx-listeners' },
  });
  assert.ok(!plan(live, NOW).objects.some((o) => o.metadata?.name === 'emqx-listeners'));
  assert.ok(plan(s, NOW).objects.some((o) => o.metadata?.name === 'emqx-listeners'));
  const withReplicant = world({
    ...running,
    spec: { replicantTemplate: { spec: { replicas: 1 } } },
    replicants: [{ name: 'emqx-replicant-new-a', rev: NEW }],
    replicaSets: [{ name: 'emqx-replicant-new', rev: NEW, replicas: 1 }],
  });
  const svc = plan(withReplicant, NOW).objects.find((o) => o.metadata?.name === 'emqx-listeners') as {
    spec: { selector: Record<string, string> };
  };
  assert.equal(svc.spec.selector['apps.emqx.io/db-role'], 'replicant');
});

test('plan: readiness gates follow the nodes, the availability check and draining', () => {
  const s = world({
    cores: [
      { name: 'emqx-core-0', rev: NEW },
      { name: 'emqx-core-1', rev: NEW, serving: false },
      { name: 'emqx-core-2', rev: NEW, serving: false },
      { name: 'emqx-core-3', rev: OLD, draining: ago(1) },
    ],
    availability: { 'emqx-core-2': false },
  });
  // core-1 runs and now serves; core-2 runs but is not available yet, so it stays out; core-3 is drained
  assert.deepEqual(plan(s, NOW).serving, [
    { pod: 'emqx-core-1', status: 'True' },
    { pod: 'emqx-core-3', status: 'False' },
  ]);
});

test('plan: a changed node.cookie is ignored with a warning', () => {
  const s = world(running);
  const p = plan({ ...s, config: { ok: true, conf: parseEmqxConfig('node.cookie = other') } }, NOW);
  assert.ok(p.events.some((e) => e.reason === 'CookieChangeIgnored'));
  const cookie = p.objects.find((o) => o.metadata?.name === 'emqx-node-cookie') as {
    data: Record<string, string>;
  };
  assert.equal(Buffer.from(cookie.data.node_cookie!, 'base64').toString(), 'cookie-cookie');
});

test('plan: a core scale-down holds the StatefulSet until the node left', () => {
  const s = world({
    spec: { coreTemplate: { spec: { replicas: 1 } } },
    cores: [
      { name: 'emqx-core-0', rev: NEW },
      { name: 'emqx-core-1', rev: NEW, clients: 3 },
    ],
    statefulSets: [{ name: 'emqx-core', rev: NEW, replicas: 2 }],
  });
  const p = plan(s, NOW);
  assert.equal(p.rollout.action?.kind, 'evacuate');
  const sts = p.objects.find((o) => o.kind === 'StatefulSet') as { spec: { replicas: number } };
  assert.equal(sts.spec.replicas, 2);
  assert.equal(p.status.update?.phase, 'ScalingDownCores');
  assert.ok(p.requeueAfterMs <= 1000);
});

test('plan: an idle Ready cluster comes back after the ready interval, and its status says Ready', () => {
  const s = world(running);
  const first = plan(s, NOW);
  const again = plan({ ...s, previousStatus: first.status, raw: { ...s.raw, status: first.status } }, NOW);
  assert.equal(again.status.phase, 'Ready');
  assert.equal(again.requeueAfterMs, 30_000);
  assert.deepEqual(again.statusEvents, []);
});
