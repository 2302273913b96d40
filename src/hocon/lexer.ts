// Tokenizer for the EMQX HOCON subset. Whitespace, newlines and comments are dropped; each token
// records its position and whether a newline came before it.

import { HoconError } from './types.ts';
import type { HoconErrorKind } from './types.ts';
import { isSensitivePath } from './sensitive.ts';

export type TokenType =
  | '{'
  | '}'
  | '['
  | ']'
  | ','
  | ':'
  | '='
  | '('
  | ')'
  /** a `"…"` or `"""…"""` string; `text` is the decoded value */
  | 'string'
  /** an unquoted string `[A-Za-z][A-Za-z0-9_.@%|-]*`; `text` is as written */
  | 'word'
  /** a number, percentage, byte size or duration; `value` holds the result */
  | 'literal'
  /** `${a.b}` or `${?a.b}`; `path` holds the segments */
  | 'subst'
  | 'eof';

export interface Token {
  type: TokenType;
  text: string;
  line: number;
  column: number;
  /** offset of the first character in the source text */
  start: number;
  /** offset just past the last character */
  end: number;
  /** literal tokens: a number, or a string for `80%`, `64KB`, `15s` */
  value?: number | string;
  /** subst tokens */
  path?: string[];
  optional?: boolean;
}

const INTEGER = /^[+-]?\d+$/;
const FLOAT = /^[+-]?\d*\.\d+(?:[eE][+-]?\d+)?$/;
const PERCENT = /^\d+%$/;
const BYTESIZE = /^\d+(?:b|kb|mb|gb)$/i;
const DURATION = /^\d+(?:d|h|m|s|ms)$/i;
const UNQUOTED = /^[A-Za-z][A-Za-z0-9_.@%|-]*$/;

function isWhitespace(c: number): boolean {
  // space, tab, CR, vertical tab, form feed, NBSP, BOM, line/paragraph separators
  return (
    c === 32 ||
    c === 9 ||
    c === 13 ||
    c === 11 ||
    c === 12 ||
    c === 0xa0 ||
    c === 0xfeff ||
    c === 0x2028 ||
    c === 0x2029
  );
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Characters allowed after the first letter of an unquoted string. */
function isWordChar(c: number): boolean {
  return (
    isLetter(c) ||
    isDigit(c) ||
    c === 95 /* _ */ ||
    c === 46 /* . */ ||
    c === 64 /* @ */ ||
    c === 37 /* % */ ||
    c === 124 /* | */ ||
    c === 45 /* - */
  );
}

/** Characters of a number-like run (`1883`, `-1.5e3`, `64KB`, `15s`, `80%`, and bad ones like `1.2.3`). */
function isLiteralChar(c: number): boolean {
  return isWordChar(c) || c === 43; /* + */
}

/** Characters that end an unquoted run when building a "quote it" hint. */
function endsRun(c: number): boolean {
  return (
    isWhitespace(c) ||
    c === 10 ||
    c === 44 /* , */ ||
    c === 93 /* ] */ ||
    c === 125 /* } */ ||
    c === 35 /* # */ ||
    c === 61 /* = */ ||
    c === 34 /* " */
  );
}

/**
 * The unquoted text around `pos` (e.g. the whole `0.0.0.0:1883`), for error hints.
 * Goes back to the start of the value and forward to the next separator.
 */
export function runAround(text: string, pos: number): string {
  let from = pos;
  while (from > 0) {
    const c = text.charCodeAt(from - 1);
    if (endsRun(c) || c === 91 /* [ */ || c === 123 /* { */) break;
    from--;
  }
  let to = pos + 1;
  while (to < text.length && !endsRun(text.charCodeAt(to))) to++;
  return text.slice(from, to);
}

/**
 * Message for an unquoted `:`, as in `bind = 0.0.0.0:1883`. `hidden`: the value belongs to a sensitive field, so
 * the message names the field instead of showing the text.
 */
export function colonReason(text: string, pos: number, hidden?: string[]): string {
  if (hidden)
    return `unexpected ':' in the value of ${hidden.join('.')} (quote the value; it is not shown here)`;
  return `unexpected ':' (quote values such as ${JSON.stringify(runAround(text, pos))})`;
}

/**
 * The key path the tokens read so far are in: enclosing objects' keys plus the last key read. An approximation
 * (arrays are transparent) good enough to tell whether an error sits in a sensitive value.
 */
export function pathAfter(tokens: readonly Token[]): string[] {
  const stack: string[][] = [];
  let last: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1]?.type;
    if ((t.type === 'word' || t.type === 'string') && (next === '=' || next === ':' || next === '{')) {
      last = t.type === 'word' ? t.text.split('.') : [t.text];
    } else if (t.type === '{') {
      stack.push(last);
      last = [];
    } else if (t.type === '}') {
      stack.pop();
      last = [];
    }
  }
  return [...stack.flat(), ...last];
}

