// Unit tests of the emulator's pure parts: image → identity, bootstrap key files, config layers and PUT rules,
// clocks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getPath } from '../../src/hocon/index.ts';
import { bootstrapKeyName, parseBootstrapFile, storeApiKey, verifyApiSecret } from './bootstrap-keys.ts';
import { ManualClock, ScaledClock } from './clock.ts';
import { bootConfig, configText, planConfigPut, schemaDefaults } from './config.ts';
import { compareVersions, isEmqxImage, parseEmqxImage } from './image.ts';

describe('image', () => {
  test('edition and version from the image reference', () => {
    const cases: Array<[string, string, string]> = [
      ['emqx/emqx:5.8.3', 'Opensource', '5.8.3'],
      ['emqx/emqx-enterprise:5.8.3', 'Enterprise', '5.8.3'],
      ['emqx/emqx-enterprise:5.10.0', 'Enterprise', '5.10.0'],
      ['emqx/emqx:5.9.0', 'Enterprise', '5.9.0'],
      ['emqx/emqx:6.0.1', 'Enterprise', '6.0.1'],
      ['docker.io/emqx/emqx:5.7.2-elixir', 'Opensource', '5.7.2'],
      ['registry.local:5000/mirror/emqx/emqx-enterprise:e5.8.1', 'Enterprise', '5.8.1'],
      ['emqx/emqx:5.8', 'Opensource', '5.8.0'],
      ['emqx/emqx:6.3.0-beta.2', 'Enterprise', '6.3.0-beta.2'],
      ['emqx/emqx:5.8.3@sha256:' + 'a'.repeat(64), 'Opensource', '5.8.3'],
    ];
    for (const [image, edition, version] of cases) {
      const info = parseEmqxImage(image);
      assert.equal(info.edition, edition, image);
      assert.equal(info.version, version, image);
      assert.equal(info.versionGuessed, false, image);
    }
  });

  test('latest, digests and non-version tags use latestVersion', () => {
    for (const image of ['emqx/emqx', 'emqx/emqx:latest', 'emqx/emqx-enterprise@sha256:' + 'b'.repeat(64)]) {
      const info = parseEmqxImage(image);
      assert.equal(info.version, '6.0.1', image);
      assert.equal(info.edition, 'Enterprise', image);
      assert.equal(info.versionGuessed, true);
    }
    assert.equal(parseEmqxImage('emqx/emqx:latest', '5.8.9').edition, 'Opensource');
  });

  test('OTP release per version line', () => {
    assert.equal(parseEmqxImage('emqx/emqx:5.8.3').otpRelease, '26.2.5-3/14.2.5');
    assert.equal(parseEmqxImage('emqx/emqx:6.0.1').otpRelease, '27.2-3/15.2');
  });

  test('only emqx and emqx-enterprise repositories match', () => {
    assert.ok(isEmqxImage('emqx/emqx:5.8.3'));
    assert.ok(isEmqxImage('quay.io/x/emqx-enterprise'));
    assert.ok(!isEmqxImage('emqx/emqx-operator-controller:2.2.29'));
    assert.ok(!isEmqxImage('busybox'));
    assert.ok(!isEmqxImage('localhost:5000/emqx'.replace('emqx', 'nginx')));
  });

  test('version order', () => {
    assert.ok(compareVersions('5.10.0', '5.9.1') > 0);
    assert.ok(compareVersions('6.3.0-beta.2', '6.3.0') < 0);
    assert.equal(compareVersions('5.8.3', '5.8.3'), 0);
  });
});

describe('bootstrap key file', () => {
  test('all line forms', () => {
    const r = parseBootstrapFile(
      'a:sa\n\n  \nb:sb:viewer\nc:sc:publisher:s1,s2\nd:sd:ns:tenant1::administrator\r\n',
    );
    assert.equal(r.error, undefined);
    assert.deepEqual(
      r.keys.map((k) => [k.key, k.secret, k.role, k.namespace, k.scopes]),
      [
        ['a', 'sa', 'administrator', undefined, undefined],
        ['b', 'sb', 'viewer', undefined, undefined],
        ['c', 'sc', 'publisher', undefined, ['s1', 's2']],
        ['d', 'sd', 'administrator', 'tenant1', undefined],
      ],
    );
  });

  test('a bad line stops the load and keeps the earlier keys', () => {
    for (const bad of ['nocolon', ':secret', 'key:', 'k:s:superuser', 'k:s:viewer:x:y']) {
      const r = parseBootstrapFile(`ok:fine\n${bad}\nlater:never`);
      assert.deepEqual(
        r.keys.map((k) => k.key),
        ['ok'],
        bad,
      );
      assert.equal(r.error?.line, 2, bad);
    }
  });

  test('stored name and secret hashing', () => {
    assert.match(bootstrapKeyName('k'), /^from_bootstrap_file_[0-9a-f]{16}$/);
    const s = storeApiKey('n', 'k', 's3cret', 'administrator', 0);
    assert.ok(!JSON.stringify(s).includes('s3cret'));
    assert.ok(verifyApiSecret(s, 's3cret'));
    assert.ok(!verifyApiSecret(s, 's3creT'));
  });
});

