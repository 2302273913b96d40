import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHocon } from '../hocon/index.ts';
import { parseEmqxConfig } from '../emqx/config.ts';
import { configMap } from './configmap.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';

test('configMap: <name>-configs with emqx.conf that parses back to the config minus cookie and licence', () => {
  const conf = parseEmqxConfig(`
    node { cookie = "very-secret-cookie", process_limit = 100000 }
    license { key = "SECRET-LICENSE-KEY", connection_high_watermark = "80%" }
    listeners.tcp.default.bind = "0.0.0.0:1883"
    cluster.name = emqxcl
  `);
  const cm = configMap(makeEmqx({}, { name: 'e1', namespace: 'x', uid: 'u' }), conf);
  assert.equal(cm.metadata?.name, 'e1-configs');
  assert.equal(cm.metadata?.namespace, 'x');
  assert.equal(cm.metadata?.ownerReferences?.[0]?.name, 'e1');
  const text = cm.data?.['emqx.conf'] ?? '';
  assert.ok(!text.includes('very-secret-cookie'), text);
  assert.ok(!text.includes('SECRET-LICENSE-KEY'), text);
  assert.deepEqual(parseHocon(text), {
    node: { process_limit: 100000 },
    license: { connection_high_watermark: '80%' },
    listeners: { tcp: { default: { bind: '0.0.0.0:1883' } } },
    cluster: { name: 'emqxcl' },
  });
});

test('configMap: an empty config gives an empty file', () => {
  assert.equal(configMap(makeEmqx(), {}).data?.['emqx.conf'], '');
  assert.equal(configMap(makeEmqx(), parseEmqxConfig('node.cookie = x')).data?.['emqx.conf'], '');
});

test('configMap: an https-only dashboard with spec.tls.dashboard (checked by the caller) is written, not refused again', () => {
  const data = 'dashboard.listeners { http.enable = false, https.bind = 18084 }';
  const e = makeEmqx({ config: { data }, tls: { dashboard: { secretName: 'dash' } } });
  const cm = configMap(e, parseEmqxConfig(data, { dashboardTls: true }));
  assert.match(cm.data!['emqx.conf']!, /https/);
});
