// Cluster behaviour of emulated EMQX nodes (emqx-node-api.md §0, §3, §5): autocluster over DNS SRV, replicants,
// cookies, boot failures, the replicated database, leave/force_leave, autoclean, licences, partitions.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { BOOTSTRAP, HEADLESS, Testbed, api, nextIp, nodeName, runningNames, waitFor } from './testkit.ts';
import type { StartedNode } from './testkit.ts';
import { ManualClock } from './clock.ts';
import { getPath, parseHocon } from '../../src/hocon/index.ts';

// every test bounded in real time, so a regression cannot hang the run
const T = { timeout: 30_000 };

const core = (pod: string): string => `emqx@${pod}.${HEADLESS}`;

async function statusCode(url: string): Promise<number | 'refused'> {
  try {
    return (await fetch(`${url}/status`)).status;
  } catch {
    return 'refused';
  }
}

describe('cluster formation', () => {
  let tb: Testbed;
  beforeEach(() => {
    tb = new Testbed();
  });
  afterEach(() => tb.close());

  test(
    '3 cores discovered through DNS SRV form one cluster; every node sees the same members',
    T,
    async () => {
      const nodes = [
        await tb.core('emqx-core-0'),
        await tb.core('emqx-core-1'),
        await tb.core('emqx-core-2'),
      ];
      const expected = [core('emqx-core-0'), core('emqx-core-1'), core('emqx-core-2')];
      for (const n of nodes) {
        await waitFor(
          `${n.input.name} sees 3 nodes`,
          async () => (await runningNames(n)).join() === expected.join(),
        );
      }
      // the oldest node is the one the others joined; nobody joined anyone else
      assert.ok(nodes[1]!.logs.some((l) => l.includes(`joined ${core('emqx-core-0')}`)));
      assert.ok(!nodes[0]!.logs.some((l) => l.includes('autocluster: joined')));
    },
  );

  test('a core with a different cookie never joins; it stays alone and running', T, async () => {
    const a = await tb.core('emqx-core-0');
    const b = await tb.core('emqx-core-1');
    const odd = await tb.core('emqx-core-2', { cookie: 'another-cookie' });
    await waitFor('a and b clustered', async () => (await runningNames(a)).length === 2);
    await waitFor('odd running', async () => (await statusCode(odd.url)) === 200);
    // give autocluster several rounds (5 s emulated each = 250 ms real)
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await runningNames(a), [core('emqx-core-0'), core('emqx-core-1')]);
    assert.deepEqual(await runningNames(b), [core('emqx-core-0'), core('emqx-core-1')]);
    assert.deepEqual(await runningNames(odd), [core('emqx-core-2')]);
  });

  test(
    'replicants attach only to running cores of the same version; /status is 503 until then',
    T,
    async () => {
      const c0 = await tb.core('emqx-core-0', { image: 'emqx/emqx-enterprise:5.8.3' });
      await waitFor('c0 running', async () => (await statusCode(c0.url)) === 200);
      const r = await tb.replicant('emqx-replicant-0', { image: 'emqx/emqx-enterprise:5.8.4' });
      await new Promise((res) => setTimeout(res, 600)); // ~12 s emulated of rediscovery
      assert.equal(await statusCode(r.url), 503);
      assert.deepEqual(await runningNames(c0), [core('emqx-core-0')]);
      // a 5.8.4 core joins the 5.8.3 cluster (blue-green), and the replicant attaches to it
      const c1 = await tb.core('emqx-core-1', { image: 'emqx/emqx-enterprise:5.8.4' });
      await waitFor('replicant running', async () => (await statusCode(r.url)) === 200);
      // c1 may still be joining c0 (an app restart that detaches the replicant for a moment)
      await waitFor('c0 sees all three', async () => (await runningNames(c0)).length === 3);
      assert.equal(tb.fabric.node(nodeName(r))!.attachedTo, core('emqx-core-1'));
      assert.deepEqual(await runningNames(c1), await runningNames(c0));
    },
  );

  test(
    'an environment cookie is taken verbatim (not read as HOCON, where # starts a comment)',
    T,
    async () => {
      const a = await tb.core('emqx-core-0', { cookie: 'prefix#one' });
      const b = await tb.core('emqx-core-1', { cookie: 'prefix#two' });
      await waitFor(
        'both up',
        async () => (await statusCode(a.url)) === 200 && (await statusCode(b.url)) === 200,
      );
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(await runningNames(b), [core('emqx-core-1')]);
    },
  );

  test('a replicant stays up when its cores go, and re-attaches when one is back', T, async () => {
    const c0 = await tb.core('emqx-core-0');
    const r = await tb.replicant('emqx-replicant-0');
    await waitFor('replicant running', async () => (await runningNames(c0)).length === 2);
    await tb.stop(c0);
    await waitFor('replicant detached', () => tb.fabric.node(nodeName(r))?.attachedTo === undefined);
    assert.equal(await statusCode(r.url), 200);
    await tb.core('emqx-core-0', { dataDir: c0.input.dataDir! });
    await waitFor(
      'replicant re-attached',
      () => tb.fabric.node(nodeName(r))?.attachedTo === core('emqx-core-0'),
    );
  });

  test('stopped replicants disappear; stopped cores stay as stubs', T, async () => {
    const c0 = await tb.core('emqx-core-0');
    const c1 = await tb.core('emqx-core-1');
    const r = await tb.replicant('emqx-replicant-0');
    await waitFor('3 running', async () => (await runningNames(c0)).length === 3);
    await tb.stop(r);
    await tb.stop(c1, false);
    const nodes = await waitFor('2 gone from the running set', async () => {
      const list = (await api(c0, '/api/v5/nodes')).json as Array<{ node: string; node_status: string }>;
      return list.filter((n) => n.node_status === 'running').length === 1 ? list : undefined;
    });
    assert.deepEqual(
      nodes.map((n) => [n.node, n.node_status]),
      [
        [core('emqx-core-0'), 'running'],
        [core('emqx-core-1'), 'stopped'],
      ],
    );
  });
});

