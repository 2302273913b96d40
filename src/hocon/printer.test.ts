import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parseHocon } from './parser.ts';
import { printHocon, printKey, printString } from './printer.ts';
import type { HoconObject } from './types.ts';

/** Prints, parses back, and checks nothing was lost. Returns the printed text. */
function roundTrip(obj: HoconObject): string {
  const text = printHocon(obj);
  assert.deepEqual(parseHocon(text), obj, `round trip changed the value; printed:\n${text}`);
  return text;
}

describe('printHocon layout', () => {
  it('prints the GET /configs example of the reference exactly', () => {
    const obj = {
      listeners: { tcp: { default: { max_connections: 'infinity', bind: '0.0.0.0:1883' } } },
      dashboard: { listeners: { http: { enable: true, bind: 18083 } } },
    };
    const expected = [
      'dashboard {',
      '  listeners {',
      '    http {bind = 18083, enable = true}',
      '  }',
      '}',
      'listeners {',
      '  tcp {',
      '    default {',
      '      bind = "0.0.0.0:1883"',
      '      max_connections = infinity',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n');
    assert.equal(printHocon(obj), expected);
  });

  it('sorts keys at every level', () => {
    assert.equal(printHocon({ b: 1, a: 2, C: 3 }), 'C = 3\na = 2\nb = 1\n');
    assert.equal(printHocon({ z: { y: 1, x: 2, w: 3 } }), 'z {\n  w = 3\n  x = 2\n  y = 1\n}\n');
  });

  it('puts objects with fewer than 3 simple values on one line', () => {
    assert.equal(printHocon({ o: { a: 1 } }), 'o {a = 1}\n');
    assert.equal(printHocon({ o: { a: 1, b: 'x' } }), 'o {a = 1, b = x}\n');
    assert.equal(printHocon({ o: { a: null, b: '15s' } }), 'o {a = null, b = "15s"}\n');
    // three values, a value with a forbidden character, or a nested object: one per line
    assert.equal(printHocon({ o: { a: 1, b: 2, c: 3 } }), 'o {\n  a = 1\n  b = 2\n  c = 3\n}\n');
    assert.equal(printHocon({ o: { a: 'emqx@h' } }), 'o {\n  a = "emqx@h"\n}\n');
    assert.equal(printHocon({ o: { p: { q: 1 } } }), 'o {\n  p {q = 1}\n}\n');
    assert.equal(printHocon({ o: { s: 'x'.repeat(41) } }), `o {\n  s = ${'x'.repeat(41)}\n}\n`);
  });

  it('prints empty objects and arrays compactly', () => {
    assert.equal(printHocon({ a: {}, b: [] }), 'a {}\nb = []\n');
    assert.equal(printHocon({}), '');
  });

  it('prints arrays of simple values on one line and others one item per line', () => {
    assert.equal(printHocon({ v: ['tlsv1.3', 'tlsv1.2'] }), 'v = ["tlsv1.3", "tlsv1.2"]\n');
    assert.equal(printHocon({ n: [1, 2.5, true, null] }), 'n = [1, 2.5, true, null]\n');
    assert.equal(printHocon({ seeds: ['emqx@a', 'emqx@b'] }), 'seeds = [\n  "emqx@a",\n  "emqx@b"\n]\n');
    const auth: HoconObject = {
      authentication: [
        { mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username' },
        { mechanism: 'jwt', enable: false },
      ],
    };
    const expected = [
      'authentication = [',
      '  {',
      '    backend = built_in_database',
      '    mechanism = password_based',
      '    user_id_type = username',
      '  },',
      '  {enable = false, mechanism = jwt}',
      ']',
      '',
    ].join('\n');
    assert.equal(printHocon(auth), expected);
    assert.equal(printHocon({ m: [[1, 2], ['a:b']] }), 'm = [\n  [1, 2],\n  [\n    "a:b"\n  ]\n]\n');
  });
});

describe('printHocon strings and keys', () => {
  it('leaves only simple words bare', () => {
    assert.equal(printString('infinity'), 'infinity');
    assert.equal(printString('built_in_database'), 'built_in_database');
    assert.equal(printString('Tls13'), 'Tls13');
    for (const s of [
      '15s',
      '64KB',
      '0.0.0.0:1883',
      'emqx@10.0.0.1',
      '******',
      'tlsv1.3',
      'a-b',
      '_x',
      '',
      'a b',
    ]) {
      assert.equal(printString(s), JSON.stringify(s), s);
    }
  });

  it('quotes words that HOCON would read as something else', () => {
    for (const s of ['true', 'false', 'null', 'include']) assert.equal(printString(s), `"${s}"`);
    const v = { a: 'true', b: 'null', c: '1883', d: '0.5' };
    assert.deepEqual(parseHocon(printHocon(v)), v);
  });

  it('escapes like JSON, including line and paragraph separators', () => {
    assert.equal(printString('a"b\\c\nd\te'), '"a\\"b\\\\c\\nd\\te"');
    assert.equal(printString('x\u2028y'), '"x\\u2028y"');
    assert.equal(printString('\u0001'), '"\\u0001"');
  });

  it('quotes keys that are not plain identifiers', () => {
    assert.equal(printKey('max_connections'), 'max_connections');
    assert.equal(printKey('ssl-default'), 'ssl-default');
    for (const k of ['a.b', '0', 'with space', '', 'true', 'include', 'emqx@h', '_x']) {
      assert.equal(printKey(k), JSON.stringify(k), k);
    }
    assert.equal(printHocon({ 'a.b': { c: 1 } }), '"a.b" {c = 1}\n');
  });
});

describe('printHocon numbers and bad input', () => {
  it('prints numbers so they read back the same', () => {
    const v = { i: 1883, neg: -5, f: 0.1, big: 1e21, tiny: 1e-7, z: 0 };
    const text = roundTrip(v);
    assert.match(text, /^big = 1\.0e\+21$/m);
    assert.match(text, /^tiny = 1\.0e-7$/m);
  });

  it('refuses values HOCON cannot hold, naming the path', () => {
    assert.throws(() => printHocon({ a: { b: Number.NaN } }), /a\.b is NaN/);
    assert.throws(() => printHocon({ a: Infinity }), /a is Infinity/);
    assert.throws(() => printHocon({ a: [1, undefined as never] }), /a\.1 is undefined/);
    assert.throws(() => printHocon({ a: (() => 1) as never }), /a holds a function/);
    assert.throws(() => printHocon([] as never), /root must be an object/);
  });

  it('skips fields whose value is undefined, like JSON', () => {
    assert.equal(printHocon({ a: 1, b: undefined as never }), 'a = 1\n');
  });
});

describe('print then parse', () => {
  it('round-trips awkward strings and keys', () => {
    roundTrip({
      empty: '',
      spaces: '  padded  ',
      quotes: 'say "hi"',
      triple: 'a """ b',
      backslash: 'C:\\emqx\\etc',
      multiline: 'line1\nline2\n',
      unicode: '中文 é \u{1F600}',
      comment: 'x # y // z',
      subst: '${EMQX_ETC_DIR}/certs/cert.pem',
      nested: { 'dotted.key': { '': 1, 'sp ace': [{ 'q"k': 'v' }] } },
    });
  });

  it('round-trips a realistic node config', () => {
    roundTrip({
      node: {
        name: 'emqx@emqx-core-0.emqx-headless.default.svc.cluster.local',
        cookie: '******',
        data_dir: 'data',
      },
      cluster: {
        name: 'emqxcl',
        discovery_strategy: 'dns',
        dns: { name: 'emqx-headless', record_type: 'srv' },
      },
      listeners: {
        tcp: { default: { bind: '0.0.0.0:1883', max_connections: 'infinity', enable: true } },
        ssl: {
          default: {
            bind: '0.0.0.0:8883',
            ssl_options: {
              certfile: '${EMQX_ETC_DIR}/certs/cert.pem',
              versions: ['tlsv1.3', 'tlsv1.2'],
              ciphers: [],
            },
          },
        },
      },
      authentication: [
        {
          mechanism: 'password_based',
          backend: 'built_in_database',
          password_hash_algorithm: { name: 'sha256' },
        },
      ],
      log: { console: { level: 'warning', formatter: 'text' }, file: { default: { rotation_size: '50MB' } } },
      rate: 0.8,
      sysmon: { os: { cpu_high_watermark: '80%' } },
    });
  });

  it('is stable: printing a parsed hocon_pp text gives the same text', () => {
    const text = [
      'api_key {bootstrap_file = "/opt/emqx/data/bootstrap_api_key"}',
      'cluster {',
      '  autoclean = "24h"',
      '  autoheal = true',
      '  discovery_strategy = dns',
      '  dns {name = "emqx-headless.default.svc.cluster.local", record_type = srv}',
      '  name = emqxcl',
      '}',
      'dashboard {',
      '  listeners {',
      '    http {bind = 18083, enable = true}',
      '    https {bind = 0, enable = false}',
      '  }',
      '}',
      '',
    ].join('\n');
    assert.equal(printHocon(parseHocon(text)), text);
  });
});