describe('config layers', () => {
  const facts = { edition: 'Enterprise' as const, major: 5, minor: 8 };

  test('defaults < cluster.hocon < emqx.conf < env', () => {
    const raw = bootConfig(facts, {
      cluster: { log: { console: { level: 'info' } }, mqtt: { max_qos_allowed: 1 }, bogus: 1 },
      emqxConf: 'mqtt.max_qos_allowed = 2\nlisteners.tcp.default.bind = "0.0.0.0:1884"',
      env: {
        EMQX_LISTENERS__TCP__DEFAULT__BIND: '"0.0.0.0:1885"',
        EMQX_CLUSTER__DNS__RECORD_TYPE: 'srv',
        EMQX_LOG_DIR: '/opt/emqx/log',
        EMQX_NODE__ROLE: 'replicant',
      },
    });
    assert.equal(getPath(raw, 'log.console.level'), 'info');
    assert.equal(getPath(raw, 'mqtt.max_qos_allowed'), 2);
    assert.equal(getPath(raw, 'listeners.tcp.default.bind'), '0.0.0.0:1885');
    assert.equal(getPath(raw, 'listeners.tcp.default.acceptors'), 16, 'listener instance defaults filled');
    assert.equal(getPath(raw, 'cluster.dns.record_type'), 'srv');
    assert.equal(getPath(raw, 'node.role'), 'replicant');
    assert.ok(!('bogus' in raw) && !('log_dir' in raw), 'unknown roots are ignored');
  });

  test('schema errors at boot', () => {
    assert.throws(() => bootConfig(facts, { emqxConf: 'node.role = leader', env: {} }), /node\.role/);
    assert.throws(() => bootConfig(facts, { emqxConf: 'a {', env: {} }));
  });

  test('GET /configs text: masked, pruned, parseable', () => {
    const raw = schemaDefaults(facts);
    const text = configText(raw);
    assert.ok(!text.includes('emqxsecretcookie'));
    assert.match(text, /cookie = "\*\*\*\*\*\*"/);
    assert.ok(!/^stats /m.test(text) && !/^zones /m.test(text));
    assert.ok(!text.includes('etcd'));
  });

  test('PUT /configs plan: read-only roots, cluster.links allowed, per-root errors', () => {
    const raw = schemaDefaults(facts);
    const opts = { mode: 'merge' as const, ignoreReadonly: false };
    assert.deepEqual(planConfigPut('cluster.links = []', opts, raw, facts).status, 200);
    assert.deepEqual(planConfigPut('cluster.name = x', opts, raw, facts).body, {
      errors: "Cannot update read-only key 'cluster.name'.",
    });
    const mixed = planConfigPut('log.console.level = bad\nmqtt.max_qos_allowed = 1', opts, raw, facts);
    assert.equal(mixed.status, 400);
    assert.deepEqual(Object.keys(mixed.accepted), ['mqtt'], 'valid roots still apply');
    const scan = planConfigPut('a = "unterminated', opts, raw, facts);
    assert.equal((scan.body as { errors: { type: string } }).errors.type, 'scan_error');
  });
});

describe('clocks', () => {
  test('ManualClock runs timers in order as time advances', async () => {
    const c = new ManualClock(0);
    const seen: string[] = [];
    c.setTimer(300, () => seen.push('b'));
    c.setTimer(100, () => seen.push('a'));
    const rep = c.setRepeating(250, () => seen.push(`r${c.now()}`));
    await c.advance(200);
    assert.deepEqual(seen, ['a']);
    await c.advance(400);
    assert.deepEqual(seen, ['a', 'r250', 'b', 'r500']);
    rep.cancel();
    assert.equal(c.pendingTimers, 0);
    assert.equal(c.now(), 600);
  });

  test('ScaledClock: 10x time scale', async () => {
    const c = new ScaledClock(10);
    const t0 = c.now();
    // 500 emulated ms are 50 real ms: the sleep ends before a real 500 ms timer armed after it, however late the
    // event loop runs both (timers fire in the order they expire), so no wall-clock bound is needed.
    const order: string[] = [];
    const emulated = c.sleep(500).then(() => order.push('emulated 500 ms'));
    const real = new Promise((r) => setTimeout(r, 500)).then(() => order.push('real 500 ms'));
    await Promise.all([emulated, real]);
    assert.deepEqual(order, ['emulated 500 ms', 'real 500 ms']);
    assert.ok(c.now() - t0 >= 500 * 10 - 50, 'the real 500 ms were 5 s of emulated time');
  });
});
