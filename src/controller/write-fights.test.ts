import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NEW, NOW, world } from '../../test/support/world.ts';
import type { KubeObject } from '../k8s/rest.ts';
import type { OwnedKind } from './cache.ts';
import { plan } from './plan.ts';
import type { Snapshot } from './snapshot.ts';
import {
  activeHold,
  NO_FIGHT,
  recordWrites,
  writeHoldMessage,
  type FightOptions,
  type FightState,
  type ObjectWrite,
} from './write-fights.ts';

function withChild(s: Snapshot, kind: OwnedKind, obj: KubeObject): Snapshot {
  const children = new Map(s.children);
  children.set(kind, new Map([...(children.get(kind) ?? []), [obj.metadata!.name!, obj]]));
  return { ...s, children };
}

const OPTS: FightOptions = { threshold: 3, windowMs: 60_000, baseMs: 10_000, maxMs: 40_000 };
const cm = (desired = 'h1', fields = ['data.emqx.conf']): ObjectWrite => ({
  object: 'ConfigMap/emqx-configs',
  desired,
  fields,
  otherManagers: ['fighter'],
});

/** Feeds writes at the given seconds; returns the state after each. */
function run(steps: Array<[number, ObjectWrite[]]>, start: FightState = NO_FIGHT): FightState[] {
  const out: FightState[] = [];
  let s = start;
  for (const [sec, writes] of steps) {
    s = recordWrites(s, writes, sec * 1000, OPTS);
    out.push(s);
  }
  return out;
}

test('write fights: the same field written back three times with the same object is held, 10 s', () => {
  const states = run([
    [0, [cm()]],
    [1, [cm()]],
    [2, [cm()]],
  ]);
  assert.equal(states[1]!.fight, undefined);
  const f = states[2]!.fight!;
  assert.deepEqual(
    { object: f.object, field: f.field, level: f.level, writes: f.writes, until: f.until },
    { object: 'ConfigMap/emqx-configs', field: 'data.emqx.conf', level: 1, writes: 3, until: 12_000 },
  );
  assert.equal(activeHold(states[2], 11_999)?.object, 'ConfigMap/emqx-configs');
  assert.equal(activeHold(states[2], 12_000), undefined);
});

test('write fights: a spec edited three times (three different desired objects) is no fight', () => {
  const states = run([
    [0, [cm('h1')]],
    [1, [cm('h2')]],
    [2, [cm('h3')]],
  ]);
  assert.equal(states[2]!.fight, undefined);
});

test('write fights: writes spread beyond the window, or to different fields, are no fight', () => {
  assert.equal(
    run([
      [0, [cm()]],
      [40, [cm()]],
      [80, [cm()]],
    ])[2]!.fight,
    undefined,
  );
  assert.equal(
    run([
      [0, [cm('h', ['a'])]],
      [1, [cm('h', ['b'])]],
      [2, [cm('h', ['c'])]],
    ])[2]!.fight,
    undefined,
  );
});

test('write fights: going on after a hold doubles it, up to the maximum; the first write after a hold is expected', () => {
  const states = run([
    [0, [cm()]],
    [1, [cm()]],
    [2, [cm()]], // hold 1 until 12
    [12, [cm()]], // restores our value: not yet a new hold
    [13, [cm()]], // changed back again: hold 2, 20 s
    [33, [cm()]],
    [34, [cm()]], // hold 3: 40 s
    [74, [cm()]],
    [75, [cm()]], // hold 4: capped at 40 s
  ]);
  assert.equal(states[3]!.fight!.level, 1);
  assert.equal(states[3]!.fight!.resumedAt, 12_000);
  assert.deepEqual(
    [states[4]!, states[6]!, states[8]!].map((s) => [s.fight!.level, s.fight!.until - s.fight!.since]),
    [
      [2, 20_000],
      [3, 40_000],
      [4, 40_000],
    ],
  );
});

test('write fights: over once the other side stops (one write restores the value, then a quiet window)', () => {
  const states = run([
    [0, [cm()]],
    [1, [cm()]],
    [2, [cm()]],
    [12, [cm()]],
    [30, []],
    [73, []],
  ]);
  assert.equal(states[4]!.fight?.level, 1, 'kept while the window after the restoring write runs');
  assert.equal(states[5]!.fight, undefined);
  assert.equal(activeHold(states[4], 30_000), undefined, 'but nothing is held any more');
});

test('write fights: the message names the object, the field and the other writers, never a value', () => {
  const f = run([
    [0, [cm()]],
    [1, [cm()]],
    [2, [cm()]],
  ])[2]!.fight!;
  assert.equal(
    writeHoldMessage(f),
    'ConfigMap/emqx-configs: field data.emqx.conf is changed back by field manager "fighter" (or a mutating webhook) after every write (3 writes within the window); not written again for 10 s, until 1970-01-01T00:00:12Z (hold 1)',
  );
});

test('plan: a held object is not written, Ready names the fight, one Event per hold, and it comes back when the hold ends', () => {
  const s = world({
    cores: [
      { name: 'emqx-core-0', rev: NEW },
      { name: 'emqx-core-1', rev: NEW },
    ],
  });
  const t = NOW.getTime();
  const hold = {
    object: 'ConfigMap/emqx-configs',
    field: 'data.emqx.conf',
    otherManagers: ['fighter'],
    writes: 3,
    level: 1,
    since: t - 1000,
    until: t + 9000,
  };
  const p = plan(s, NOW, { writeHold: hold });
  assert.ok(!p.objects.some((o) => o.kind === 'ConfigMap'));
  assert.ok(
    p.objects.some((o) => o.kind === 'StatefulSet'),
    'every other object is still applied',
  );
  const ready = p.status.conditions!.find((c) => c.type === 'Ready')!;
  assert.equal(ready.status, 'False');
  assert.equal(ready.reason, 'WriteConflict');
  assert.match(ready.message, /^ConfigMap\/emqx-configs: field data.emqx.conf .*"fighter"/);
  assert.equal(p.events.filter((e) => e.reason === 'WriteConflict').length, 1);
  assert.ok(p.requeueAfterMs <= 9000);
  const again = plan({ ...s, previousStatus: p.status }, NOW, { writeHold: hold });
  assert.equal(again.events.filter((e) => e.reason === 'WriteConflict').length, 0);
  const escalated = plan({ ...s, previousStatus: p.status }, NOW, {
    writeHold: { ...hold, level: 2, until: t + 20_000 },
  });
  assert.equal(escalated.events.filter((e) => e.reason === 'WriteConflict').length, 1);
  // a held ConfigMap does not push its config either (the push is recorded on the ConfigMap)
  const changed = withChild(s, 'ConfigMap', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'emqx-configs', annotations: { 'apps.emqx.io/applied-config-hash': 'old' } },
  } as KubeObject);
  assert.ok(plan(changed, NOW).configPush, 'without a hold the config is pushed');
  assert.equal(plan(changed, NOW, { writeHold: hold }).configPush, undefined);
  const after = plan(s, new Date(t + 9000), { writeHold: hold });
  assert.ok(after.objects.some((o) => o.kind === 'ConfigMap'));
  assert.equal(after.status.conditions!.find((c) => c.type === 'Ready')!.reason, 'ClusterReady');
});
