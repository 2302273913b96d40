// End to end (issue 11, findings 8 and 9): what the operator does with the objects it owns when they go away or
// are no longer wanted. The node-cookie Secret deleted under a Ready cluster is never generated again (a new
// cookie would split the cluster): an operator that read it before puts it back as it was; one that never did
// holds, says so, and takes the Secret back once it is put back with the value the nodes run. A dashboard Service the spec disables is deleted, and comes back when enabled again.
// (Finding 5) Another field manager that force-applies its own value over a field the operator applies starts a
// write fight: the operator holds that object back, longer each time, and says so, while another cluster converges.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { example, getEmqx, listPods, patchEmqx, waitReady } from './support/emqx.ts';
import {
  readMetrics,
  startOperatorProcess,
  useOperatorSandbox,
  type OperatorProcess,
} from './support/operator.ts';

const sb = useOperatorSandbox({ timeScale: 10 });

async function events(ns: string, reason: string): Promise<any[]> {
  const list = await sb.api.get<{ items: any[] }>(`/apis/events.k8s.io/v1/namespaces/${ns}/events`);
  return list.items.filter((e) => e.reason === reason && e.regarding?.name === 'emqx');
}

async function getOrUndefined(path: string): Promise<any> {
  try {
    return await sb.api.get<any>(path);
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

async function passes(op: OperatorProcess): Promise<number> {
  return (await readMetrics(op))
    .filter((m) => m.name === 'emqx_operator_reconcile_total' && m.labels.kind === 'EMQX')
    .reduce((sum, m) => sum + m.value, 0);
}

async function readyCondition(ns: string) {
  return (await getEmqx(sb, ns))?.status?.conditions?.find((c) => c.type === 'Ready');
}

const podUids = async (ns: string) =>
  (await listPods(sb, ns)).map((p) => `${p.metadata.name}/${p.metadata.uid}`).sort();

describe('operator: owned objects', () => {
  it('the cookie Secret deleted under a Ready cluster: put back as it was, or (value unknown) no new cookie, a condition and an Event', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(example('minimal.yaml', ns));
    await waitReady(sb, ns);
    const path = `/api/v1/namespaces/${ns}/secrets/emqx-node-cookie`;
    const first = await sb.api.get<any>(path);
    const original = first.data.node_cookie as string;
    const cookie = Buffer.from(original, 'base64').toString('utf8');
    const pods = await podUids(ns);
    assert.equal(pods.length, 2);

    // 1. The operator read the Secret before: it puts it back with that value.
    await sb.api.delete(path);
    const restored = await sb.waitFor(
      'the cookie Secret created again',
      async () => {
        const s = await getOrUndefined(path);
        return s && s.metadata.uid !== first.metadata.uid ? s : undefined;
      },
      60_000,
    );
    assert.equal(restored.data.node_cookie, original, 'the same cookie');
    const said = await sb.waitFor(
      'a NodeCookieSecretRestored Event',
      async () => (await events(ns, 'NodeCookieSecretRestored'))[0],
      30_000,
    );
    assert.ok(!said.note.includes(cookie), 'the cookie is not in the Event');
    await waitReady(sb, ns, 'emqx', 60_000);

    // 2. A new operator process (it never read the Secret) finds it gone under running pods: it holds.
    await sb.operator.stop();
    await sb.api.delete(path);
    sb.operator = startOperatorProcess(sb.sandbox, { name: 'operator-without-memory', logLevel: 'debug' });
    const held = await sb.waitFor(
      'Ready False with reason NodeCookieSecretMissing',
      async () => {
        const e = await getEmqx(sb, ns);
        const ready = e?.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.reason === 'NodeCookieSecretMissing' ? ready : undefined;
      },
      90_000,
    );
    assert.equal(held.status, 'False');
    assert.match(held.message, /Secret emqx-node-cookie .*is missing while the cluster's pods run/);
    // several passes later the operator still has not made a cookie of its own
    const seen = await passes(sb.operator);
    await sb.waitFor(
      'two more reconcile passes',
      async () => (await passes(sb.operator)) >= seen + 2,
      60_000,
    );
    assert.equal(await getOrUndefined(path), undefined, 'the operator did not create a new cookie Secret');
    const warned = await sb.waitFor(
      'a NodeCookieSecretMissing Event',
      async () => (await events(ns, 'NodeCookieSecretMissing'))[0],
      30_000,
    );
    assert.equal(warned.type, 'Warning');
    assert.match(warned.note, /Secret emqx-node-cookie/);
    assert.ok(!JSON.stringify(await getEmqx(sb, ns)).includes(cookie), 'the cookie is not in the status');
    assert.ok(!warned.note.includes(cookie), 'nor in the Event');
    assert.deepEqual(await podUids(ns), pods, 'no pod was replaced');

    // Put back by hand, as the message says (no operator labels): read from the API server, and adopted unchanged.
    await sb.api.post(`/api/v1/namespaces/${ns}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'emqx-node-cookie' },
      data: { node_cookie: original },
    });
    await waitReady(sb, ns, 'emqx', 60_000);
    const adopted = await sb.waitFor(
      'the restored Secret carries the operator labels',
      async () => {
        const s = await sb.api.get<any>(path);
        return s.metadata.labels?.['apps.emqx.io/managed-by'] === 'emqx-operator' ? s : undefined;
      },
      30_000,
    );
    assert.equal(adopted.data.node_cookie, original, 'the cookie is the one the nodes run with');
    assert.deepEqual(await podUids(ns), pods, 'still no pod replaced');
  });

  it("a cookie Secret of the user's made before the resource: the new cluster uses it, never overwrites it", async (t) => {
    const ns = await sb.newNamespace(t);
    // no operator labels: the cache never sees it, and a new cluster's first pass does not read key Secrets from the
    // API server; its create-only write is refused (409), and the next pass reads the Secret and adopts it
    const mine = Buffer.from('my-own-cookie-value', 'utf8').toString('base64');
    const refused = async () =>
      (await readMetrics(sb.operator))
        .filter(
          (m) =>
            m.name === 'emqx_operator_kube_requests_total' &&
            m.labels.method === 'PATCH' &&
            m.labels.code === '409',
        )
        .reduce((sum, m) => sum + m.value, 0);
    const { n: refusedBefore } = await sb.waitFor(
      "the operator's metrics",
      async () => {
        try {
          return { n: await refused() };
        } catch {
          return undefined; // not serving them yet
        }
      },
      30_000,
    );
    await sb.api.post(`/api/v1/namespaces/${ns}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'emqx-node-cookie' },
      data: { node_cookie: mine },
    });
    await sb.apply(example('minimal.yaml', ns));
    await waitReady(sb, ns);
    const adopted = await sb.waitFor(
      'the Secret carries the operator labels',
      async () => {
        const s = await sb.api.get<any>(`/api/v1/namespaces/${ns}/secrets/emqx-node-cookie`);
        return s.metadata.labels?.['apps.emqx.io/managed-by'] === 'emqx-operator' ? s : undefined;
      },
      30_000,
    );
    assert.equal(adopted.data.node_cookie, mine, 'the cookie is the one the user made');
    // the API server refused the create-only write (the path under test was taken, and did not overwrite)
    assert.ok((await refused()) > refusedBefore, 'a PATCH answered 409');
    assert.deepEqual(await events(ns, 'ReconcileFailed'), [], 'the refused create-only write is no failure');
    // the API key Secret was not there: created once, create-only, and kept
    const key = await sb.api.get<any>(`/api/v1/namespaces/${ns}/secrets/emqx-bootstrap-api-key`);
    assert.equal(key.metadata.labels?.['apps.emqx.io/managed-by'], 'emqx-operator');
  });

  it('a disabled dashboard Service is deleted, and comes back once enabled', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(example('minimal.yaml', ns));
    await waitReady(sb, ns);
    const path = `/api/v1/namespaces/${ns}/services/emqx-dashboard`;
    const before = await sb.api.get<any>(path);
    // a Service of the user's in the same namespace, labelled like the operator's, is never touched
    await sb.apply(
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          name: 'emqx-listeners-copy',
          labels: { 'apps.emqx.io/managed-by': 'emqx-operator', 'apps.emqx.io/instance': 'emqx' },
        },
        spec: { ports: [{ name: 'x', port: 1 }] },
      },
      ns,
    );

    await patchEmqx(sb, ns, { spec: { dashboardServiceTemplate: { enabled: false } } });
    await sb.waitFor('the dashboard Service is gone', async () => !(await getOrUndefined(path)), 60_000);
    await waitReady(sb, ns, 'emqx', 60_000);
    const deleted = await sb.waitFor('a Deleted Event', async () => (await events(ns, 'Deleted'))[0], 30_000);
    assert.match(
      deleted.note,
      /Service emqx-dashboard deleted: spec.dashboardServiceTemplate.enabled is false/,
    );
    assert.ok(await getOrUndefined(`/api/v1/namespaces/${ns}/services/emqx-listeners`), 'listeners kept');
    assert.ok(
      await getOrUndefined(`/api/v1/namespaces/${ns}/services/emqx-listeners-copy`),
      'user Service kept',
    );

    await patchEmqx(sb, ns, { spec: { dashboardServiceTemplate: { enabled: true } } });
    const back = await sb.waitFor('the dashboard Service is back', () => getOrUndefined(path), 60_000);
    assert.notEqual(back.metadata.uid, before.metadata.uid, 'a new Service');
    assert.deepEqual(
      back.spec.ports.map((p: any) => `${p.name}:${p.port}`),
      before.spec.ports.map((p: any) => `${p.name}:${p.port}`),
    );
  });

  it('a field fought over by another field manager: the object is held back, longer each time, Ready names it; another cluster converges', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(example('minimal.yaml', ns));
    await waitReady(sb, ns);
    const path = `/api/v1/namespaces/${ns}/configmaps/emqx-configs`;
    const ours = (await sb.api.get<any>(path)).data['emqx.conf'] as string;
    const theirs = `${ours}\n# written by the fighter\n`;
    // The other writer: whenever the field is not its value, it force-applies it back (what a controller that
    // owns the same field, or a mutating webhook, amounts to). Each time it finds the operator's value counts.
    let stop = false;
    let writtenBack = 0;
    const fighter = (async () => {
      while (!stop) {
        const cm = await sb.api.get<any>(path);
        if (cm.data['emqx.conf'] !== theirs) {
          if (cm.data['emqx.conf'] === ours) writtenBack++;
          await sb.api.patch(
            `${path}?fieldManager=fighter&force=true`,
            {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name: 'emqx-configs' },
              data: { 'emqx.conf': theirs },
            },
            'application/apply-patch+yaml',
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const started = Date.now();
    t.after(async () => {
      stop = true;
      await fighter;
      t.diagnostic(`the operator wrote the field back ${writtenBack} times in ${Date.now() - started} ms`);
    });

    const first = await sb.waitFor(
      'Ready False with reason WriteConflict',
      async () => {
        const c = await readyCondition(ns);
        return c?.reason === 'WriteConflict' ? c : undefined;
      },
      60_000,
    );
    const atFirst = writtenBack;
    assert.equal(first.status, 'False');
    assert.match(
      first.message,
      /^ConfigMap\/emqx-configs: field data\[emqx\.conf\] is changed back by field manager "fighter" .*not written again for 10 s.*\(hold 1\)$/,
    );
    assert.ok(!first.message.includes('written by the fighter'), 'no value in the message');
    const warned = await sb.waitFor(
      'a WriteConflict Event',
      async () => (await events(ns, 'WriteConflict'))[0],
      30_000,
    );
    assert.equal(warned.type, 'Warning');

    // Another cluster under the same operator converges meanwhile.
    const other = await sb.newNamespace(t, 'other');
    await sb.apply(example('minimal.yaml', other));
    await waitReady(sb, other, 'emqx', 120_000);

    // The fight goes on: the hold doubles, and the operator wrote the field back only a couple of times meanwhile
    // (the write that restores its value when a hold ends, and the one the other side undid) — not once per pass.
    const second = await sb.waitFor(
      'the hold doubled',
      async () => {
        const c = await readyCondition(ns);
        return c?.reason === 'WriteConflict' && /\(hold [2-9]\)$/.test(c.message) ? c : undefined;
      },
      90_000,
    );
    assert.match(second.message, /not written again for (20|40) s/);
    assert.ok(
      writtenBack - atFirst <= 4,
      `the operator wrote the field back ${writtenBack - atFirst} times between hold 1 and hold 2 (at most 4 expected)`,
    );
    assert.ok(atFirst <= 4, `written back ${atFirst} times before the first hold (at most 4 expected)`);

    // The other side stops: once the hold ends the operator writes its value once, and Ready comes back.
    stop = true;
    await fighter;
    await waitReady(sb, ns, 'emqx', 120_000);
    assert.equal((await sb.api.get<any>(path)).data['emqx.conf'], ours, 'the operator value is back');
  });
});
