// Parse errors inside a sensitive value (cookie, licence, password …) name the field and never quote its text.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { HoconError, parseHocon } from './index.ts';
import { isSensitivePath } from './sensitive.ts';

function reasonOf(text: string): string {
  try {
    parseHocon(text);
  } catch (e) {
    assert.ok(e instanceof HoconError, String(e));
    return e.message;
  }
  assert.fail(`parsed: ${text}`);
}

describe('sensitive paths', () => {
  it('classifies by any segment', () => {
    for (const p of [
      'node.cookie',
      'license.key',
      'license',
      'licence.key',
      'dashboard.default_password',
      'authentication.password',
      'authorization.sources.password',
      'api_key.bootstrap_file',
    ])
      assert.ok(isSensitivePath(p.split('.')), p);
    for (const p of [
      'listeners.tcp.default.bind',
      'node.name',
      'ssl_options.keyfile',
      'cluster.discovery_strategy',
    ])
      assert.ok(!isSensitivePath(p.split('.')), p);
  });

  it('never echoes the text of a sensitive value in a parse error', () => {
    const cases: Array<[string, string]> = [
      ['license { key = abc+SECRETPART }', "line 1, column 20: unexpected '+' in the value of license.key"],
      ['node.cookie = abc+SECRET', "line 1, column 18: unexpected '+' in the value of node.cookie"],
      ['node.cookie = abc:SECRET', "line 1, column 18: unexpected ':' in the value of node.cookie"],
      ['node {\n  cookie = "ab\\qSECRET"\n}', 'line 2, column 15: invalid escape in node.cookie'],
      [
        'authentication = [{mechanism = password_based, backend = mysql, password = abc:SECRETPW}]',
        "unexpected ':' in the value of authentication.password",
      ],
      ['node.cookie = 12SECRET', 'invalid value in node.cookie (not a number'],
      ['node.cookie = "abcSECRET" true', 'a value in node.cookie (not shown) cannot be joined'],
      ['license = SECRET.x:1', "unexpected ':' in the value of license"],
      ['dashboard.default_password = ab/SECRET', "unexpected '/' in the value of dashboard.default_password"],
      ['node.cookie = "\\u12SECRET"', 'invalid unicode escape in node.cookie'],
    ];
    for (const [text, expected] of cases) {
      const message = reasonOf(text);
      assert.ok(message.includes(expected), `${text}\n  got: ${message}`);
      assert.doesNotMatch(message, /SECRET/, text);
    }
  });

  it('still shows the text of ordinary values, with the quoted form to use', () => {
    assert.match(
      reasonOf('listeners.tcp.default.bind = 0.0.0.0:1883'),
      /quote values such as "0\.0\.0\.0:1883"/,
    );
    assert.match(reasonOf('node.cookie = "ok"\nlog.file = a+b'), /quote values such as "a\+b"/);
  });
});
