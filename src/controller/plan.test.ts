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

test('plan: a new cluster creates its replicants together with the cores', () => {
  const spec = { replicantTemplate: { spec: { replicas: 2 } } };
  // nothing runs yet: the StatefulSet and the ReplicaSet go out in the same pass
  for (const cores of [[], [{ name: 'emqx-core-0', rev: NEW, running: false }]]) {
    const p = plan(world({ spec, cores, statefulSets: cores.length ? undefined : [] }), NOW);
    assert.deepEqual(
      p.objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'ReplicaSet').map((o) => o.kind),
      ['StatefulSet', 'ReplicaSet'],
    );
    assert.equal(p.decisions.activity.replicant, undefined);
  }
});

test('plan: on an upgrade the new replicant ReplicaSet waits for the new core nodes', () => {
  const spec = { replicantTemplate: { spec: { replicas: 2 } } };
  const waits = (w: WorldSpec) => {
    const p = plan(world({ spec, ...w }), NOW);
    assert.ok(!p.objects.some((o) => o.kind === 'ReplicaSet'), JSON.stringify(w));
    assert.equal(p.decisions.activity.replicant, 'waiting for the core nodes before creating replicants');
    assert.ok(p.waits.includes(5000));
  };
  const oldReplicants = {
    replicants: [{ name: 'emqx-replicant-old-a', rev: OLD }],
    replicaSets: [{ name: 'emqx-replicant-old', rev: OLD, replicas: 1 }],
  };
  // a ReplicaSet of an older revision exists
  waits({ cores: [{ name: 'emqx-core-0', rev: NEW, running: false }], ...oldReplicants });
  // InPlace cores still on the old revision (replicants added during a core upgrade)
  waits({
    cores: [
      { name: 'emqx-core-0', rev: NEW, running: false },
      { name: 'emqx-core-1', rev: OLD },
    ],
  });
  // BlueGreen: the old StatefulSet is still there
  waits({
    spec: { ...spec, updateStrategy: { core: { type: 'BlueGreen' } } },
    cores: [{ name: 'emqx-core-new-0', rev: NEW, running: false }],
    statefulSets: [
      { name: 'emqx-core-old', rev: OLD, replicas: 1 },
      { name: 'emqx-core-new', rev: NEW, replicas: 1 },
    ],
  });
  // once the new cores run, it is created
  const ready = plan(world({ spec, cores: [{ name: 'emqx-core-0', rev: NEW }], ...oldReplicants }), NOW);
  assert.ok(ready.objects.some((o) => o.kind === 'ReplicaSet' && o.metadata?.name?.endsWith(NEW)));
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

test('plan: a new pod without the gate condition is not patched to False, only to True once its node runs', () => {
  const withoutGate = (s: Snapshot): Snapshot => ({
    ...s,
    core: {
      ...s.core,
      pods: s.core.pods.map((p) => ({
        ...p,
        status: {
          ...p.status,
          conditions: (p.status?.conditions ?? []).filter((c) => c.type !== 'apps.emqx.io/on-serving'),
        },
      })),
    },
  });
  // core-0 runs (True); core-1 not ready yet, core-2 not available yet: absent already means False
  const s = withoutGate(
    world({
      cores: [
        { name: 'emqx-core-0', rev: NEW },
        { name: 'emqx-core-1', rev: NEW, ready: false, serving: false },
        { name: 'emqx-core-2', rev: NEW, serving: false },
      ],
      availability: { 'emqx-core-2': false },
    }),
  );
  assert.deepEqual(plan(s, NOW).serving, [{ pod: 'emqx-core-0', status: 'True' }]);
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

const missingCookie = (s: Snapshot): Snapshot => ({
  ...s,
  secrets: { ...s.secrets, cookie: 'fresh-random-value', cookieExists: false },
});
const cookieOf = (objs: Array<{ metadata?: { name?: string } }>) => {
  const c = objs.find((o) => o.metadata?.name === 'emqx-node-cookie') as
    { data: Record<string, string> } | undefined;
  return c && Buffer.from(c.data.node_cookie!, 'base64').toString();
};

test('plan: a cookie Secret gone under running pods is reported, never generated again', () => {
  const p = plan(missingCookie(world(running)), NOW);
  assert.equal(p.halted, 'node cookie missing');
  assert.deepEqual(p.objects, []);
  assert.equal(p.rollout.action, undefined);
  assert.equal(cookieOf(p.objects), undefined);
  const ready = p.status.conditions!.find((c) => c.type === 'Ready')!;
  assert.equal(ready.status, 'False');
  assert.equal(ready.reason, 'NodeCookieSecretMissing');
  assert.match(ready.message, /Secret emqx-node-cookie/);
  const event = p.events.find((e) => e.reason === 'NodeCookieSecretMissing');
  assert.equal(event?.type, 'Warning');
  assert.match(event.message, /Secret emqx-node-cookie .*nothing is changed/);
  assert.doesNotMatch(JSON.stringify([p.status, p.events]), /fresh-random-value/);
  assert.ok(p.requeueAfterMs <= 10_000);
});

test('plan: the missing-cookie Event is said once, while Ready already carries the reason', () => {
  const first = plan(missingCookie(world(running)), NOW);
  const again = plan(missingCookie(world({ ...running, previousStatus: first.status })), NOW);
  assert.equal(again.halted, 'node cookie missing');
  assert.ok(!again.events.some((e) => e.reason === 'NodeCookieSecretMissing'));
});

test('plan: sets that report running replicas count as a running cluster (pods not in the cache yet)', () => {
  const s = world({ statefulSets: [{ name: 'emqx-core', rev: NEW, replicas: 2 }] });
  assert.equal(s.pods.length, 0);
  assert.equal(plan(missingCookie(s), NOW).halted, 'node cookie missing');
});

test('plan: a missing cookie Secret on a cluster with no pods is created with a new cookie', () => {
  const s = world({ statefulSets: [] });
  const p = plan(missingCookie(s), NOW);
  assert.equal(p.halted, undefined);
  assert.equal(cookieOf(p.objects), 'fresh-random-value');
});

test('plan: node.cookie in the config says the value: the missing Secret is created with it', () => {
  const s = missingCookie(world(running));
  const p = plan({ ...s, config: { ok: true, conf: parseEmqxConfig('node.cookie = "the-cookie"') } }, NOW);
  assert.equal(p.halted, undefined);
  assert.equal(cookieOf(p.objects), 'the-cookie');
});

test('plan: a cookie Secret deleted under running pods, its value remembered: put back as it was, said once', () => {
  const s = world(running);
  const p = plan(
    {
      ...s,
      secrets: { ...s.secrets, cookie: 'remembered-cookie', cookieExists: true, cookieRestored: true },
    },
    NOW,
  );
  assert.equal(p.halted, undefined);
  assert.equal(cookieOf(p.objects), 'remembered-cookie');
  const e = p.events.find((x) => x.reason === 'NodeCookieSecretRestored');
  assert.match(e?.message ?? '', /^Secret emqx-node-cookie was deleted; it is created again with the cookie/);
  assert.doesNotMatch(e?.message ?? '', /remembered-cookie/);
  // node.cookie in the config does not win over the value the cluster runs
  const c = plan(
    {
      ...s,
      config: { ok: true, conf: parseEmqxConfig('node.cookie = "other-cookie"') },
      secrets: { ...s.secrets, cookie: 'remembered-cookie', cookieExists: true, cookieRestored: true },
    },
    NOW,
  );
  assert.equal(cookieOf(c.objects), 'remembered-cookie');
});

test('plan: key Secrets the pass did not find are created create-only, found ones applied as usual', () => {
  const fresh = world({ cores: [], statefulSets: [] });
  const missing = ['emqx-node-cookie', 'emqx-bootstrap-api-key'];
  const p = plan({ ...fresh, secrets: { ...fresh.secrets, missing } }, NOW);
  assert.deepEqual(p.createOnly?.sort(), [...missing].sort());
  for (const name of missing)
    assert.ok(p.objects.some((o) => o.kind === 'Secret' && o.metadata?.name === name));
  // only the one not found
  const one = plan({ ...fresh, secrets: { ...fresh.secrets, missing: ['emqx-bootstrap-api-key'] } }, NOW);
  assert.deepEqual(one.createOnly, ['emqx-bootstrap-api-key']);
  // found (or read from the API server): no create-only
  assert.equal(plan(fresh, NOW).createOnly, undefined);
  // a Secret the plan does not write is not listed (the missing-cookie hold writes nothing)
  const held = plan(
    { ...missingCookie(world(running)), secrets: { ...missingCookie(world(running)).secrets, missing } },
    NOW,
  );
  assert.equal(held.halted, 'node cookie missing');
  assert.equal(held.createOnly, undefined);
  // a deleted Secret put back from memory is created create-only too: a copy the pass did not see stays as it is
  const s = world(running);
  const restored = plan(
    {
      ...s,
      secrets: {
        ...s.secrets,
        cookie: 'remembered-cookie',
        cookieExists: true,
        cookieRestored: true,
        missing: ['emqx-node-cookie'],
      },
    },
    NOW,
  );
  assert.deepEqual(restored.createOnly, ['emqx-node-cookie']);
});

test('plan: a bootstrap key Secret re-created under running pods says what it costs', () => {
  const s = world(running);
  const p = plan({ ...s, secrets: { ...s.secrets, operatorSecretGenerated: true } }, NOW);
  assert.equal(p.halted, undefined);
  const e = p.events.find((x) => x.reason === 'BootstrapAPIKeySecretRecreated');
  assert.match(e?.message ?? '', /Secret emqx-bootstrap-api-key .*until a node restarts/);
  assert.ok(
    !plan(
      { ...world({ statefulSets: [] }), secrets: { ...s.secrets, operatorSecretGenerated: true } },
      NOW,
    ).events.some((x) => x.reason === 'BootstrapAPIKeySecretRecreated'),
  );
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
  assert.ok(again.requeueAfterMs >= 27_000 && again.requeueAfterMs <= 33_000, String(again.requeueAfterMs));
  assert.deepEqual(again.statusEvents, []);
});

test('plan: the Ready re-check is jittered ±10 %, the same for the same resource and instant', () => {
  const s = world(running);
  const ready = (at: Date, name = 'emqx') => {
    const first = plan({ ...s, name }, at);
    return plan({ ...s, name, previousStatus: first.status, raw: { ...s.raw, status: first.status } }, at);
  };
  assert.equal(ready(NOW).requeueAfterMs, ready(NOW).requeueAfterMs);
  // 200 clusters reconciled at the same instant come back spread over 27..33 s, not all at once
  const times = Array.from({ length: 200 }, (_, i) => ready(NOW, `emqx-${i}`).requeueAfterMs);
  assert.ok(Math.min(...times) >= 27_000 && Math.max(...times) <= 33_000);
  assert.ok(
    Math.max(...times) - Math.min(...times) > 5_000,
    `spread ${Math.min(...times)}..${Math.max(...times)}`,
  );
  const perSecond = new Map<number, number>();
  for (const t of times) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
  assert.ok(Math.max(...perSecond.values()) < 60, 'no second holds more than ~30 % of the passes');
  // not Ready: the 5 s interval is not jittered (a cluster coming up is looked at promptly)
  assert.equal(
    plan(world({ cores: [{ name: 'emqx-core-0', rev: NEW, running: false }] }), NOW).requeueAfterMs,
    5000,
  );
});

test('plan: an unusable TLS Secret changes nothing, names the Secret, and the status says CertificatesReady False', () => {
  const s = world(running);
  const error = 'spec.tls.listeners.secretName: Secret "mqtt-tls" has no tls.key';
  const p = plan({ ...s, tls: { error, certificates: [] } }, NOW);
  assert.equal(p.halted, 'invalid certificate');
  assert.deepEqual(p.objects, []);
  assert.equal(p.rollout.action, undefined);
  assert.ok(p.events.some((e) => e.reason === 'InvalidCertificate' && e.message.includes('"mqtt-tls"')));
  const c = p.status.conditions?.find((x) => x.type === 'CertificatesReady');
  assert.equal(c?.status, 'False');
  assert.equal(c?.reason, 'InvalidCertificate');
  assert.equal(c?.message, error);
});

test('plan: certificates in status; CertificatesReady warns 14 days before the first expiry', () => {
  const s = world(running);
  const cert = (days: number) => ({
    name: 'listeners',
    secretName: 'mqtt-tls',
    serial: '0a',
    notAfter: new Date(NOW.getTime() + days * 86_400_000).toISOString(),
  });
  const fine = plan({ ...s, tls: { certificates: [cert(60)] } }, NOW);
  assert.equal(fine.halted, undefined);
  assert.deepEqual(fine.status.certificates, [cert(60)]);
  assert.equal(fine.status.conditions?.find((x) => x.type === 'CertificatesReady')?.status, 'True');
  const soon = plan({ ...s, tls: { certificates: [cert(10)] } }, NOW);
  const c = soon.status.conditions?.find((x) => x.type === 'CertificatesReady');
  assert.equal(c?.reason, 'CertificateExpiringSoon');
  const gone = plan({ ...s, tls: { certificates: [cert(-1)] } }, NOW);
  assert.equal(
    gone.status.conditions?.find((x) => x.type === 'CertificatesReady')?.reason,
    'CertificateExpired',
  );
  assert.equal(
    plan(s, NOW).status.conditions?.find((x) => x.type === 'CertificatesReady'),
    undefined,
    'no spec.tls, no condition',
  );
});

test('plan: a new serial for a certificate is announced once, with its serial and expiry', () => {
  const s = world(running);
  const c = (serial: string) => ({
    name: 'listeners',
    secretName: 'mqtt-tls',
    serial,
    notAfter: '2026-04-01T00:00:00.000Z',
  });
  const previousStatus = { ...s.previousStatus, certificates: [c('0a')] };
  const rotated = plan({ ...s, previousStatus, tls: { certificates: [c('0b')] } }, NOW);
  const ev = rotated.events.filter((e) => e.reason === 'CertificateRotated');
  assert.equal(ev.length, 1);
  assert.match(ev[0]!.message, /serial 0b, valid until 2026-04-01T00:00:00.000Z/);
  const same = plan({ ...s, previousStatus, tls: { certificates: [c('0a')] } }, NOW);
  assert.equal(same.events.filter((e) => e.reason === 'CertificateRotated').length, 0);
  const first = plan({ ...s, tls: { certificates: [c('0a')] } }, NOW);
  assert.equal(
    first.events.filter((e) => e.reason === 'CertificateRotated').length,
    0,
    'no Event for the first',
  );
});

// What the Go operator leaves: its blue-green StatefulSet `<name>-core-<hash>` and pods on that revision.
const goCluster: WorldSpec = {
  cores: [
    { name: 'emqx-core-5d8b7c9f4-0', rev: '5d8b7c9f4' },
    { name: 'emqx-core-5d8b7c9f4-1', rev: '5d8b7c9f4', serving: false },
  ],
  statefulSets: [{ name: 'emqx-core-5d8b7c9f4', rev: '5d8b7c9f4', replicas: 2, foreign: true }],
};

test('plan: foreign workloads stop every write but the status; one Event says how to proceed', () => {
  const s = world(goCluster);
  assert.deepEqual(
    s.foreignWorkloads.map((f) => `${f.kind}/${f.name}`),
    ['StatefulSet/emqx-core-5d8b7c9f4'],
  );
  const p = plan(s, NOW);
  assert.equal(p.halted, 'foreign workloads');
  assert.deepEqual(p.objects, [], 'nothing applied');
  assert.deepEqual(p.serving, [], "no readiness gate changed on the other operator's pods");
  assert.deepEqual(p.scales, []);
  assert.equal(p.rollout.action, undefined, 'no pod evacuated or deleted');
  assert.equal(p.configPush, undefined);
  const ready = p.status.conditions!.find((c) => c.type === 'Ready')!;
  assert.deepEqual([ready.status, ready.reason], ['False', 'ForeignWorkloads']);
  assert.match(ready.message, /StatefulSet emqx-core-5d8b7c9f4 \(it carries apps\.emqx\.io\/last-applied/);
  assert.match(ready.message, /written by manager, never by emqx-operator/);
  assert.equal(p.status.phase, 'ForeignWorkloads');
  assert.deepEqual(
    p.events.map((e) => [e.type, e.reason]),
    [['Warning', 'ForeignWorkloads']],
  );
  // The next pass (its status written): no second Event.
  const again = plan({ ...s, previousStatus: p.status, raw: { ...s.raw, status: p.status } }, NOW);
  assert.deepEqual(again.events, []);
  assert.deepEqual(again.statusEvents, []);
  // Ready was True (the Go operator's status): the flip of Ready announces it, not a second Event.
  const wasReady = plan(world(running), NOW).status;
  const flip = plan({ ...s, previousStatus: wasReady, raw: { ...s.raw, status: wasReady } }, NOW);
  assert.deepEqual(flip.events, []);
  assert.deepEqual(
    flip.statusEvents.map((e) => [e.type, e.reason]),
    [['Warning', 'ForeignWorkloads']],
  );
});

test('plan: sets of its own (its field manager) are never foreign, whatever their names', () => {
  const s = world({
    ...goCluster,
    statefulSets: [{ name: 'emqx-core-5d8b7c9f4', rev: '5d8b7c9f4', replicas: 2 }],
  });
  assert.deepEqual(s.foreignWorkloads, []);
  assert.equal(plan(s, NOW).halted, undefined);
});

test('plan: a paused resource with foreign workloads stays paused (nothing looked at)', () => {
  assert.equal(plan({ ...world(goCluster), paused: true }, NOW).halted, 'paused');
});

test('plan: takeover asked, the Go operator still renewing its Lease: nothing changes, Ready says why', () => {
  const renewed = new Date(NOW.getTime() - 4000).toISOString();
  const s = world({
    ...goCluster,
    takeover: true,
    goOperatorLeases: {
      ok: true,
      leases: [
        { namespace: 'emqx-operator-system', holder: 'pod-1_x', renewTime: renewed, durationSeconds: 15 },
      ],
    },
  });
  const p = plan(s, NOW);
  assert.equal(p.halted, 'foreign workloads');
  assert.deepEqual(p.objects, []);
  assert.equal(p.rollout.action, undefined);
  const ready = p.status.conditions!.find((c) => c.type === 'Ready')!;
  assert.deepEqual([ready.status, ready.reason], ['False', 'GoOperatorRunning']);
  assert.match(
    ready.message,
    /Lease emqx-operator-system\/19fd6fcc\.emqx\.io is held by pod-1_x, renewed 4s ago/,
  );
  assert.equal(p.status.phase, 'GoOperatorRunning');
  assert.deepEqual(
    p.events.map((e) => e.reason),
    ['GoOperatorRunning'],
  );
  // A Lease that cannot be read counts as running.
  const unread = plan({ ...s, goOperatorLeases: { ok: false, error: 'forbidden' } }, NOW);
  assert.equal(unread.halted, 'foreign workloads');
  assert.match(unread.status.conditions!.find((c) => c.type === 'Ready')!.message, /cannot tell .*forbidden/);
});

test('plan: takeover asked and the Go operator stopped (Lease expired, released or absent): the takeover runs', () => {
  const expired = new Date(NOW.getTime() - 16_000).toISOString();
  for (const leases of [
    [{ namespace: 'op', holder: 'pod-1_x', renewTime: expired, durationSeconds: 15 }],
    [{ namespace: 'op', renewTime: NOW.toISOString() }],
    [],
  ]) {
    const s = world({
      ...goCluster,
      spec: { coreTemplate: { spec: { replicas: 2 } } },
      takeover: true,
      goOperatorLeases: { ok: true, leases },
    });
    const p = plan(s, NOW);
    assert.equal(p.halted, undefined, JSON.stringify(leases));
    // Its own objects are applied (the core StatefulSet at full size); no Go pod is touched yet.
    const sts = p.objects.find((o) => o.kind === 'StatefulSet') as {
      metadata: { name: string };
      spec: { replicas: number };
    };
    assert.deepEqual([sts.metadata.name, sts.spec.replicas], ['emqx-core', 2]);
    assert.equal(p.rollout.action, undefined);
  }
});

test('plan: takeover under way, a Go set written by its manager after this operator scaled it: it stops', () => {
  const s = world({ ...goCluster, takeover: true, goOperatorLeases: { ok: true, leases: [] } });
  const [goSts] = s.statefulSets;
  const written = {
    ...goSts!,
    metadata: {
      ...goSts!.metadata,
      managedFields: [
        { manager: 'manager', operation: 'Update', time: new Date('2026-01-01T00:59:30Z') },
        {
          manager: 'emqx-operator',
          operation: 'Update',
          subresource: 'scale',
          time: new Date('2026-01-01T00:59:00Z'),
        },
      ],
    },
  };
  const p = plan({ ...s, statefulSets: [written] }, NOW);
  assert.equal(p.halted, 'foreign workloads');
  const ready = p.status.conditions!.find((c) => c.type === 'Ready')!;
  assert.equal(ready.reason, 'GoOperatorRunning');
  assert.match(ready.message, /manager wrote StatefulSet emqx-core-5d8b7c9f4 at 2026-01-01T00:59:30.000Z/);
  // Written before this operator's scale-down: the takeover goes on.
  written.metadata.managedFields[0]!.time = new Date('2026-01-01T00:58:00Z');
  assert.equal(plan({ ...s, statefulSets: [written] }, NOW).halted, undefined);
});

test('plan: with an issuerRef, the Certificate is written even while cert-manager has not issued its Secret', () => {
  const s = world({ ...running, spec: { tls: { listeners: { issuerRef: { name: 'ca' } } } } });
  const error =
    'spec.tls.listeners.issuerRef: waiting for cert-manager to issue Certificate "emqx-listeners-tls" into Secret "emqx-listeners-tls"';
  const waiting = plan({ ...s, tls: { error, certificates: [] } }, NOW);
  assert.equal(waiting.halted, 'invalid certificate');
  assert.deepEqual(kinds(waiting.objects), ['Certificate/emqx-listeners-tls']);
  assert.equal(waiting.rollout.action, undefined);
  assert.equal(waiting.status.conditions?.find((x) => x.type === 'CertificatesReady')?.message, error);
  // The API server does not serve cert-manager's kind: nothing to write, the condition says so.
  const unserved = plan(
    { ...s, tls: { error: 'not served', certificates: [], certificateKindUnserved: true } },
    NOW,
  );
  assert.deepEqual(unserved.objects, []);
  // Issued: the Certificate is one of the desired objects, with the live LoadBalancer address.
  const children = new Map(s.children);
  const services = new Map(children.get('Service'));
  services.set('emqx-listeners', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'emqx-listeners', namespace: s.namespace },
    status: { loadBalancer: { ingress: [{ ip: '203.0.113.5' }, { hostname: 'lb.example.net' }] } },
  } as KubeObject);
  children.set('Service', services);
  const issued = plan({ ...s, children, tls: { certificates: [] } }, NOW);
  const cert = issued.objects.find((o) => o.kind === 'Certificate') as
    { spec: { ipAddresses?: string[]; dnsNames: string[] } } | undefined;
  assert.deepEqual(cert?.spec.ipAddresses, ['203.0.113.5']);
  assert.ok(cert?.spec.dnsNames.includes('lb.example.net'));
});
