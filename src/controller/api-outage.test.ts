import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dsWorld, NEW, NOW, world } from '../../test/support/world.ts';
import type { EMQXStatus } from '../api/types.ts';
import {
  apiFailureOf,
  apiOutageVerdict,
  REASON_API_FAILED,
  REASON_API_RECOVERED,
  type ApiOutage,
  type ApiOutageInput,
  type ApiOutageOptions,
  type ApiOutageVerdict,
} from './api-outage.ts';
import { plan } from './plan.ts';
import { statusChanged } from './status.ts';

const OPTS: ApiOutageOptions = { graceMs: 15_000, retryMs: 5_000 };
const FAILED: ApiOutageInput = { error: 'timed out', readFailed: true, wasReady: true };
const OK: ApiOutageInput = { readFailed: false, wasReady: true };

/** Feeds one pass per [second, input]; returns the verdict of each. */
function run(steps: Array<[number, ApiOutageInput]>, start?: ApiOutage): ApiOutageVerdict[] {
  const out: ApiOutageVerdict[] = [];
  let memo = start;
  for (const [sec, input] of steps) {
    const v = apiOutageVerdict(memo, input, sec * 1000, OPTS);
    memo = v.next;
    out.push(v);
  }
  return out;
}

const hidden = (vs: ApiOutageVerdict[]) => vs.map((v) => v.hidden);
const events = (vs: ApiOutageVerdict[]) =>
  vs.map((v) => (v.event ? `${v.event.type} ${v.event.reason}` : '-'));

test('api outage: the first failure on a Ready cluster is silent and looked at again soon', () => {
  const [v] = run([[100, FAILED]]);
  assert.equal(v!.hidden, true);
  assert.equal(v!.event, undefined);
  assert.equal(v!.retryMs, 5_000);
  assert.deepEqual(v!.next, { since: 100_000, reported: false, announced: false });
});

test('api outage: a blip (failed, then answered within the grace) is never reported, nor its end', () => {
  const vs = run([
    [0, FAILED],
    [5, FAILED],
    [10, OK],
    [40, OK],
  ]);
  assert.deepEqual(hidden(vs), [true, true, false, false]);
  assert.deepEqual(events(vs), ['-', '-', '-', '-']);
  assert.equal(vs[2]!.next, undefined, 'forgotten once EMQX answers');
});

test('api outage: a failure lasting the grace is reported once (condition and one Warning), then kept quiet', () => {
  const vs = run([
    [0, FAILED],
    [5, FAILED],
    [10, FAILED],
    [15, FAILED],
    [20, FAILED],
    [50, FAILED],
  ]);
  assert.deepEqual(hidden(vs), [true, true, true, false, false, false]);
  assert.deepEqual(events(vs), ['-', '-', '-', `Warning ${REASON_API_FAILED}`, '-', '-']);
  assert.equal(vs[3]!.event!.message, 'EMQX API: timed out (failing for 15 s)');
  assert.equal(vs[3]!.retryMs, undefined, 'the ordinary interval once reported');
  // the last look within the grace is not later than the grace's end
  assert.equal(
    run([
      [0, FAILED],
      [12, FAILED],
    ])[1]!.retryMs,
    3_000,
  );
});

test('api outage: the end of a reported outage is announced once', () => {
  const vs = run([
    [0, FAILED],
    [16, FAILED],
    [46, OK],
    [76, OK],
  ]);
  assert.deepEqual(events(vs), ['-', `Warning ${REASON_API_FAILED}`, `Normal ${REASON_API_RECOVERED}`, '-']);
  assert.equal(vs[2]!.event!.message, 'the EMQX API answers again (it failed for 46 s)');
  assert.equal(vs[2]!.next, undefined);
});