function describeChar(ch: string): string {
  return ch === "'" ? `"'"` : `'${ch}'`;
}

export function tokenize(text: string, source?: string): Token[] {
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  let lineStart = 0;

  /** The sensitive path the scanner is in (the value there is never quoted in errors), or undefined. */
  const hiddenPath = (): string[] | undefined => {
    const path = pathAfter(tokens);
    return isSensitivePath(path) ? path : undefined;
  };
  /**
   * Throws at `pos`. `hidden` is the reason to give instead when the error sits in the value of a sensitive field
   * (a cookie, a password, a licence): reasons that quote the text around the error must not show a secret.
   */
  const fail = (
    reason: string,
    pos: number,
    kind: HoconErrorKind = 'scan_error',
    hidden?: (path: string) => string,
  ): never => {
    if (hidden) {
      const path = hiddenPath();
      if (path) reason = hidden(path.join('.'));
    }
    // the line of `pos` may be later than `line` inside multi-line strings; recount from lineStart
    let l = line;
    let ls = lineStart;
    for (let k = lineStart; k < pos; k++) {
      if (text.charCodeAt(k) === 10) {
        l++;
        ls = k + 1;
      }
    }
    throw new HoconError(reason, l, pos - ls + 1, source, kind);
  };

  const push = (
    type: TokenType,
    tokText: string,
    start: number,
    end: number,
    col: number,
    tokLine: number,
  ) => {
    const tok: Token = { type, text: tokText, line: tokLine, column: col, start, end };
    tokens.push(tok);
    return tok;
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      i++;
      lineStart = i;
      continue;
    }
    if (isWhitespace(c)) {
      i++;
      continue;
    }
    if (c === 35 /* # */ || (c === 47 /* / */ && text.charCodeAt(i + 1) === 47)) {
      while (i < n && text.charCodeAt(i) !== 10) i++;
      continue;
    }

    const start = i;
    const col = i - lineStart + 1;
    const startLine = line;

    switch (c) {
      case 123:
      case 125:
      case 91:
      case 93:
      case 44:
      case 58:
      case 61:
      case 40:
      case 41: {
        const ch = text[i] as TokenType;
        i++;
        push(ch, ch, start, i, col, startLine);
        continue;
      }
      default:
        break;
    }

    if (c === 34 /* " */) {
      if (text.startsWith('"""', i)) {
        const { value, end } = readTripleQuoted(text, i, fail);
        // keep line accounting right across the string's newlines
        for (let k = i; k < end; k++) {
          if (text.charCodeAt(k) === 10) {
            line++;
            lineStart = k + 1;
          }
        }
        i = end;
        push('string', value, start, end, col, startLine);
      } else {
        const { value, end } = readQuoted(text, i, fail);
        i = end;
        push('string', value, start, end, col, startLine);
      }
      continue;
    }

    if (c === 36 /* $ */) {
      if (text.charCodeAt(i + 1) !== 123)
        fail(`unexpected '$' (a substitution is written \${path.to.key})`, i);
      const close = text.indexOf('}', i + 2);
      const nl = text.indexOf('\n', i + 2);
      if (close < 0 || (nl >= 0 && nl < close)) fail(`unterminated substitution '\${'`, i);
      let inner = text.slice(i + 2, close);
      const optional = inner.startsWith('?');
      if (optional) inner = inner.slice(1);
      const name = inner.trim();
      if (!UNQUOTED.test(name)) {
        fail(
          `invalid substitution '${text.slice(i, close + 1)}' (expected a path such as \${node.name})`,
          i,
          'scan_error',
          (p) => `invalid substitution in the value of ${p} (expected a path such as \${node.name})`,
        );
      }
      const path = name.split('.');
      if (path.some((seg) => seg === ''))
        fail(
          `invalid substitution path '${name}'`,
          i,
          'scan_error',
          (p) => `invalid substitution path in ${p}`,
        );
      i = close + 1;
      const tok = push('subst', name, start, i, col, startLine);
      tok.path = path;
      tok.optional = optional;
      continue;
    }

    if (isLetter(c)) {
      i++;
      while (i < n && isWordChar(text.charCodeAt(i))) i++;
      push('word', text.slice(start, i), start, i, col, startLine);
      continue;
    }

    const signed = (c === 43 || c === 45) && isDigit(text.charCodeAt(i + 1));
    const fraction = c === 46 && isDigit(text.charCodeAt(i + 1));
    if (isDigit(c) || signed || fraction) {
      i++;
      while (i < n && isLiteralChar(text.charCodeAt(i))) i++;
      const raw = text.slice(start, i);
      let value: number | string;
      if (INTEGER.test(raw) || FLOAT.test(raw)) value = Number(raw);
      else if (PERCENT.test(raw) || BYTESIZE.test(raw) || DURATION.test(raw)) value = raw;
      // EMQX scans these as several tokens (`0.0` `.0` …) and then fails to parse them
      else if (text.charCodeAt(i) === 58 /* : */)
        fail(colonReason(text, i), i, 'parse_error', () => colonReason(text, i, hiddenPath()));
      else {
        fail(
          `invalid value '${raw}': not a number, percentage, byte size or duration ` +
            `(quote values such as ${JSON.stringify(runAround(text, start))})`,
          start,
          'parse_error',
          (p) =>
            `invalid value in ${p} (not a number, percentage, byte size or duration; quote the value; ` +
            'it is not shown here)',
        );
      }
      const tok = push('literal', raw, start, i, col, startLine);
      tok.value = value!;
      continue;
    }

    const ch = String.fromCodePoint(text.codePointAt(i)!);
    if (ch === "'") fail(`unexpected "'" (HOCON strings use double quotes)`, i);
    fail(
      `unexpected ${describeChar(ch)} (quote values such as ${JSON.stringify(runAround(text, i))})`,
      i,
      'scan_error',
      (p) => `unexpected ${describeChar(ch)} in the value of ${p} (quote the value; it is not shown here)`,
    );
  }

  tokens.push({ type: 'eof', text: '', line, column: i - lineStart + 1, start: n, end: n });
  return tokens;
}

