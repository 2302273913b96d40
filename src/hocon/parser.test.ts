import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parseHocon, parseHoconValue } from './parser.ts';
import { HoconError } from './types.ts';
import type { HoconObject } from './types.ts';
import { listenersConfig } from '../../test/support/hocon-sample.ts';

/** Asserts that parsing fails with a HoconError and returns it. */
function parseError(text: string, opts?: Parameters<typeof parseHocon>[1]): HoconError {
  try {
    parseHocon(text, opts);
  } catch (e) {
    assert.ok(e instanceof HoconError, `expected a HoconError, got ${String(e)}`);
    return e;
  }
  assert.fail(`expected a parse error for:\n${text}`);
}

function files(map: Record<string, string>): (f: string) => string | undefined {
  return (f) => map[f];
}

describe('objects', () => {
  it('accepts `a {…}`, `a = {…}` and `a: {…}` alike', () => {
    const expected = { a: { b: 1 } };
    assert.deepEqual(parseHocon('a {b = 1}'), expected);
    assert.deepEqual(parseHocon('a = {b = 1}'), expected);
    assert.deepEqual(parseHocon('a: {b: 1}'), expected);
  });

  it('separates fields with commas, newlines, or nothing at all (as EMQX does)', () => {
    const expected = { a: 1, b: 2, c: 3 };
    assert.deepEqual(parseHocon('a = 1, b = 2, c = 3'), expected);
    assert.deepEqual(parseHocon('a = 1\nb = 2\n\n\nc = 3\n'), expected);
    assert.deepEqual(parseHocon('a = 1 b = 2 c = 3'), expected);
  });

  it('allows one trailing comma but not two commas in a row', () => {
    assert.deepEqual(parseHocon('a {b = 1, c = 2,}'), { a: { b: 1, c: 2 } });
    const e = parseError('a = 1,, b = 2');
    assert.equal(e.line, 1);
    assert.equal(e.column, 7);
    assert.match(e.reason, /unexpected ','/);
  });

  it('expands dotted keys and merges them with objects written out', () => {
    assert.deepEqual(parseHocon('a.b.c = 1'), { a: { b: { c: 1 } } });
    assert.deepEqual(parseHocon('a.b = 1\na { c = 2 }\na.d.e = 3'), { a: { b: 1, c: 2, d: { e: 3 } } });
  });

  it('deep-merges a repeated object and replaces a repeated scalar', () => {
    const text = `
      a { x { p = 1, q = 1 }, keep = true }
      a { x { q = 2 }, y = 3 }
      n = 1
      n = 2
    `;
    assert.deepEqual(parseHocon(text), { a: { x: { p: 1, q: 2 }, keep: true, y: 3 }, n: 2 });
  });

  it('lets an object replace a scalar and a scalar or array replace an object', () => {
    assert.deepEqual(parseHocon('a = 1\na { b = 2 }'), { a: { b: 2 } });
    assert.deepEqual(parseHocon('a { b = 2 }\na = 1'), { a: 1 });
    assert.deepEqual(parseHocon('a { b = 2 }\na = [1]'), { a: [1] });
    assert.deepEqual(parseHocon('a = [1, 2]\na = [3]'), { a: [3] });
  });

  it('treats a quoted key as one key even when it contains dots', () => {
    assert.deepEqual(parseHocon('"a.b" = 1'), { 'a.b': 1 });
    assert.deepEqual(parseHocon('x { "a.b" { c = 1 } }'), { x: { 'a.b': { c: 1 } } });
    assert.deepEqual(parseHocon('"with space" = 1, "" = 2, "t\\"q" = 3'), {
      'with space': 1,
      '': 2,
      't"q': 3,
    });
  });

  it('accepts a root wrapped in braces, and empty or comment-only documents', () => {
    assert.deepEqual(parseHocon('{ a = 1, b { c = 2 } }'), { a: 1, b: { c: 2 } });
    assert.deepEqual(parseHocon(''), {});
    assert.deepEqual(parseHocon('  \n# nothing here\n// or here\n'), {});
    assert.deepEqual(parseHocon('a {}'), { a: {} });
  });

  it('stores a __proto__ key as data, never as the prototype', () => {
    const v = parseHocon('"__proto__" { polluted = true }\nx = 1');
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ['__proto__', 'x']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('rejects malformed keys with their position', () => {
    let e = parseError('a..b = 1');
    assert.deepEqual([e.line, e.column], [1, 1]);
    assert.match(e.reason, /invalid key 'a\.\.b'/);

    e = parseError('x = 1\ntrue = 1');
    assert.deepEqual([e.line, e.column], [2, 1]);
    assert.match(e.reason, /'true' cannot be a key/);

    e = parseError('name 1');
    assert.deepEqual([e.line, e.column], [1, 6]);
    assert.match(e.reason, /expected '=', ':' or '\{' after key 'name'/);

    e = parseError('a = 1\n= 2');
    assert.deepEqual([e.line, e.column], [2, 1]);
    assert.match(e.reason, /unexpected '='/);
  });

  it('reports unbalanced braces', () => {
    let e = parseError('a {\n  b = 1\n');
    assert.deepEqual([e.line, e.column], [3, 1]);
    assert.match(e.reason, /'\{' opened at line 1, column 3 is never closed/);

    e = parseError('a = 1\n}\n');
    assert.deepEqual([e.line, e.column], [2, 1]);
    assert.match(e.reason, /no matching '\{'/);

    e = parseError('a = [1, 2');
    assert.match(e.reason, /'\[' opened at line 1, column 5 is never closed/);
  });

  it('reports a missing value', () => {
    const e = parseError('a {\n  b =\n}');
    assert.deepEqual([e.line, e.column], [3, 1]);
    assert.match(e.reason, /expected a value for key 'b', found '\}'/);
    assert.match(parseError('a =').reason, /expected a value for key 'a', found end of input/);
  });
});

describe('scalars', () => {
  it('reads unquoted strings of letters, digits and _ . @ % | -', () => {
    const v = parseHocon(`
      name = emqx@127.0.0.1
      versions = [tlsv1.3, tlsv1.2]
      max = infinity
      pipe = a|b
      mixed = Foo-bar_9.x%y
    `);
    assert.deepEqual(v, {
      name: 'emqx@127.0.0.1',
      versions: ['tlsv1.3', 'tlsv1.2'],
      max: 'infinity',
      pipe: 'a|b',
      mixed: 'Foo-bar_9.x%y',
    });
  });

  it('reads integers and floats as numbers', () => {
    const v = parseHocon('a = 1883, b = -5, c = +3, d = 0.5, e = .25, f = -1.5e3, g = 2.0E-2, h = 0');
    assert.deepEqual(v, { a: 1883, b: -5, c: 3, d: 0.5, e: 0.25, f: -1500, g: 0.02, h: 0 });
  });

  it('reads true, false and null', () => {
    assert.deepEqual(parseHocon('a = true, b = false, c = null'), { a: true, b: false, c: null });
    // only the exact words are special
    assert.deepEqual(parseHocon('a = trueish, b = nullable'), { a: 'trueish', b: 'nullable' });
  });

  it('keeps percentages, byte sizes and durations as strings, as written', () => {
    const v = parseHocon(`
      p = 80%
      s1 = 64KB, s2 = 1gb, s3 = 512b, s4 = 10Mb
      d1 = 15s, d2 = 100ms, d3 = 1d, d4 = 5m, d5 = 2H, d6 = 30MS
    `);
    assert.deepEqual(v, {
      p: '80%',
      s1: '64KB',
      s2: '1gb',
      s3: '512b',
      s4: '10Mb',
      d1: '15s',
      d2: '100ms',
      d3: '1d',
      d4: '5m',
      d5: '2H',
      d6: '30MS',
    });
  });

  it('rejects an unquoted host:port with the position of the colon', () => {
    const text = 'listeners.tcp.default {\n  max_connections = 1024\n  bind = 0.0.0.0:1883\n}\n';
    const e = parseError(text);
    assert.equal(e.line, 3);
    assert.equal(e.column, 17);
    assert.equal(e.reason, 'unexpected \':\' (quote values such as "0.0.0.0:1883")');
    assert.equal(e.message, 'line 3, column 17: unexpected \':\' (quote values such as "0.0.0.0:1883")');
  });

  it('rejects other unquoted values that need quotes', () => {
    let e = parseError('node.name = emqx@127.0.0.1:4370');
    assert.deepEqual([e.line, e.column], [1, 27]);
    assert.match(e.reason, /quote values such as "emqx@127\.0\.0\.1:4370"/);

    e = parseError('bind = 1883:1883');
    assert.deepEqual([e.line, e.column], [1, 12]);

    e = parseError('a = 1\nnode.data_dir = /opt/emqx/data');
    assert.deepEqual([e.line, e.column], [2, 17]);
    assert.equal(e.reason, 'unexpected \'/\' (quote values such as "/opt/emqx/data")');

    e = parseError('url = http://example.com');
    assert.match(e.reason, /unexpected ':'.*"http:\/\/example\.com"/);

    e = parseError("name = 'emqx'");
    assert.deepEqual([e.line, e.column], [1, 8]);
    assert.match(e.reason, /double quotes/);

    e = parseError('v = 1.2.3');
    assert.deepEqual([e.line, e.column], [1, 5]);
    assert.match(e.reason, /invalid value '1\.2\.3'/);

    e = parseError('t = 1h30m');
    assert.match(e.reason, /invalid value '1h30m'.*"1h30m"/);

    e = parseError('a = $x');
    assert.match(e.reason, /unexpected '\$'/);
  });

  it('does not join numbers, booleans or durations with other values', () => {
    let e = parseError('a = foo 10');
    assert.deepEqual([e.line, e.column], [1, 9]);
    assert.match(e.reason, /'10' cannot be joined/);
    e = parseError('a = foo true');
    assert.match(e.reason, /'true' cannot be joined/);
    // a number followed by a word: the word is read as the next key
    e = parseError('a = 10 s');
    assert.match(e.reason, /after key 's'/);
  });
});

describe('strings', () => {
  it('decodes JSON escapes in quoted strings', () => {
    const v = parseHocon(String.raw`s = "q\" b\\ s\/ n\n t\t r\r f\f b\b u\u00e9\u4e2d"`);
    assert.equal(v.s, 'q" b\\ s/ n\n t\t r\r f\f b\b u\u00e9\u4e2d');
  });

  it('keeps # and // inside quoted strings', () => {
    assert.deepEqual(parseHocon('a = "x # y // z" # comment'), { a: 'x # y // z' });
  });

  it('rejects bad escapes and unterminated strings with their position', () => {
    let e = parseError('a = 1\nb = "x\\qy"');
    assert.deepEqual([e.line, e.column], [2, 7]);
    assert.match(e.reason, /invalid escape '\\q'/);

    e = parseError('a = "\\u12G4"');
    assert.match(e.reason, /invalid unicode escape/);

    e = parseError('a {\n  b = "open\n}');
    assert.deepEqual([e.line, e.column], [2, 7]);
    assert.match(e.reason, /unterminated string/);
  });

  it('reads """raw""" strings without escapes, across lines', () => {
    const v = parseHocon('a = """line1\n  "quoted" \\n stays"""\nb = 2');
    assert.deepEqual(v, { a: 'line1\n  "quoted" \\n stays', b: 2 });
  });

  it('counts lines inside """ strings for later errors', () => {
    const e = parseError('a = """one\ntwo\nthree"""\nb = 0.0.0.0:1');
    assert.deepEqual([e.line, e.column], [4, 12]);
  });

  it('strips the common indent of """~ … ~""" strings', () => {
    const text = [
      'rule {',
      '  sql = """~',
      '    SELECT',
      '      *',
      '',
      '    FROM',
      '      "t/#"',
      '  ~"""',
      '}',
    ].join('\n');
    assert.equal((parseHocon(text).rule as HoconObject).sql, 'SELECT\n  *\n\nFROM\n  "t/#"\n');
  });

  it('handles """~ strings without a trailing newline, ending in a quote, or closed by plain """', () => {
    assert.equal(parseHocon('a = """~\n    one\n      two~"""').a, 'one\n  two');
    assert.equal(parseHocon('a = """~\n  say "hi"~"""').a, 'say "hi"');
    assert.equal(parseHocon('a = """~\n    x\n  """').a, 'x\n');
    // a closing line indented deeper than the text keeps the extra spaces
    assert.equal(parseHocon('a = """~\n  x\n    ~"""').a, 'x\n  ');
    // without `~` + newline right after the quotes, the string is raw
    assert.equal(parseHocon('a = """~ x ~"""').a, '~ x ~');
  });

  it('rejects unterminated """ strings and extra closing quotes', () => {
    let e = parseError('a = 1\nb = """never closed');
    assert.deepEqual([e.line, e.column], [2, 5]);
    assert.match(e.reason, /unterminated """ string/);
    e = parseError('a = """x""""');
    assert.match(e.reason, /cannot end with a quote/);
  });

  it('reads a PEM certificate in a """ string', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    assert.equal((parseHocon(`ssl { cacert = """${pem}""" }`).ssl as HoconObject).cacert, pem);
  });
});

describe('arrays and concatenation', () => {
  it('reads arrays with commas, newlines or spaces between simple values', () => {
    assert.deepEqual(parseHocon('a = [1, 2, 3]'), { a: [1, 2, 3] });
    assert.deepEqual(parseHocon('a = [\n  1\n  2,\n  3,\n]'), { a: [1, 2, 3] });
    assert.deepEqual(parseHocon('a = [1 2 true null 15s]'), { a: [1, 2, true, null, '15s'] });
    assert.deepEqual(parseHocon('a = [], b = [[1, 2], [], [x]]'), { a: [], b: [[1, 2], [], ['x']] });
  });

  it('separates objects on different lines and merges objects on one line (EMQX rule)', () => {
    const v = parseHocon(
      'auth = [\n  {mechanism = password_based}\n  {mechanism = jwt}\n]\nm = [{a = 1} {b = 2}]',
    );
    assert.deepEqual(v, {
      auth: [{ mechanism: 'password_based' }, { mechanism: 'jwt' }],
      m: [{ a: 1, b: 2 }],
    });
  });

  it('concatenates adjacent arrays, objects and strings', () => {
    assert.deepEqual(parseHocon('a = [1, 2] [3]'), { a: [1, 2, 3] });
    assert.deepEqual(parseHocon('a = [1]\n[2]'), { a: [1, 2] });
    assert.deepEqual(parseHocon('a = {x = 1} {y = 2}'), { a: { x: 1, y: 2 } });
    assert.deepEqual(parseHocon('a {x = 1} {x = 3, y = 2}'), { a: { x: 3, y: 2 } });
  });

  it('joins adjacent strings without the whitespace between them, as EMQX does', () => {
    assert.deepEqual(parseHocon('a = foo bar'), { a: 'foobar' });
    assert.deepEqual(parseHocon('a = "foo" "bar"'), { a: 'foobar' });
    assert.deepEqual(parseHocon('a = foo " " bar'), { a: 'foo bar' });
    assert.deepEqual(parseHocon('a = "/opt/"emqx"/etc"'), { a: '/opt/emqx/etc' });
    // newlines do not end a value in EMQX's grammar; the next key does
    assert.deepEqual(parseHocon('a = foo\nbar\nc = 1'), { a: 'foobar', c: 1 });
    assert.deepEqual(parseHocon('a = ["x"\n"y", z]'), { a: ['xy', 'z'] });
  });

  it('rejects concatenating different kinds', () => {
    let e = parseError('a = [1] foo');
    assert.deepEqual([e.line, e.column], [1, 9]);
    assert.match(e.reason, /cannot concatenate an array with a string/);
    e = parseError('a = {x = 1} [2]');
    assert.match(e.reason, /cannot concatenate an object with an array/);
  });

  it('reports stray tokens inside arrays', () => {
    let e = parseError('a = [1, , 2]');
    assert.deepEqual([e.line, e.column], [1, 9]);
    e = parseError('seeds = [emqx@a:4370]');
    assert.deepEqual([e.line, e.column], [1, 16]);
    assert.match(e.reason, /quote values such as "emqx@a:4370"/);
  });
});

describe('comments', () => {
  it('skips # and // comments anywhere outside strings', () => {
    const text = `
      # full line
      // full line too
      a = 1 # trailing
      b { // after a brace
        c = [1, # inside an array
             2] // done
      }
    `;
    assert.deepEqual(parseHocon(text), { a: 1, b: { c: [1, 2] } });
  });
});

describe('include', () => {
  it('merges an included file where the include stands', () => {
    const include = files({ 'base.hocon': 'a = 1\nb { x = 1, y = 1 }' });
    const v = parseHocon('a = 0\nb { x = 0 }\ninclude "base.hocon"\nb.y = 2', { include });
    assert.deepEqual(v, { a: 1, b: { x: 1, y: 2 } });
  });

  it('places an include inside an object under that object', () => {
    const include = files({ 'tcp.conf': 'bind = "0.0.0.0:1883"' });
    const v = parseHocon('listeners.tcp.default {\n  include "tcp.conf"\n  enable = true\n}', { include });
    assert.deepEqual(v, { listeners: { tcp: { default: { bind: '0.0.0.0:1883', enable: true } } } });
  });

  it('supports include required("…") and nested includes', () => {
    const include = files({ 'a.conf': 'include "b.conf"\nfrom_a = 1', 'b.conf': 'from_b = 2' });
    assert.deepEqual(parseHocon('include required("a.conf")', { include }), { from_b: 2, from_a: 1 });
  });

  it('ignores a missing optional include and rejects a missing required one', () => {
    const include = files({});
    assert.deepEqual(parseHocon('include "nope.conf"\na = 1', { include }), { a: 1 });
    const e = parseError('a = 1\ninclude required("nope.conf")', { include });
    assert.deepEqual([e.line, e.column], [2, 1]);
    assert.match(e.reason, /include required\("nope\.conf"\): file not found/);
  });

  it('fails, naming the file, when no include loader is given', () => {
    const e = parseError('include "etc/base.hocon"');
    assert.match(e.reason, /cannot include "etc\/base\.hocon": no include loader/);
  });

  it('detects include cycles', () => {
    const include = files({ 'a.conf': 'include "b.conf"', 'b.conf': 'include "a.conf"' });
    const e = parseError('include "a.conf"', { include, source: 'emqx.conf' });
    assert.match(e.reason, /include cycle: emqx\.conf -> a\.conf -> b\.conf -> a\.conf/);
  });

  it('names the included file in errors found inside it', () => {
    const include = files({ 'bad.conf': 'x = 1\ny = 0.0.0.0:1883' });
    const e = parseError('include "bad.conf"', { include, source: 'emqx.conf' });
    assert.equal(e.source, 'bad.conf');
    assert.deepEqual([e.line, e.column], [2, 12]);
    assert.match(e.message, /^bad\.conf: line 2, column 12: /);
  });

  it('resolves substitutions in an included file relative to where it is included', () => {
    const include = files({ 'f.conf': 'port = 1883\nbind = ${port}' });
    assert.deepEqual(parseHocon('l {\n  include "f.conf"\n}', { include }), {
      l: { port: 1883, bind: 1883 },
    });
  });

  it('keeps the outer include path for substitutions in nested includes', () => {
    const include = files({ 'a.conf': 'y {\n  include "b.conf"\n}', 'b.conf': 'v = 1\nw = ${v}' });
    assert.deepEqual(parseHocon('x {\n  include "a.conf"\n}', { include }), { x: { y: { v: 1, w: 1 } } });
  });

  it('treats `include` followed by `=` as an ordinary key', () => {
    assert.deepEqual(parseHocon('include = 1'), { include: 1 });
  });
});

describe('substitutions', () => {
  it('resolves ${a.b} against the config, keeping the value type', () => {
    const v = parseHocon('a.b = 1883\nc = ${a.b}\nd = ${a}\ne = ${ a.b }');
    assert.deepEqual(v, { a: { b: 1883 }, c: 1883, d: { b: 1883 }, e: 1883 });
  });

  it('resolves references to keys defined later, and to other substitutions', () => {
    const v = parseHocon('a = ${b}\nb = ${c}\nc = "x"\nc = "final"');
    assert.deepEqual(v, { a: 'final', b: 'final', c: 'final' });
  });

  it('copies substituted objects so they do not alias', () => {
    const v = parseHocon('a { x = 1 }\nb = ${a}');
    (v.b as HoconObject).x = 2;
    assert.equal((v.a as HoconObject).x, 1);
  });

  it('concatenates substitutions with strings, arrays and objects', () => {
    const v = parseHocon(`
      host = "10.0.0.1"
      port = 1883
      url = "mqtt://"\${host}":"\${port}
      base = [1, 2]
      list = \${base} [3]
      defaults { a = 1, b = 1 }
      conf = \${defaults} { b = 2 }
    `);
    assert.equal(v.url, 'mqtt://10.0.0.1:1883');
    assert.deepEqual(v.list, [1, 2, 3]);
    assert.deepEqual(v.conf, { a: 1, b: 2 });
  });

  it('drops a field whose ${?x} is not found, keeping an earlier value', () => {
    const v = parseHocon(
      'a = ${?missing}\nb = 1\nb = ${?missing}\nc = [1, ${?missing}, 2]\nd = x${?missing}',
    );
    assert.deepEqual(v, { b: 1, c: [1, 2], d: 'x' });
    assert.equal('a' in v, false);
  });

  it('fails on an unresolved ${x} with its position', () => {
    const e = parseError('a = 1\nb {\n  c = ${nope.here}\n}');
    assert.deepEqual([e.line, e.column], [3, 7]);
    assert.match(e.reason, /unresolved substitution \$\{nope\.here\}/);
  });

  it('never reads the process environment', () => {
    process.env.HOCON_PARSER_TEST_VAR = 'from-env';
    try {
      assert.deepEqual(parseHocon('a = ${?HOCON_PARSER_TEST_VAR}'), {});
      assert.match(parseError('a = ${HOCON_PARSER_TEST_VAR}').reason, /never to environment variables/);
    } finally {
      delete process.env.HOCON_PARSER_TEST_VAR;
    }
  });

  it('leaves ${…} inside quoted strings alone', () => {
    const v = parseHocon('certfile = "${EMQX_ETC_DIR}/certs/cert.pem"\nraw = """${x}"""');
    assert.deepEqual(v, { certfile: '${EMQX_ETC_DIR}/certs/cert.pem', raw: '${x}' });
  });

  it('lets a field refer to its own previous value', () => {
    const v = parseHocon('path = [a]\npath = ${path} [b]\nobj { x = 1 }\nobj = ${obj} { y = 2 }');
    assert.deepEqual(v, { path: ['a', 'b'], obj: { x: 1, y: 2 } });
  });

  it('merges an object substitution over an earlier object value', () => {
    const v = parseHocon('extra { y = 2 }\na { x = 1 }\na = ${extra}');
    assert.deepEqual(v.a, { x: 1, y: 2 });
  });

  it('detects substitution cycles', () => {
    let e = parseError('a = ${b}\nb = ${a}');
    assert.match(e.reason, /substitution cycle/);
    e = parseError('a { b = ${a} }');
    assert.deepEqual([e.line, e.column], [1, 9]);
    assert.match(e.reason, /substitution cycle: \$\{a\} refers to itself/);
  });

  it('rejects malformed substitutions', () => {
    assert.match(parseError('a = ${}').reason, /invalid substitution/);
    assert.match(parseError('a = ${a..b}').reason, /invalid substitution path/);
    assert.match(parseError('a = ${a.b').reason, /unterminated substitution/);
  });
});

describe('line endings', () => {
  it('reads CRLF text and counts its lines', () => {
    const text = 'a = 1\r\nb {\r\n  c = "x"\r\n  d = """~\r\n    one\r\n    two\r\n  ~"""\r\n}\r\n';
    assert.deepEqual(parseHocon(text), { a: 1, b: { c: 'x', d: 'one\ntwo\n' } });
    const e = parseError('a = 1\r\nb = 2\r\nc = 0.0.0.0:1\r\n');
    assert.deepEqual([e.line, e.column], [3, 12]);
  });
});

describe('HoconError', () => {
  it('carries line, column, reason and source', () => {
    const e = parseError('a = 1\n  b = [1,,]', { source: 'etc/emqx.conf' });
    assert.equal(e.name, 'HoconError');
    assert.ok(e instanceof Error);
    assert.equal(e.line, 2);
    assert.equal(e.column, 10);
    assert.equal(e.source, 'etc/emqx.conf');
    assert.equal(e.message, `etc/emqx.conf: line 2, column 10: ${e.reason}`);
  });
});

describe('HoconError kinds', () => {
  it('names the kind of failure like EMQX does', () => {
    const kind = (text: string, opts?: Parameters<typeof parseHocon>[1]) => parseError(text, opts).kind;
    // no token matches
    assert.equal(kind('a = /opt/emqx'), 'scan_error');
    assert.equal(kind('a = "open'), 'scan_error');
    assert.equal(kind('a = "\\q"'), 'scan_error');
    // tokens in the wrong order
    assert.equal(kind('a = 0.0.0.0:1883'), 'parse_error');
    assert.equal(kind('a = emqx@h:1883'), 'parse_error');
    assert.equal(kind('a = 1.2.3'), 'parse_error');
    assert.equal(kind('a {'), 'parse_error');
    // includes and substitutions
    assert.equal(kind('include "x"'), 'include_error');
    assert.equal(kind('include required("x")', { include: () => undefined }), 'include_error');
    assert.equal(kind('a = ${b}'), 'substitution_error');
    assert.equal(kind('a = [1]\nb = ${a} x'), 'substitution_error');
  });
});

describe('parseHoconValue', () => {
  it('parses one value of any kind', () => {
    assert.deepEqual(parseHoconValue('[a, b]'), ['a', 'b']);
    assert.deepEqual(parseHoconValue('{a = 1, b { c = x }}'), { a: 1, b: { c: 'x' } });
    assert.equal(parseHoconValue('"s p"'), 's p');
    assert.equal(parseHoconValue('10s'), '10s');
    assert.equal(parseHoconValue('true'), true);
    assert.equal(parseHoconValue('18083'), 18083);
    assert.equal(parseHoconValue(' 0.5 '), 0.5);
    assert.equal(parseHoconValue('emqx@10.0.0.1'), 'emqx@10.0.0.1');
  });

  it('returns the raw text when it is not a single valid value', () => {
    for (const raw of ['0.0.0.0:1883', '/opt/emqx/data', 'a,b', 'x = 1', '', '${a}', '[1, 2', 'a b = 1']) {
      assert.equal(parseHoconValue(raw), raw, raw);
    }
  });

  it('throws instead in strict mode', () => {
    assert.throws(() => parseHoconValue('0.0.0.0:1883', { strict: true }), HoconError);
    assert.throws(() => parseHoconValue('${a}', { strict: true }), /unresolved substitution/);
  });
});

/**
 * The smallest `limits.maxWork` that parses `text`: the work the resolver counts (values built, copied by
 * substitutions and merges), an operation count rather than a wall-clock time.
 */
function workOf(text: string): number {
  let lo = 0;
  let hi = 100_000;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    try {
      parseHocon(text, { limits: { maxWork: mid } });
      hi = mid;
    } catch (e) {
      if (!(e instanceof HoconError) || !/too expensive/.test(e.reason)) throw e;
      lo = mid + 1;
    }
  }
  return lo;
}

// Work, not time: the resolver counts what it builds and copies (limits.maxWork), so these bounds hold on any
// machine however busy. How long a parse takes is measured by `npm run bench:hocon`.
describe('work bounds', () => {
  it('a 2,000-line config resolves with work proportional to its size', () => {
    const text = listenersConfig(250);
    assert.equal(text.split('\n').length, 2000);
    const v = parseHocon(text, { limits: { maxWork: 2 * 2000, maxExpandedSize: 2 * text.length } });
    assert.equal(Object.keys((v.listeners as HoconObject).tcp as HoconObject).length, 250);
    const w = [workOf(listenersConfig(125)), workOf(text), workOf(listenersConfig(500))];
    assert.ok(w[1]! <= 2 * 2000, `work for 2,000 lines: ${w[1]}`);
    // twice the lines, twice the work (plus a constant): no step is quadratic
    assert.equal(w[2]! - w[1]!, 2 * (w[1]! - w[0]!), `work for 1,000/2,000/4,000 lines: ${w.join('/')}`);
  });

  it('the work of substitutions grows linearly with the fields that use them', () => {
    const config = (n: number): string => {
      const lines = [
        'defaults { max_connections = infinity, acceptors = 16, tcp_options { backlog = 1024 } }',
      ];
      for (let i = 0; i < n; i++)
        lines.push(`listeners.tcp.l${i} = \${defaults} { bind = "0.0.0.0:${10000 + i}" }`);
      return lines.join('\n');
    };
    const w = [workOf(config(250)), workOf(config(500)), workOf(config(1000))];
    assert.ok(w[0]! > 0 && w[0]! <= 250 * 16, `work for 250 fields: ${w[0]}`);
    assert.equal(w[2]! - w[1]!, 2 * (w[1]! - w[0]!), `work for 250/500/1000 fields: ${w.join('/')}`);
  });
});