describe('scale and idleness', () => {
  test('25 cores + 5 replicants form one consistent cluster, then no emulator timer is left', T, async () => {
    const clock = new ManualClock();
    const tb = new Testbed({ clock });
    try {
      for (let i = 0; i < 25; i++) await tb.core(`emqx-core-${i}`);
      for (let i = 0; i < 5; i++) await tb.replicant(`emqx-replicant-${i}`);
      const consistent = (): boolean =>
        tb.fabric
          .nodes()
          .every((n) => n.status === 'running' && n.cluster.length === 30 && n.stoppedCores.length === 0);
      for (let i = 0; i < 60 && !consistent(); i++) await clock.advance(1000);
      assert.ok(
        consistent(),
        JSON.stringify(tb.fabric.nodes().map((n) => [n.name, n.status, n.cluster.length])),
      );
      await clock.advance(30_000);
      assert.equal(clock.pendingTimers, 0, 'an idle cluster keeps no timers');
      assert.ok(consistent());
    } finally {
      await tb.close();
    }
  });
});

describe('other discovery strategies', () => {
  let tb: Testbed;
  beforeEach(() => {
    tb = new Testbed();
  });
  afterEach(() => tb.close());

  test('static seeds', T, async () => {
    const ips = [nextIp(), nextIp(), nextIp()];
    const seeds = `[${ips.map((ip) => `"emqx@${ip}"`).join(', ')}]`;
    const nodes: StartedNode[] = [];
    for (const ip of ips) {
      nodes.push(
        await tb.start({
          name: `static-${ip}`,
          image: 'emqx/emqx:5.8.3',
          ip,
          env: {
            EMQX_HOST: ip,
            EMQX_CLUSTER__DISCOVERY_STRATEGY: 'static',
            EMQX_CLUSTER__STATIC__SEEDS: seeds,
            EMQX_NODE__COOKIE: 'c',
            EMQX_API_KEY__BOOTSTRAP_FILE: '/opt/emqx/data/keys',
          },
          files: { '/opt/emqx/data/keys': BOOTSTRAP },
        }),
      );
    }
    await waitFor('3 nodes', async () => (await runningNames(nodes[2]!)).length === 3);
  });

  test(
    "manual: no autocluster; `emqx ctl cluster join` replaces the joiner's database with the cluster's",
    T,
    async () => {
      const mk = (ip: string) =>
        tb.start({
          name: `manual-${ip}`,
          image: 'emqx/emqx:5.8.3',
          ip,
          env: { EMQX_HOST: ip, EMQX_NODE__COOKIE: 'c', EMQX_API_KEY__BOOTSTRAP_FILE: '/opt/emqx/data/keys' },
          files: { '/opt/emqx/data/keys': BOOTSTRAP },
        });
      const ipA = nextIp();
      const ipB = nextIp();
      const a = await mk(ipA);
      const b = await mk(ipB);
      await waitFor(
        'both up',
        async () => (await statusCode(a.url)) === 200 && (await statusCode(b.url)) === 200,
      );
      tb.fabric.retain(`emqx@${ipA}`, 'from', 'a');
      tb.fabric.retain(`emqx@${ipB}`, 'from', 'b');
      tb.fabric.retain(`emqx@${ipB}`, 'only-b', 'x');
      await new Promise((res) => setTimeout(res, 300));
      assert.equal((await runningNames(a)).length, 1, 'manual strategy: nobody joins by itself');
      const r = await b.container.exec(['emqx', 'ctl', 'cluster', 'join', `emqx@${ipA}`], 5000);
      assert.match(r.stdout, /^Join the cluster successfully\./);
      await waitFor(
        'joined',
        async () => (await runningNames(a)).length === 2 && (await runningNames(b)).length === 2,
      );
      assert.deepEqual(tb.fabric.dbList(`emqx@${ipB}`, 'retained'), { from: 'a' });
    },
  );
});

