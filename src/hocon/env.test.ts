import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { envOverrides, envVarPath, parseHoconValue } from './env.ts';
import { parseHocon, parseHoconValue as parserParseHoconValue } from './parser.ts';
import { deepMerge, getPath } from './path.ts';

const ROOTS = ['node', 'cluster', 'listeners', 'dashboard', 'api_key', 'log', 'authentication'];

describe('envVarPath', () => {
  it('drops the prefix, lowercases and splits on __', () => {
    assert.deepEqual(envVarPath('EMQX_NODE__NAME'), ['node', 'name']);
    assert.deepEqual(envVarPath('EMQX_LISTENERS__SSL__default__ENABLE'), [
      'listeners',
      'ssl',
      'default',
      'enable',
    ]);
    assert.deepEqual(envVarPath('EMQX_CLUSTER__DISCOVERY_STRATEGY'), ['cluster', 'discovery_strategy']);
    assert.deepEqual(envVarPath('EMQX_NODE_NAME'), ['node_name']);
  });

  it('ignores names without the prefix, with nothing after it, or with empty segments', () => {
    assert.equal(envVarPath('HOME'), undefined);
    assert.equal(envVarPath('emqx_node__name'), undefined);
    assert.equal(envVarPath('EMQX_'), undefined);
    assert.equal(envVarPath('EMQX_NODE____NAME'), undefined);
    assert.equal(envVarPath('EMQX_NODE__'), undefined);
  });

  it('takes another prefix', () => {
    assert.deepEqual(envVarPath('MYAPP_A__B', 'MYAPP_'), ['a', 'b']);
    assert.equal(envVarPath('EMQX_A__B', 'MYAPP_'), undefined);
  });
});

describe('envOverrides', () => {
  it('builds the override object from the operator pod environment', () => {
    const env = {
      EMQX_NODE__NAME: 'emqx@emqx-core-0.emqx-headless.default.svc.cluster.local',
      EMQX_NODE__COOKIE: 'secret-cookie',
      EMQX_NODE__DATA_DIR: 'data',
      EMQX_NODE__ROLE: 'core',
      EMQX_CLUSTER__DISCOVERY_STRATEGY: 'dns',
      EMQX_CLUSTER__DNS__RECORD_TYPE: 'srv',
      EMQX_CLUSTER__DNS__NAME: 'emqx-headless.default.svc.cluster.local',
      EMQX_API_KEY__BOOTSTRAP_FILE: '"/opt/emqx/data/bootstrap_api_key"',
      EMQX_DASHBOARD__LISTENERS__HTTP__BIND: '18083',
      EMQX_HOST: 'emqx-core-0.emqx-headless.default.svc.cluster.local',
      PATH: '/usr/bin',
    };
    assert.deepEqual(envOverrides(env, { knownRoots: ROOTS }), {
      api_key: { bootstrap_file: '/opt/emqx/data/bootstrap_api_key' },
      cluster: {
        discovery_strategy: 'dns',
        dns: { name: 'emqx-headless.default.svc.cluster.local', record_type: 'srv' },
      },
      dashboard: { listeners: { http: { bind: 18083 } } },
      node: {
        cookie: 'secret-cookie',
        data_dir: 'data',
        name: 'emqx@emqx-core-0.emqx-headless.default.svc.cluster.local',
        role: 'core',
      },
    });
  });

  it('reads values as HOCON: arrays, objects, quoted strings, durations, booleans, numbers', () => {
    const out = envOverrides({
      EMQX_A__LIST: '[emqx@a, "emqx@b"]',
      EMQX_A__OBJ: '{x = 1, y { z = on }}',
      EMQX_A__QUOTED: '"0.0.0.0:1883"',
      EMQX_A__DURATION: '10s',
      EMQX_A__SIZE: '64KB',
      EMQX_A__BOOL: 'false',
      EMQX_A__INT: '5369',
      EMQX_A__FLOAT: '0.75',
      EMQX_A__NULL: 'null',
    });
    assert.deepEqual(out.a, {
      list: ['emqx@a', 'emqx@b'],
      obj: { x: 1, y: { z: 'on' } },
      quoted: '0.0.0.0:1883',
      duration: '10s',
      size: '64KB',
      bool: false,
      int: 5369,
      float: 0.75,
      null: null,
    });
  });

  it('keeps the raw string when the value is not valid HOCON', () => {
    const out = envOverrides({
      EMQX_A__BIND: '0.0.0.0:1883',
      EMQX_A__PATH: '/opt/emqx/etc/certs/cert.pem',
      EMQX_A__SEEDS: 'emqx@a,emqx@b',
      EMQX_A__EMPTY: '',
      EMQX_A__SUBST: '${node.name}',
    });
    assert.deepEqual(out.a, {
      bind: '0.0.0.0:1883',
      path: '/opt/emqx/etc/certs/cert.pem',
      seeds: 'emqx@a,emqx@b',
      empty: '',
      subst: '${node.name}',
    });
  });

  it('applies only known roots when they are given', () => {
    const env = { EMQX_NODE__NAME: 'emqx@a', EMQX_LOG_DIR: '/opt/emqx/log', EMQX_FOO__BAR: '1' };
    assert.deepEqual(envOverrides(env, { knownRoots: ROOTS }), { node: { name: 'emqx@a' } });
    assert.deepEqual(envOverrides(env), {
      node: { name: 'emqx@a' },
      log_dir: '/opt/emqx/log',
      foo: { bar: 1 },
    });
  });

  it('uses the prefix option and skips undefined values', () => {
    assert.deepEqual(envOverrides({ X_A__B: '1', EMQX_A__C: '2', X_D: undefined }, { prefix: 'X_' }), {
      a: { b: 1 },
    });
  });

  it('merges a whole-object variable with variables for its children', () => {
    const out = envOverrides({
      EMQX_LOG__CONSOLE__LEVEL: 'debug',
      EMQX_LOG__CONSOLE: '{enable = true, level = info}',
    });
    assert.deepEqual(out, { log: { console: { enable: true, level: 'debug' } } });
  });

  it('overrides the config files when deep-merged over them (env wins)', () => {
    const files = parseHocon(`
      node { name = "emqx@127.0.0.1", cookie = emqxsecretcookie, data_dir = "data" }
      dashboard.listeners.http { bind = 18083, enable = true }
    `);
    const env = { EMQX_NODE__NAME: 'emqx@10.0.0.7', EMQX_DASHBOARD__LISTENERS__HTTP__BIND: '28083' };
    const merged = deepMerge(files, envOverrides(env, { knownRoots: ROOTS }));
    assert.equal(getPath(merged, 'node.name'), 'emqx@10.0.0.7');
    assert.equal(getPath(merged, 'node.cookie'), 'emqxsecretcookie');
    assert.equal(getPath(merged, 'dashboard.listeners.http.bind'), 28083);
    assert.equal(getPath(merged, 'dashboard.listeners.http.enable'), true);
  });
});

describe('parseHoconValue', () => {
  it('is re-exported from the parser for env-style values', () => {
    assert.equal(parseHoconValue, parserParseHoconValue);
  });
});
