import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseRunArgs } from './run.ts';

test('parseDuration: ms, s, m, h and d, decimals allowed, a unit required', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration(' 3s '), 3000);
  assert.equal(parseDuration('12h'), 12 * 3_600_000);
  assert.equal(parseDuration('3650d'), 3650 * 86_400_000);
  for (const bad of ['10', 's', '-1s', '1w', '1 s', '', 'abc'])
    assert.equal(parseDuration(bad), undefined, bad);
});

test('parseRunArgs: defaults, validated values, the flag named in every error', () => {
  const d = parseRunArgs([], {});
  assert.equal(d.healthBind, '127.0.0.1:8081');
  assert.equal(d.leaseNamespace, 'emqx-operator-system');
  assert.equal(d.logLevel, 'info');
  assert.equal(d.webhook, undefined);
  assert.equal(parseRunArgs([], { POD_NAMESPACE: 'ops', LOG_LEVEL: 'debug' }).leaseNamespace, 'ops');
  assert.equal(parseRunArgs([], { LOG_LEVEL: 'debug' }).logLevel, 'debug');
  const r = parseRunArgs(
    [
      '--workers=3',
      '--ready-interval',
      '10s',
      '--emqx-timeout',
      '500ms',
      '--webhook-bind-address',
      '127.0.0.1:0',
      '--webhook-service',
      'ops/hook',
      '--log-level',
      'warn',
    ],
    {},
  );
  assert.equal(r.workers, 3);
  assert.equal(r.readyIntervalMs, 10_000);
  assert.equal(r.emqxTimeoutMs, 500);
  assert.deepEqual(r.webhook, {
    bind: '127.0.0.1:0',
    service: { namespace: 'ops', name: 'hook' },
    url: undefined,
  });
  assert.equal(r.logLevel, 'warn');
  assert.equal(d.namespaces, undefined, 'all namespaces by default');
  assert.equal(d.leaseName, undefined);
  const shard = parseRunArgs(['--namespace', 'team-a, team-b,team-a', '--leader-election-id', 'shard-a'], {});
  assert.deepEqual(shard.namespaces, ['team-a', 'team-b']);
  assert.equal(shard.leaseName, 'shard-a');
  for (const [args, flag] of [
    [['--namespace', 'team-a,'], /--namespace: "" is not a namespace/],
    [['--namespace', 'Team'], /--namespace: "Team"/],
    [['--leader-election-id', 'A B'], /--leader-election-id/],
    [['--workers', '0'], /--workers/],
    [['--not-ready-interval', '5'], /--not-ready-interval/],
    [['--webhook-service', 'hook'], /--webhook-service/],
    [['--log-level', 'loud'], /--log-level/],
    [['--bogus'], /--bogus/],
  ] as const) {
    assert.throws(() => parseRunArgs([...args], {}), flag, args.join(' '));
  }
  assert.throws(() => parseRunArgs([], { LOG_LEVEL: 'loud' }), /LOG_LEVEL/);
});

test('parseRunArgs: the webhook certificate provider and validity', () => {
  const d = parseRunArgs([], {});
  assert.equal(d.webhookCertProvider, undefined);
  assert.equal(d.webhookCertValidityMs, undefined);
  const r = parseRunArgs(['--webhook-cert-provider', 'cert-manager', '--webhook-cert-validity', '90d'], {});
  assert.equal(r.webhookCertProvider, 'cert-manager');
  assert.equal(r.webhookCertValidityMs, 90 * 86_400_000);
  assert.throws(() => parseRunArgs(['--webhook-cert-provider', 'vault'], {}), /--webhook-cert-provider/);
  assert.throws(() => parseRunArgs(['--webhook-cert-validity', '0s'], {}), /--webhook-cert-validity/);
});