test('api outage: a cluster that is not Ready reports at once', () => {
  const notReady = { ...FAILED, wasReady: false };
  const vs = run([
    [0, notReady],
    [5, notReady],
    [10, OK],
  ]);
  assert.deepEqual(hidden(vs), [false, false, false]);
  assert.deepEqual(events(vs), [`Warning ${REASON_API_FAILED}`, '-', `Normal ${REASON_API_RECOVERED}`]);
  assert.equal(vs[0]!.event!.message, 'EMQX API: timed out');
  assert.equal(vs[0]!.retryMs, undefined);
});

test('api outage: no ready core to ask is reported in the status without a Warning; a later failed read is announced', () => {
  const noCore: ApiOutageInput = { error: 'no ready core', readFailed: false, wasReady: false };
  const vs = run([
    [0, noCore],
    [5, noCore],
    [10, { ...FAILED, wasReady: false }],
    [15, OK],
  ]);
  assert.deepEqual(hidden(vs), [false, false, false, false]);
  assert.deepEqual(events(vs), ['-', '-', `Warning ${REASON_API_FAILED}`, `Normal ${REASON_API_RECOVERED}`]);
  // an outage that was only in the status ends without an Event
  assert.deepEqual(
    events(
      run([
        [0, noCore],
        [5, OK],
      ]),
    ),
    ['-', '-'],
  );
});

test('api outage: a reported outage stays reported even if Ready flips meanwhile', () => {
  const vs = run([
    [0, FAILED],
    [15, FAILED],
    [20, FAILED], // Ready was True in the status written at 15 s
  ]);
  assert.deepEqual(hidden(vs), [true, false, false]);
});

// The plan: a hidden failure leaves the status as it was (no write) and says nothing; a reported one puts it in the
// conditions and records the Warning.
const cluster = {
  cores: [
    { name: 'emqx-core-0', rev: NEW },
    { name: 'emqx-core-1', rev: NEW },
  ],
};
const readyStatus = plan(world(cluster), NOW).status;