describe('boot failures', () => {
  let tb: Testbed;
  beforeEach(() => {
    tb = new Testbed();
  });
  afterEach(() => tb.close());

  test('a bad emqx.conf: the node never serves /status and exits non-zero', T, async () => {
    const n = await tb.core('emqx-core-0', { conf: 'listeners.tcp.default {\n  bind = "0.0.0.0:1883"\n' });
    const code = await n.container.exited;
    assert.notEqual(code, 0);
    assert.equal(await statusCode(n.url), 'refused');
    assert.ok(n.logs.some((l) => /failed to load config/.test(l)));
    // an unquoted secret that breaks the file is not echoed to the log
    const m = await tb.core('emqx-core-1', { conf: 'node.cookie = sec:ret-value\n' });
    assert.equal(await m.container.exited, 1);
    assert.ok(
      m.logs.some((l) => /failed to load config: emqx\.conf line 1/.test(l)),
      m.logs.join('\n'),
    );
    assert.ok(!m.logs.join('\n').includes('ret-value'));
  });

  test(
    'the dashboard address is taken (another process listens there): exit 1, and the log says why',
    T,
    async () => {
      // what two sandboxes handing out the same pod IP did to the later pod (bench:scale crash loops)
      const ip = nextIp();
      const squatter = net.createServer();
      await new Promise<void>((resolve) => squatter.listen(18083, ip, () => resolve()));
      try {
        const n = await tb.start({
          name: 'squatted-0',
          image: 'emqx/emqx:5.8.3',
          ip,
          env: { EMQX_HOST: ip },
        });
        assert.equal(await n.container.exited, 1);
        assert.ok(
          n.logs.some(
            (l) => l.includes(`failed to start the dashboard listener: listen EADDRINUSE`) && l.includes(ip),
          ),
          n.logs.join('\n'),
        );
      } finally {
        squatter.close();
      }
    },
  );

  test('a config value the schema rejects also stops the boot', T, async () => {
    const n = await tb.core('emqx-core-0', { conf: 'log.console.level = loud' });
    assert.equal(await n.container.exited, 1);
  });

  test('an invalid node name makes the node exit', T, async () => {
    const n = await tb.start({
      name: 'bad-name',
      image: 'emqx/emqx:5.8.3',
      env: { EMQX_NODE__NAME: 'em qx@host' },
    });
    assert.equal(await n.container.exited, 1);
    assert.ok(n.logs.some((l) => l.includes('invalid node name')));
  });

  test('Opensource ≥ 5.8.0 refuses node.role = replicant; 5.7 accepts it', T, async () => {
    const bad = await tb.replicant('ce-replicant-0', { image: 'emqx/emqx:5.8.0' });
    assert.equal(await bad.container.exited, 1);
    const c = await tb.core('ce-core-0', { image: 'emqx/emqx:5.7.2' });
    const ok = await tb.replicant('ce-replicant-1', { image: 'emqx/emqx:5.7.2' });
    await waitFor('5.7 replicant running', async () => (await statusCode(ok.url)) === 200);
    assert.equal((await runningNames(c)).length, 2);
  });

  test('the node name comes from EMQX_NAME@EMQX_HOST, or the pod IP when EMQX_HOST is unset', T, async () => {
    const a = await tb.start({
      name: 'n-a',
      image: 'emqx/emqx:5.8.3',
      env: { EMQX_NAME: 'broker', EMQX_HOST: 'h1' },
    });
    const b = await tb.start({ name: 'n-b', image: 'emqx/emqx:5.8.3', env: {} });
    await waitFor(
      'both up',
      async () => (await statusCode(a.url)) === 200 && (await statusCode(b.url)) === 200,
    );
    assert.equal(
      ((await api(a, '/status?format=json', { auth: null })).json as { node_name: string }).node_name,
      'broker@h1',
    );
    assert.equal(
      ((await api(b, '/status?format=json', { auth: null })).json as { node_name: string }).node_name,
      `emqx@${b.ip}`,
    );
  });
});