type Fail = (reason: string, pos: number, kind?: HoconErrorKind, hidden?: (path: string) => string) => never;

/** `"…"` with JSON escapes; a raw newline inside is an error. */
function readQuoted(text: string, open: number, fail: Fail): { value: string; end: number } {
  let i = open + 1;
  let chunk = i;
  let out = '';
  for (;;) {
    if (i >= text.length) fail("unterminated string (missing closing '\"')", open);
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) {
      fail('unterminated string (a quoted string cannot span lines; use """…""" for multi-line text)', open);
    }
    if (c === 34) {
      out += text.slice(chunk, i);
      return { value: out, end: i + 1 };
    }
    if (c !== 92 /* \ */) {
      i++;
      continue;
    }
    out += text.slice(chunk, i);
    const e = text[i + 1];
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9A-Fa-f]{4}$/.test(hex))
          fail(
            `invalid unicode escape '\\u${hex}' in string`,
            i,
            'scan_error',
            (p) => `invalid unicode escape in ${p}`,
          );
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
        break;
      }
      default:
        fail(`invalid escape '\\${e ?? ''}' in string`, i, 'scan_error', (p) => `invalid escape in ${p}`);
    }
    i += 2;
    chunk = i;
  }
}

/**
 * `"""raw"""` (no escapes) and EMQX's indented form: `"""~` + newline, lines whose common indent
 * (spaces) is removed, then `~"""` or `"""`.
 */
function readTripleQuoted(text: string, open: number, fail: Fail): { value: string; end: number } {
  const contentStart = open + 3;
  const close = text.indexOf('"""', contentStart);
  if (close < 0) fail('unterminated """ string', open);
  if (text.charCodeAt(close + 3) === 34) {
    fail('a """ string cannot end with a quote; write """~ … "~""" instead', close);
  }
  const end = close + 3;
  const indented = /^~[ \t]*\r?\n/.exec(text.slice(contentStart, contentStart + 64));
  if (!indented) return { value: text.slice(contentStart, close), end };

  let body = text.slice(contentStart + indented[0].length, close);
  if (body.endsWith('~')) body = body.slice(0, -1);
  const lines = body.replace(/\r\n/g, '\n').split('\n');
  let indent = Infinity;
  for (const l of lines) {
    if (l.trim() === '') continue;
    let k = 0;
    while (l.charCodeAt(k) === 32) k++;
    if (k < indent) indent = k;
  }
  if (indent === Infinity) indent = 0;
  const out = lines.map((l) => {
    let k = 0;
    while (k < indent && l.charCodeAt(k) === 32) k++;
    return l.slice(k);
  });
  return { value: out.join('\n'), end };
}
