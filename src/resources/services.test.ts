import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configuredListenerPorts, parseEmqxConfig } from '../emqx/config.ts';
import { dashboardService, headlessService, listenersService, mergeServicePorts } from './services.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';

const coreSelector = {
  'apps.emqx.io/instance': 'emqx',
  'apps.emqx.io/managed-by': 'emqx-operator',
  'apps.emqx.io/db-role': 'core',
};

test('headlessService: cores only, clusterIP None, not-ready addresses, erlang-dist and gen-rpc', () => {
  const s = headlessService(makeEmqx());
  assert.equal(s.metadata?.name, 'emqx-headless');
  assert.equal(s.metadata?.ownerReferences?.[0]?.kind, 'EMQX');
  assert.equal(s.spec?.clusterIP, 'None');
  assert.equal(s.spec?.publishNotReadyAddresses, true);
  assert.deepEqual(s.spec?.selector, coreSelector);
  assert.deepEqual(
    s.spec?.ports?.map((p) => `${p.name}:${p.port}`),
    ['erlang-dist:4370', 'gen-rpc:5369'],
  );
});

test('dashboardService: core selector without hash, dashboard port from the config, https when configured', () => {
  const s = dashboardService(makeEmqx(), {});
  assert.equal(s?.metadata?.name, 'emqx-dashboard');
  assert.deepEqual(s?.spec?.selector, coreSelector);
  assert.deepEqual(s?.spec?.ports, [{ name: 'dashboard', port: 18083, protocol: 'TCP', targetPort: 18083 }]);
  assert.equal(s?.spec?.clusterIP, undefined);
  assert.equal(s?.spec?.type, undefined, 'no type unless the user sets one');
  const https = dashboardService(
    makeEmqx(),
    parseEmqxConfig('dashboard.listeners { http.bind = 18000, https.bind = "0.0.0.0:18443" }'),
  );
  assert.deepEqual(
    https?.spec?.ports?.map((p) => `${p.name}:${p.port}`),
    ['dashboard:18000', 'dashboard-https:18443'],
  );
});

test('dashboardService: user template metadata and spec merged, user ports win on name or port clash', () => {
  const emqx = makeEmqx({
    dashboardServiceTemplate: {
      metadata: { labels: { team: 'a', 'apps.emqx.io/instance': 'nope' }, annotations: { lb: 'internal' } },
      spec: {
        type: 'NodePort',
        selector: { hijack: 'yes' },
        ports: [{ name: 'dash', port: 18083, nodePort: 30083, protocol: 'TCP' }],
      },
    },
  });
  const s = dashboardService(emqx, {});
  assert.equal(s?.spec?.type, 'NodePort');
  assert.deepEqual(s?.spec?.selector, coreSelector, 'the operator selector wins');
  assert.deepEqual(s?.spec?.ports, [{ name: 'dash', port: 18083, nodePort: 30083, protocol: 'TCP' }]);
  assert.equal(s?.metadata?.labels?.team, 'a');
  assert.equal(s?.metadata?.labels?.['apps.emqx.io/instance'], 'emqx');
  assert.deepEqual(s?.metadata?.annotations, { lb: 'internal' });
});

test('dashboardService: not built when disabled', () => {
  assert.equal(dashboardService(makeEmqx({ dashboardServiceTemplate: { enabled: false } }), {}), undefined);
});

test('listenersService: target role selector, discovered ports, user ports win, no clusterIP/nodePort added', () => {
  const emqx = makeEmqx({
    listenersServiceTemplate: {
      spec: { type: 'LoadBalancer', ports: [{ name: 'mqtt', port: 1883, nodePort: 31883 }] },
    },
  });
  const ports = configuredListenerPorts(parseEmqxConfig('listeners.tcp.internal.bind = 11883'));
  const s = listenersService(emqx, {}, { ports, targetRole: 'replicant' });
  assert.equal(s?.metadata?.name, 'emqx-listeners');
  assert.equal(s?.spec?.selector?.['apps.emqx.io/db-role'], 'replicant');
  assert.equal(s?.spec?.selector?.['apps.emqx.io/pod-template-hash'], undefined);
  assert.equal(s?.spec?.type, 'LoadBalancer');
  assert.deepEqual(
    s?.spec?.ports?.map((p) => `${p.name}:${p.port}:${p.nodePort ?? '-'}`),
    [
      'mqtt:1883:31883',
      'ssl-default:8883:-',
      'tcp-internal:11883:-',
      'ws-default:8083:-',
      'wss-default:8084:-',
    ],
  );
  assert.equal(s?.spec?.clusterIP, undefined);
  const core = listenersService(makeEmqx(), {}, { ports, targetRole: 'core' });
  assert.equal(core?.spec?.selector?.['apps.emqx.io/db-role'], 'core');
  assert.equal(
    listenersService(
      makeEmqx({ listenersServiceTemplate: { enabled: false } }),
      {},
      { ports, targetRole: 'core' },
    ),
    undefined,
  );
  assert.equal(listenersService(makeEmqx(), {}, { ports: [], targetRole: 'core' }), undefined);
});

test('mergeServicePorts: a UDP port does not clash with a TCP port of the same number', () => {
  const merged = mergeServicePorts(
    [{ name: 'quic-default', port: 14567, protocol: 'UDP' }],
    [{ name: 'x', port: 14567, protocol: 'TCP' }],
  );
  assert.equal(merged.length, 2);
});
