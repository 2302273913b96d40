// Printer in the style of EMQX's `hocon_pp` (what `GET /api/v5/configs` returns): keys sorted,
// 2-space indent, the root without braces, `key {…}` for objects and `key = v` otherwise.
// Small objects and arrays of simple values go on one line. The output parses back to the same
// value with parseHocon.

import { isHoconObject } from './types.ts';
import type { HoconObject, HoconValue } from './types.ts';

/** Words that are tokens of their own in HOCON, so they must be quoted to stay strings. */
const RESERVED = new Set(['true', 'false', 'null', 'include']);
const BARE_STRING = /^[A-Za-z][A-Za-z0-9_]*$/;
const BARE_KEY = /^[A-Za-z][A-Za-z0-9_-]*$/;
/** hocon_pp calls a string "simple" (fit for a one-liner) when it has none of these. */
const NOT_SIMPLE = /[$"{}[\]:=,+#`^?!@*& \\\n]/;
const MAX_SIMPLE_BYTES = 40;

export function printHocon(obj: HoconObject): string {
  if (!isHoconObject(obj)) throw new TypeError('printHocon: the root must be an object');
  const lines: string[] = [];
  for (const k of sortedKeys(obj)) lines.push(printField(k, obj[k]!, 0, k));
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** A string as HOCON: bare when it is a simple word, else double-quoted with JSON escapes. */
export function printString(s: string): string {
  if (BARE_STRING.test(s) && !RESERVED.has(s)) return s;
  return quote(s);
}

export function printKey(k: string): string {
  if (BARE_KEY.test(k) && !RESERVED.has(k)) return k;
  return quote(k);
}

function quote(s: string): string {
  // JSON.stringify leaves U+2028/U+2029 raw; EMQX's scanner treats them as line breaks
  return JSON.stringify(s)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function sortedKeys(obj: HoconObject): string[] {
  return Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function printField(k: string, v: HoconValue, indent: number, path: string): string {
  const pad = ' '.repeat(indent);
  if (isHoconObject(v)) return `${pad}${printKey(k)} ${printObject(v, indent, path)}`;
  return `${pad}${printKey(k)} = ${printValue(v, indent, path)}`;
}

function printObject(obj: HoconObject, indent: number, path: string): string {
  const keys = sortedKeys(obj);
  if (keys.length === 0) return '{}';
  if (keys.length < 3 && keys.every((k) => isSimple(obj[k]!))) {
    return `{${keys.map((k) => `${printKey(k)} = ${printValue(obj[k]!, indent, `${path}.${k}`)}`).join(', ')}}`;
  }
  const inner = keys.map((k) => printField(k, obj[k]!, indent + 2, `${path}.${k}`));
  return `{\n${inner.join('\n')}\n${' '.repeat(indent)}}`;
}

function printValue(v: HoconValue, indent: number, path: string): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return printNumber(v, path);
    case 'string':
      return printString(v);
    default:
      break;
  }
  if (Array.isArray(v)) return printArray(v, indent, path);
  if (isHoconObject(v)) return printObject(v, indent, path);
  throw new TypeError(`printHocon: ${path} holds ${describe(v)}, which is not a HOCON value`);
}

function printArray(arr: HoconValue[], indent: number, path: string): string {
  if (arr.length === 0) return '[]';
  for (let i = 0; i < arr.length; i++) {
    if (arr[i] === undefined) throw new TypeError(`printHocon: ${path}.${i} is undefined`);
  }
  if (arr.every(isSimple)) {
    return `[${arr.map((item, i) => printValue(item, indent, `${path}.${i}`)).join(', ')}]`;
  }
  const pad = ' '.repeat(indent + 2);
  const items = arr.map((item, i) => `${pad}${printValue(item, indent + 2, `${path}.${i}`)}`);
  return `[\n${items.join(',\n')}\n${' '.repeat(indent)}]`;
}

function printNumber(n: number, path: string): string {
  if (!Number.isFinite(n)) throw new TypeError(`printHocon: ${path} is ${n}, which HOCON cannot represent`);
  const s = String(n);
  // `1e+21` would not scan as a number; `1.0e+21` does
  if (/e/.test(s) && !s.includes('.')) return s.replace('e', '.0e');
  return s;
}

/** hocon_pp's test for values that may share a line: numbers, booleans, null, short plain strings. */
function isSimple(v: HoconValue): boolean {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return true;
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8') <= MAX_SIMPLE_BYTES && !NOT_SIMPLE.test(v);
  return Array.isArray(v) && v.length === 0;
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'null-prototype object'}`;
  return `a ${typeof v}`;
}
