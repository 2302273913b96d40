// The parser's budgets: hostile text fails fast with a HoconError at a position, never with a stack overflow, a
// multi-second stall or hundreds of MiB.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { arrayBomb, objectBomb, stringBomb } from '../../test/support/hocon-bombs.ts';
import { HoconError, parseHocon, parseHoconValue, printHocon } from './index.ts';

function refused(text: string, reason: RegExp): HoconError {
  let caught: unknown;
  try {
    parseHocon(text);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof HoconError, `expected a HoconError, got ${String(caught)}`);
  assert.match(caught.reason, reason);
  return caught;
}

describe('parse limits', () => {
  it('refuses the 20-level object bomb (2^20 copies) at the first level over the budget', () => {
    const e = refused(objectBomb(20), /expands to more than \d+ bytes|too expensive to resolve/);
    assert.equal(e.kind, 'substitution_error');
    // the error points at the field that went over, not at the end of the text
    assert.ok(e.line > 10 && e.line <= 21, `line ${e.line}`);
  });

  it('refuses 40 and 60 levels just as the 20 (sharing, not copying, while resolving)', () => {
    for (const n of [40, 60]) refused(objectBomb(n), /expands to more than|too expensive/);
  });

  it('still resolves a small shared structure exactly, with no shared objects in the result', () => {
    const conf = parseHocon(objectBomb(3));
    const c3 = conf.c3 as Record<string, Record<string, unknown>>;
    assert.deepEqual(c3.l, c3.r);
    assert.notEqual(c3.l, c3.r, 'the result is a plain tree: each place has its own object');
    assert.match(printHocon(conf), /xxxxxxxxxx/);
  });

  it('refuses string and array doubling bombs', () => {
    refused(stringBomb(40), /expands to more than|too expensive|longer than/);
    refused(arrayBomb(40), /expands to more than|too expensive/);
  });

  it('refuses 20 000-deep nesting of objects and arrays with a position, not a stack overflow', () => {
    const obj = refused('a{'.repeat(20000) + '}'.repeat(20000), /nests deeper than 64 levels/);
    assert.equal(obj.line, 1);
    refused('a = ' + '['.repeat(20000) + ']'.repeat(20000), /nests? deeper than 64 levels/);
    refused('a = ' + '{b = '.repeat(20000) + '1' + '}'.repeat(20000), /nests? deeper than 64 levels/);
    assert.throws(() => parseHoconValue('['.repeat(20000) + ']'.repeat(20000), { strict: true }), HoconError);
  });

  it('refuses a 5 000-segment dotted key', () => {
    refused(Array.from({ length: 5000 }, (_, i) => `k${i}`).join('.') + ' = 1', /key path nests deeper/);
  });

  it('refuses values that grow deep through substitutions', () => {
    let s = 'b0 = {x = 1}\n';
    for (let i = 1; i <= 2000; i++) s += `b${i} = {n = \${b${i - 1}}}\n`;
    refused(s, /nests deeper than 64 levels once substitutions are resolved/);
  });

  it('refuses a substitution chain resolved backwards deeper than the limit', () => {
    // c0 refers to c1, c1 to c2 …: resolving c0 waits on the whole chain
    let s = '';
    for (let i = 0; i < 5000; i++) s += `c${i} = \${c${i + 1}}\n`;
    s += 'c5000 = 1\n';
    refused(s, /nest more than 1000 levels deep/);
  });

  it('refuses many merges of a large object (work budget)', () => {
    let s = 'big {' + Array.from({ length: 20000 }, (_, i) => `k${i} = ${i}`).join('\n') + '}\n';
    for (let i = 0; i < 2000; i++) s += `m${i} = \${big} {x = ${i}}\n`;
    refused(s, /too expensive to resolve/);
  });

  it('refuses text over maxBytes, counting included files', () => {
    refused('a = "' + 'x'.repeat(5 * 1024 * 1024) + '"', /larger than 4194304 characters/);
    let caught: unknown;
    try {
      parseHocon('include "big"\n', {
        include: () => 'b = "' + 'y'.repeat(200) + '"',
        limits: { maxBytes: 100 },
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof HoconError);
    assert.match(caught.reason, /larger than 100 characters \(counting included files\)/);
  });

  it('takes tighter limits from the caller', () => {
    assert.throws(
      () => parseHocon('a {b {c = 1}}', { limits: { maxDepth: 1 } }),
      /nests? deeper than 1 level/,
    );
    assert.deepEqual(parseHocon('a {b {c = 1}}', { limits: { maxDepth: 3 } }), { a: { b: { c: 1 } } });
  });
});