test('plan: an EMQX API failure within its grace changes no status and records no Event', () => {
  assert.equal(readyStatus.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
  const s = world({ ...cluster, api: false, previousStatus: readyStatus });
  const verdict = apiOutageVerdict(
    undefined,
    { error: s.apiError!, readFailed: true, wasReady: true },
    0,
    OPTS,
  );
  const p = plan(s, NOW, { apiOutage: verdict });
  assert.equal(statusChanged(readyStatus, p.status), false, 'no status write');
  assert.deepEqual(p.events, []);
  assert.deepEqual(p.statusEvents, []);
  assert.equal(p.requeueAfterMs, 5_000, 'looked at again within the retry interval');
  // without the grace (the previous behaviour) the same pass writes the status
  const reported = plan(s, NOW, {
    apiOutage: apiOutageVerdict(
      { since: 0, reported: false, announced: false },
      { error: s.apiError!, readFailed: true, wasReady: true },
      15_000,
      OPTS,
    ),
  });
  assert.equal(statusChanged(readyStatus, reported.status), true);
  const core = reported.status.conditions!.find((c) => c.type === 'CoreNodesReady')!;
  assert.match(core.message, /EMQX API unusable \(no answer\): node states from Kubernetes only/);
  assert.deepEqual(
    reported.events.map((e) => [e.type, e.reason, e.message]),
    [['Warning', REASON_API_FAILED, 'EMQX API: no answer (failing for 15 s)']],
  );
  assert.ok(reported.requeueAfterMs > 5_000, 'the ordinary Ready interval');
});

test('plan: the recovery Event of a reported outage is recorded once', () => {
  const p = plan(world({ ...cluster, previousStatus: readyStatus }), NOW, {
    apiOutage: apiOutageVerdict({ since: 0, reported: true, announced: true }, OK, 30_000, OPTS),
  });
  assert.deepEqual(
    p.events.map((e) => [e.type, e.reason]),
    [['Normal', REASON_API_RECOVERED]],
  );
});

// Durable storage is read through the same API: within the grace its condition keeps the value last written (not
// Unknown, which would cost a status write and a Warning now, and a write and a Normal Event on the next good pass).
const dsCluster = {
  ...cluster,
  ds: dsWorld({ sites: { 'emqx-core-0': 'S0', 'emqx-core-1': 'S1' }, shards: [['S0', 'S1']] }),
};
const dsReady = plan(world(dsCluster), NOW).status;
const dsCondition = (st: EMQXStatus) => st.conditions!.find((c) => c.type === 'DurableStorage')!;
const readyOf = (st: EMQXStatus) => st.conditions!.find((c) => c.type === 'Ready')!.status;

test('plan: within the grace, the DurableStorage condition keeps its last value (no write, no Event)', () => {
  assert.deepEqual(
    [dsCondition(dsReady).status, dsCondition(dsReady).reason, readyOf(dsReady)],
    ['True', 'Replicated', 'True'],
  );
  const s = world({
    ...dsCluster,
    api: false,
    ds: dsWorld({ sites: {}, shards: [], readable: false }),
    previousStatus: dsReady,
  });
  const input = { error: s.apiError!, readFailed: true, wasReady: true };
  const p = plan(s, NOW, { apiOutage: apiOutageVerdict(undefined, input, 0, OPTS) });
  assert.deepEqual(dsCondition(p.status), dsCondition(dsReady));
  assert.equal(statusChanged(dsReady, p.status), false, 'no status write');
  assert.deepEqual([...p.events, ...p.statusEvents], []);
  // once the outage counts, durable storage shows as unknown with the rest
  const reported = plan(s, NOW, {
    apiOutage: apiOutageVerdict({ since: 0, reported: false, announced: false }, input, 15_000, OPTS),
  });
  assert.deepEqual(
    [dsCondition(reported.status).status, dsCondition(reported.status).reason],
    ['Unknown', 'DurableStorageUnknown'],
  );
  assert.ok(reported.statusEvents.some((e) => e.reason === 'DurableStorageUnknown'));
});

test('apiFailureOf: the node list failure, else an unreadable /ds, never while paused', () => {
  const ds = dsWorld({ sites: {}, shards: [], readable: false });
  const readable = dsWorld({ sites: { 'emqx-core-0': 'S0' }, shards: [['S0']] });
  assert.equal(apiFailureOf({ paused: false, apiError: 'timed out', ds }), 'timed out');
  assert.equal(apiFailureOf({ paused: false, ds }), 'no answer');
  assert.equal(apiFailureOf({ paused: false, ds: readable }), undefined);
  assert.equal(
    apiFailureOf({ paused: false, ds: { ...ds, active: false } }),
    undefined,
    'disabled is an answer',
  );
  assert.equal(apiFailureOf({ paused: false }), undefined);
  assert.equal(apiFailureOf({ paused: true, ds }), undefined);
});

test('plan: /ds alone failing on a Ready cluster gets the same grace (the node list was read)', () => {
  const s = world({
    ...dsCluster,
    ds: dsWorld({ sites: {}, shards: [], readable: false }),
    previousStatus: dsReady,
  });
  const input = { error: apiFailureOf(s)!, readFailed: false, wasReady: true };
  const hiddenPass = plan(s, NOW, { apiOutage: apiOutageVerdict(undefined, input, 0, OPTS) });
  assert.equal(statusChanged(dsReady, hiddenPass.status), false, 'no status write');
  assert.deepEqual([...hiddenPass.events, ...hiddenPass.statusEvents], []);
  assert.equal(hiddenPass.requeueAfterMs, 5_000);
  const reported = plan(s, NOW, {
    apiOutage: apiOutageVerdict({ since: 0, reported: false, announced: false }, input, 15_000, OPTS),
  });
  assert.equal(dsCondition(reported.status).status, 'Unknown');
  assert.deepEqual(
    [...reported.events, ...reported.statusEvents].map((e) => e.reason),
    ['DurableStorageUnknown'],
    'no FailedToGetNodeStatuses: the node list was read',
  );
});
