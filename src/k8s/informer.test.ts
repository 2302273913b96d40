// The informer against a local fake API server that serves a list and a streaming watch and can fail on demand.
// (Against a real kube-apiserver: test/runtime.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { serveLocalApi } from '../../test/support/local-api.ts';
import { waitFor } from '../../test/support/wait-for.ts';
import { createLogger } from '../observability/logger.ts';
import { Informer, objectKey } from './informer.ts';
import { KubeClient, type KubeObject } from './rest.ts';

const cm = (name: string, rv: number, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', resourceVersion: String(rv) },
  data,
});

async function fakeServer() {
  const state = {
    items: [cm('a', 1)] as KubeObject[],
    rv: 1,
    lists: 0,
    watches: [] as string[], // resourceVersion each watch started from
    openWatches: 0,
    maxOpenWatches: 0,
    failWatches: 0, // answer the next N watch requests with 500
    goneNext: false, // answer the next watch with 410
    labelSelectors: [] as Array<string | null>,
    listDelayMs: 0, // answer lists this late
    watchDelayMs: 0, // send a watch's response headers this late
    delayedOpens: 0, // delayed watch answers due so far (sent or not: the client may have gone)
  };
  let current: http.ServerResponse | undefined;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/api/v1/namespaces/ns/configmaps') {
      res.writeHead(404).end();
      return;
    }
    state.labelSelectors.push(url.searchParams.get('labelSelector'));
    if (url.searchParams.get('watch') !== 'true') {
      state.lists++;
      const body = JSON.stringify({
        kind: 'ConfigMapList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(state.rv) },
        // list items carry no apiVersion/kind, as from a real server
        items: state.items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest),
      });
      if (state.listDelayMs > 0) {
        setTimeout(
          () => res.writeHead(200, { 'Content-Type': 'application/json' }).end(body),
          state.listDelayMs,
        );
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(body);
      return;
    }
    state.watches.push(url.searchParams.get('resourceVersion') ?? '');
    if (state.failWatches > 0) {
      state.failWatches--;
      res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"kind":"Status","code":500}');
      return;
    }
    if (state.goneNext) {
      state.goneNext = false;
      res.writeHead(410, { 'Content-Type': 'application/json' }).end('{"kind":"Status","code":410}');
      return;
    }
    const open = () => {
      state.delayedOpens++;
      if (res.destroyed) return;
      state.openWatches++;
      state.maxOpenWatches = Math.max(state.maxOpenWatches, state.openWatches);
      res.on('close', () => state.openWatches--);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      current = res;
    };
    if (state.watchDelayMs > 0) setTimeout(open, state.watchDelayMs);
    else open();
  });
  const kc = await serveLocalApi(server);
  return {
    kc,
    state,
    hasWatch: () => current !== undefined && !current.destroyed && !current.writableEnded,
    event(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KubeObject) {
      state.rv = Number(obj.metadata?.resourceVersion);
      const i = state.items.findIndex((o) => o.metadata?.name === obj.metadata?.name);
      if (type === 'DELETED') state.items.splice(i, 1);
      else if (i >= 0) state.items[i] = obj;
      else state.items.push(obj);
      current?.write(JSON.stringify({ type, object: obj }) + '\n');
    },
    breakWatch() {
      current?.socket?.destroy();
      current = undefined;
    },
  };
}