describe('replicated cluster database', () => {
  let tb: Testbed;
  beforeEach(() => {
    tb = new Testbed();
  });
  afterEach(() => tb.close());

  test('entries replicate to all cores and replicants and survive core restarts', T, async () => {
    const c0 = await tb.core('emqx-core-0');
    const c1 = await tb.core('emqx-core-1');
    const r = await tb.replicant('emqx-replicant-0');
    await waitFor('3 running', async () => (await runningNames(c0)).length === 3);
    const f = tb.fabric;
    f.retain(nodeName(r), 'a/1', 'written through a replicant');
    assert.equal(f.dbGet(core('emqx-core-1'), 'retained', 'a/1'), 'written through a replicant');
    // c1 goes down; a write meanwhile; c1 comes back with its data dir and catches up
    await tb.stop(c1);
    f.retain(core('emqx-core-0'), 'a/2', 'while c1 was down');
    const c1b = await tb.core('emqx-core-1', { dataDir: c1.input.dataDir! });
    await waitFor('c1 back', async () => (await runningNames(c1b)).length === 3);
    assert.deepEqual(f.dbList(core('emqx-core-1'), 'retained'), {
      'a/1': 'written through a replicant',
      'a/2': 'while c1 was down',
    });
    // every core down, then back with the same data dirs: nothing lost
    await tb.stop(c0);
    await tb.stop(c1b);
    await tb.stop(r);
    const d0 = await tb.core('emqx-core-0', { dataDir: c0.input.dataDir! });
    await tb.core('emqx-core-1', { dataDir: c1.input.dataDir! });
    await waitFor('both back', async () => (await runningNames(d0)).length === 2);
    assert.equal(Object.keys(f.dbList(core('emqx-core-0'), 'retained')).length, 2);
    assert.equal(
      (await api(d0, '/api/v5/monitor_current')).json &&
        ((await api(d0, '/api/v5/monitor_current')).json as { retained_msg_count: number })
          .retained_msg_count,
      2,
    );
  });

  test('data is lost only when every core that held it loses its data dir', T, async () => {
    const c0 = await tb.core('emqx-core-0');
    const c1 = await tb.core('emqx-core-1');
    await waitFor('2 running', async () => (await runningNames(c0)).length === 2);
    tb.fabric.retain(core('emqx-core-0'), 'k', 'v');
    // c0 loses its disk; c1 still holds the data, so the new c0 gets it back when it joins
    await tb.stop(c0);
    const c0b = await tb.core('emqx-core-0', { dataDir: tb.volume('fresh-0') });
    await waitFor('c0 rejoined', async () => (await runningNames(c0b)).length === 2);
    assert.equal(tb.fabric.dbGet(core('emqx-core-0'), 'retained', 'k'), 'v');
    // now both lose their disks: gone
    await tb.stop(c0b);
    await tb.stop(c1);
    const e0 = await tb.core('emqx-core-0', { dataDir: tb.volume('fresh-0b') });
    await tb.core('emqx-core-1', { dataDir: tb.volume('fresh-1b') });
    await waitFor('new cluster', async () => (await runningNames(e0)).length === 2);
    assert.equal(tb.fabric.dbGet(core('emqx-core-0'), 'retained', 'k'), undefined);
  });

  test('writes through a replicant with no core stall (throw)', T, async () => {
    const c0 = await tb.core('emqx-core-0');
    const r = await tb.replicant('emqx-replicant-0');
    await waitFor('2 running', async () => (await runningNames(c0)).length === 2);
    await tb.stop(c0);
    await waitFor('detached', () => tb.fabric.node(nodeName(r))?.attachedTo === undefined);
    assert.throws(() => tb.fabric.retain(nodeName(r), 'x', 'y'), /no running core/);
  });
});

