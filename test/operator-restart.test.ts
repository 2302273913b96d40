// End to end: an operator restart over a Ready, unchanged fleet writes nothing but its Lease. A few clusters
// (two 2-core ones and one 2 cores + 3 replicants) are made Ready by one operator process; it is stopped and a
// new one started; once the new process reconciled every resource (its work queue empty after at least one
// successful pass per resource, from its /metrics), it must have written no status, no Event and no object.
// What changed is listed in the failure message (status fields, Events, objects' resourceVersions), so a
// regression says which write came back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '../sandbox/cluster/ports.ts';
import type { EMQX } from '../src/api/types.ts';
import {
  counterDelta,
  kubeWrites,
  readMetrics,
  startOperatorProcess,
  useOperatorSandbox,
  type OperatorProcess,
} from './support/operator.ts';
import { example, getEmqx, waitConverged } from './support/emqx.ts';

// Both processes serve the conversion webhook on one address, as replicas behind one Service do: the CRD's
// registration stays as it is (a new port would be a real change).
const webhookPort = await freePort();
const operatorArgs = ['--webhook-bind-address', `127.0.0.1:${webhookPort}`];
const sb = useOperatorSandbox({ timeScale: 10, operatorArgs });

/** Writes other than the leader-election Lease, by `verb/kind`. */
async function writesButLease(op: OperatorProcess): Promise<Record<string, number>> {
  return Object.fromEntries(Object.entries(await kubeWrites(op)).filter(([k]) => !k.endsWith('/Lease')));
}

/** Successful EMQX passes, and the work queue's waiting and running keys. */
async function queueState(op: OperatorProcess): Promise<{ passes: number; errors: number; busy: number }> {
  let passes = 0;
  let errors = 0;
  let busy = 0;
  for (const s of await readMetrics(op)) {
    if (s.name === 'emqx_operator_reconcile_total' && s.labels.kind === 'EMQX') {
      if (s.labels.result === 'success') passes += s.value;
      if (s.labels.result === 'error') errors += s.value;
    }
    if (s.name === 'emqx_operator_workqueue_depth' || s.name === 'emqx_operator_workqueue_inflight')
      busy += s.value;
  }
  return { passes, errors, busy };
}

const CHILD_LISTS = [
  '/apis/apps/v1/namespaces/NS/statefulsets',
  '/apis/apps/v1/namespaces/NS/replicasets',
  '/api/v1/namespaces/NS/services',
  '/api/v1/namespaces/NS/configmaps',
  '/api/v1/namespaces/NS/secrets',
  '/apis/policy/v1/namespaces/NS/poddisruptionbudgets',
  '/api/v1/namespaces/NS/pods',
];

interface State {
  status: Record<string, string>;
  events: Record<string, string>;
  objects: Record<string, string>;
}

/** What the operator may write, per namespace: the EMQX status, the Events, the children (resourceVersions). */
async function stateOf(namespaces: string[]): Promise<State> {
  const out: State = { status: {}, events: {}, objects: {} };
  for (const ns of namespaces) {
    const e = (await getEmqx(sb, ns)) as EMQX;
    out.status[ns] = JSON.stringify(e.status);
    const events = (await sb.api.get(`/apis/events.k8s.io/v1/namespaces/${ns}/events`)) as { items: any[] };
    for (const ev of events.items)
      out.events[`${ns}/${ev.metadata.name}`] = `${ev.reason} x${ev.series?.count ?? 1}: ${ev.note}`;
    for (const list of CHILD_LISTS) {
      const items = ((await sb.api.get(list.replace('NS', ns))) as { items: any[] }).items;
      for (const o of items)
        out.objects[`${ns}/${list.split('/').at(-1)}/${o.metadata.name}`] = o.metadata.resourceVersion;
    }
  }
  return out;
}

/** The differences between two states, one line each. */
function changes(a: State, b: State): string[] {
  const out: string[] = [];
  for (const ns of Object.keys(b.status)) {
    if (a.status[ns] === b.status[ns]) continue;
    const sa = JSON.parse(a.status[ns]!) as Record<string, unknown>;
    const sb2 = JSON.parse(b.status[ns]!) as Record<string, unknown>;
    for (const k of new Set([...Object.keys(sa), ...Object.keys(sb2)]))
      if (JSON.stringify(sa[k]) !== JSON.stringify(sb2[k]))
        out.push(`${ns} status.${k}: ${JSON.stringify(sa[k])} → ${JSON.stringify(sb2[k])}`);
  }
  for (const [k, v] of Object.entries(b.events)) if (a.events[k] !== v) out.push(`Event ${k}: ${v}`);
  for (const [k, v] of Object.entries(b.objects))
    if (a.objects[k] !== v) out.push(`${k}: resourceVersion ${a.objects[k]} → ${v}`);
  return out;
}

describe('operator: restart over a Ready fleet', () => {
  it('a new operator process reconciles every resource and writes nothing but its Lease', async (t) => {
    const fleet: Array<{ ns: string; file: string; cores: number; replicants: number }> = [];
    for (const [file, cores, replicants] of [
      ['minimal.yaml', 2, 0],
      ['minimal.yaml', 2, 0],
      ['core-replicant.yaml', 2, 3],
    ] as const)
      fleet.push({ ns: await sb.newNamespace(t, 'restart'), file, cores, replicants });
    for (const c of fleet) await sb.apply(example(c.file, c.ns));
    for (const c of fleet) await waitConverged(sb, c.ns, c, 180_000);

    // The first process is done: every cluster Ready and its queue quiet, no write for a few seconds.
    const first = sb.operator;
    let last = JSON.stringify(await writesButLease(first));
    let quietSince = Date.now();
    await sb.waitFor(
      'the first operator to stop writing (queue idle, no write but the Lease for 5 s)',
      async () => {
        const now = JSON.stringify(await writesButLease(first));
        if (now !== last || (await queueState(first)).busy > 0) {
          last = now;
          quietSince = Date.now();
        }
        return Date.now() - quietSince >= 5000;
      },
      120_000,
      500,
    );
    const namespaces = fleet.map((c) => c.ns);
    const before = await stateOf(namespaces);
    await first.stop();

    const second = startOperatorProcess(sb.sandbox, {
      name: 'operator-restarted',
      args: operatorArgs,
      logLevel: 'debug',
    });
    sb.operator = second;
    // Every resource was taken by a worker at least once: the first keys are all queued when the controllers
    // start, so a queue with nothing waiting or running after N successful passes has run each of them.
    await sb.waitFor(
      `the new operator to reconcile all ${fleet.length} resources`,
      async () => {
        if (!second.healthUrl()) return false;
        const q = await queueState(second).catch(() => undefined);
        return q !== undefined && q.passes >= fleet.length && q.busy === 0 ? q : false;
      },
      120_000,
      200,
    );
    const q = await queueState(second);
    assert.equal(q.errors, 0, 'no failed pass');
    const writes = await writesButLease(second);
    const after = await stateOf(namespaces);
    const diff = changes(before, after);
    assert.deepEqual(
      { writes, changes: diff },
      { writes: {}, changes: [] },
      `the restart wrote:\n  ${diff.join('\n  ')}`,
    );
    assert.deepEqual(counterDelta({}, writes), {}, 'no write but the Lease');
  });
});