test(
  'informer: cache, handlers with the old object, restart with backoff after errors, relist after 410',
  { timeout: 20_000 },
  async () => {
    const srv = await fakeServer();
    const logLines: string[] = [];
    const inf = new Informer(new KubeClient(srv.kc), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'ns',
      labelSelector: 'app=emqx',
      initialBackoffMs: 30,
      maxBackoffMs: 200,
      logger: createLogger({ level: 'debug', sink: (l) => logLines.push(l) }),
    });
    const events: string[] = [];
    inf.onAdd((o) => events.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`));
    inf.onUpdate((o, old) =>
      events.push(
        `update ${o.metadata?.name}@${o.metadata?.resourceVersion} was ${old?.metadata?.resourceVersion}`,
      ),
    );
    inf.onDelete((o) => events.push(`delete ${o.metadata?.name}`));
    const errors: unknown[] = [];
    inf.onError((e) => errors.push(e));

    assert.equal(inf.hasSynced(), false);
    await inf.start();
    await inf.synced;
    assert.equal(inf.hasSynced(), true);
    assert.deepEqual(
      inf.list().map((o) => objectKey(o)),
      ['ns/a'],
    );
    assert.equal(inf.get('ns', 'a')?.kind, 'ConfigMap', 'listed items get apiVersion/kind');
    assert.ok(
      srv.state.labelSelectors.every((s) => s === 'app=emqx'),
      'label selector on list and watch',
    );

    await waitFor('the watch', srv.hasWatch);
    srv.event('ADDED', cm('b', 2));
    srv.event('MODIFIED', cm('a', 3, { k: 'v' }));
    srv.event('DELETED', cm('b', 4));
    await waitFor('three events', () => events.length === 4);
    assert.deepEqual(events, ['add a@1', 'add b@2', 'update a@3 was 1', 'delete b']);
    assert.deepEqual(inf.get('ns', 'a')?.data, { k: 'v' });

    // a broken watch followed by failing watches: client-node stops on these; ours restarts with backoff
    srv.state.failWatches = 3;
    srv.breakWatch();
    await waitFor('a restarted watch', () => inf.restarts >= 1 && srv.hasWatch(), 5000);
    assert.ok(errors.length >= 1);
    assert.equal(srv.state.maxOpenWatches, 1, 'restarts never overlap');
    assert.equal(srv.state.lists, 1, 'resumes from the last resourceVersion without a relist');
    assert.equal(srv.state.watches.at(-1), '4');
    assert.ok(logLines.some((l) => l.includes('informer restarting')));

    srv.event('MODIFIED', cm('a', 5, { k: 'v2' }));
    await waitFor('update after restart', () => events.length === 5);
    assert.equal(events[4], 'update a@5 was 3');

    // 410 Gone: relist, objects that vanished meanwhile are deleted from the cache
    srv.state.items = [cm('c', 9)];
    srv.state.rv = 9;
    srv.state.goneNext = true;
    srv.breakWatch();
    await waitFor('relist after 410', () => srv.state.lists === 2 && srv.hasWatch(), 5000);
    await waitFor('cache replaced', () => inf.list().length === 1 && inf.get('ns', 'c') !== undefined);
    assert.ok(events.includes('delete a'));
    assert.ok(events.includes('add c@9'));

    await inf.stop();
    await waitFor('watch closed', () => srv.state.openWatches === 0);
    const watchesAtStop = srv.state.watches.length;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(srv.state.watches.length, watchesAtStop, 'no restarts after stop');
  },
);

test('informer: a failing first list is retried until it succeeds', { timeout: 10_000 }, async () => {
  const srv = await fakeServer();
  const kc = srv.kc;
  let failLists = 2;
  const client = new KubeClient(kc);
  const realList = client.list.bind(client);
  client.list = (async (...args: Parameters<KubeClient['list']>) => {
    if (failLists > 0) {
      failLists--;
      throw new Error('connection refused');
    }
    return realList(...args);
  }) as KubeClient['list'];
  const inf = new Informer(client, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: 'ns',
    initialBackoffMs: 10,
  });
  await inf.start();
  await inf.synced;
  assert.equal(inf.restarts, 2);
  assert.equal(inf.list().length, 1);
  await inf.stop();
});

test('informer: stop() while a watch is being opened leaves no watch open', { timeout: 10_000 }, async () => {
  const srv = await fakeServer();
  srv.state.watchDelayMs = 300;
  const inf = new Informer(new KubeClient(srv.kc), { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns' });
  const started = inf.start();
  await waitFor('the watch request', () => srv.state.watches.length === 1);
  await inf.stop(); // the response headers are still 300 ms away
  await started;
  await waitFor('the delayed answer to be due', () => srv.state.delayedOpens === 1, 2000);
  // the request was aborted (the server found it gone) or, had the headers come first, closed at once
  await waitFor('watch closed', () => srv.state.openWatches === 0, 2000);
  assert.equal(srv.state.watches.length, 1);
});

test('informer: stop() while a restart relists opens no watch afterwards', { timeout: 10_000 }, async () => {
  const srv = await fakeServer();
  const inf = new Informer(new KubeClient(srv.kc), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: 'ns',
    initialBackoffMs: 10,
  });
  await inf.start();
  await inf.synced;
  await waitFor('the watch', srv.hasWatch);
  // the watch breaks; the restart's watch gets 410 and relists, slowly
  srv.state.goneNext = true;
  srv.state.listDelayMs = 300;
  srv.breakWatch();
  await waitFor('the relist', () => srv.state.lists === 2);
  const watches = srv.state.watches.length;
  await inf.stop();
  // give the list time to arrive and ListWatch time to try its next watch
  await waitFor('the relist answered', () => inf.list().length === 1, 2000);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(srv.state.watches.length, watches, 'no watch is requested after stop()');
  assert.equal(srv.state.openWatches, 0);
});