describe('config persistence', () => {
  let tb: Testbed;
  beforeEach(() => {
    tb = new Testbed();
  });
  afterEach(() => tb.close());

  test(
    'API changes persist in cluster.hocon; after a restart emqx.conf and env win over them',
    T,
    async () => {
      const conf = 'log.console.level = error\n';
      const env = { EMQX_MQTT__MAX_PACKET_SIZE: '"2MB"' };
      const c0 = await tb.core('emqx-core-0', { conf, env });
      await waitFor('running', async () => (await statusCode(c0.url)) === 200);
      const put = await api(c0, '/api/v5/configs', {
        method: 'PUT',
        body: 'log.console.level = info\nmqtt { max_qos_allowed = 1, max_packet_size = "5MB" }',
      });
      assert.equal(put.status, 200);
      const read = async (n: StartedNode): Promise<[unknown, unknown, unknown]> => {
        const c = parseHocon((await api(n, '/api/v5/configs')).text);
        return [
          getPath(c, 'log.console.level'),
          getPath(c, 'mqtt.max_qos_allowed'),
          getPath(c, 'mqtt.max_packet_size'),
        ];
      };
      assert.deepEqual(await read(c0), ['info', 1, '5MB'], 'runtime: the API change applies');
      await tb.stop(c0);
      const back = await tb.core('emqx-core-0', { conf, env, dataDir: c0.input.dataDir! });
      await waitFor('running again', async () => (await statusCode(back.url)) === 200);
      assert.deepEqual(
        await read(back),
        ['error', 1, '2MB'],
        'after restart: emqx.conf and env pin their keys',
      );
    },
  );
});

describe('leaving the cluster', () => {
  let tb: Testbed;
  beforeEach(() => {
    tb = new Testbed();
  });
  afterEach(() => tb.close());

  test(
    'preStop `emqx ctl cluster leave` (all exec forms): the node is listed nowhere afterwards',
    T,
    async () => {
      const c0 = await tb.core('emqx-core-0');
      const c1 = await tb.core('emqx-core-1');
      const c2 = await tb.core('emqx-core-2');
      await waitFor('3 running', async () => (await runningNames(c0)).length === 3);
      const r = await c2.container.exec(['sh', '-c', 'emqx ctl cluster leave'], 5000);
      assert.equal(r.exitCode, 0);
      assert.match(r.stdout, /^Leave the cluster successfully\./);
      const list = (await api(c0, '/api/v5/nodes')).json as Array<{ node: string }>;
      assert.deepEqual(
        list.map((n) => n.node),
        [core('emqx-core-0'), core('emqx-core-1')],
      );
      // alone now: leaving again fails with node_not_in_cluster
      await waitFor('c2 running alone', async () => (await runningNames(c2)).join() === core('emqx-core-2'));
      const again = await c2.container.exec(['/opt/emqx/bin/emqx', 'ctl', 'cluster', 'leave'], 5000);
      assert.match(again.stdout, /Failed to leave the cluster: node_not_in_cluster/);
      // and it does not rejoin by itself (autocluster disabled by the leave)
      await new Promise((res) => setTimeout(res, 600));
      assert.deepEqual(await runningNames(c1), [core('emqx-core-0'), core('emqx-core-1')]);
      const status = await c0.container.exec(['emqx', 'ctl', 'cluster', 'status'], 5000);
      assert.match(status.stdout, /running_nodes => \['emqx@emqx-core-0\..*','emqx@emqx-core-1\..*'\]/);
      const unknown = await c0.container.exec(['ls', '/'], 5000);
      assert.equal(unknown.exitCode, 127);
    },
  );

  test('force_leave of a running core makes it leave', T, async () => {
    const c0 = await tb.core('emqx-core-0');
    await tb.core('emqx-core-1');
    await waitFor('2 running', async () => (await runningNames(c0)).length === 2);
    const r = await api(c0, `/api/v5/cluster/${encodeURIComponent(core('emqx-core-1'))}/force_leave`, {
      method: 'DELETE',
    });
    assert.equal(r.status, 204);
    const list = (await api(c0, '/api/v5/nodes')).json as Array<{ node: string }>;
    assert.deepEqual(
      list.map((n) => n.node),
      [core('emqx-core-0')],
    );
  });

  test('a crashed core stays a stopped member until cluster.autoclean removes it', T, async () => {
    const env = { EMQX_CLUSTER__AUTOCLEAN: '5s' };
    const c0 = await tb.core('emqx-core-0', { env });
    const c1 = await tb.core('emqx-core-1', { env });
    await waitFor('2 running', async () => (await runningNames(c0)).length === 2);
    tb.fabric.crash(core('emqx-core-1'));
    assert.equal(await c1.container.exited, 1);
    const stub = async (): Promise<boolean> =>
      ((await api(c0, '/api/v5/nodes')).json as Array<{ node: string; node_status: string }>).some(
        (n) => n.node === core('emqx-core-1') && n.node_status === 'stopped',
      );
    assert.equal(await stub(), true);
    // 5 s emulated = 250 ms real
    await waitFor('autoclean', async () => !(await stub()), 3000);
    assert.ok(c0.logs.some((l) => l.includes('cluster.autoclean removed')));
  });
});

describe('licences (≥ 5.9: community licence = single node)', () => {
  let tb: Testbed;
  beforeEach(() => {
    tb = new Testbed({ timeScale: 50 });
  });
  afterEach(() => tb.close());

  test(
    'default licence: a second core autoclusters, then exits after 30 s without a clustering licence',
    T,
    async () => {
      const c0 = await tb.core('emqx-core-0', { image: 'emqx/emqx-enterprise:5.10.0' });
      await waitFor('c0 running', async () => (await statusCode(c0.url)) === 200);
      const c1 = await tb.core('emqx-core-1', { image: 'emqx/emqx-enterprise:5.10.0' });
      const code = await c1.container.exited;
      assert.equal(code, 1);
      assert.ok(c1.logs.some((l) => l.includes('SINGLE_NODE_LICENSE')));
    },
  );

  test('EMQX_LICENSE__KEY=evaluation (any non-default key) allows a cluster', T, async () => {
    const env = { EMQX_LICENSE__KEY: 'evaluation' };
    const c0 = await tb.core('emqx-core-0', { image: 'emqx/emqx:6.0.1', env });
    const c1 = await tb.core('emqx-core-1', { image: 'emqx/emqx:6.0.1', env });
    await waitFor('2 running', async () => (await runningNames(c0)).length === 2);
    await new Promise((res) => setTimeout(res, 800)); // > 30 s emulated
    assert.equal((await runningNames(c1)).length, 2);
    assert.ok(!(await api(c0, '/api/v5/configs')).text.includes('evaluation'), 'the key is masked');
  });

  test('a CLI join into a node with the community licence is refused', T, async () => {
    const ipA = nextIp();
    const ipB = nextIp();
    const a = await tb.start({ name: 'a', image: 'emqx/emqx:6.0.1', env: { EMQX_HOST: ipA }, ip: ipA });
    const b = await tb.start({ name: 'b', image: 'emqx/emqx:6.0.1', env: { EMQX_HOST: ipB }, ip: ipB });
    await waitFor(
      'both up',
      async () => (await statusCode(a.url)) === 200 && (await statusCode(b.url)) === 200,
    );
    const r = await b.container.exec(['emqx', 'ctl', 'cluster', 'join', `emqx@${ipA}`], 5000);
    assert.ok(
      r.stdout.includes(`Failed to join the cluster: Node emqx@${ipA} has a single node license`),
      r.stdout,
    );
  });
});

describe('partitions', () => {
  let tb: Testbed;
  after(() => tb.close());

  test('an isolated core is seen stopped by the others and comes back when healed', T, async () => {
    tb = new Testbed();
    const c0 = await tb.core('emqx-core-0');
    await tb.core('emqx-core-1');
    const c2 = await tb.core('emqx-core-2');
    await waitFor('3 running', async () => (await runningNames(c0)).length === 3);
    tb.fabric.partition(core('emqx-core-2'));
    assert.deepEqual(await runningNames(c0), [core('emqx-core-0'), core('emqx-core-1')]);
    assert.deepEqual(await runningNames(c2), [core('emqx-core-2')]);
    tb.fabric.retain(core('emqx-core-0'), 'during', 'partition');
    tb.fabric.heal();
    assert.equal((await runningNames(c2)).length, 3);
    // autoheal: the isolated side takes the majority's (oldest node's) data
    assert.equal(tb.fabric.dbGet(core('emqx-core-2'), 'retained', 'during'), 'partition');
  });
});
