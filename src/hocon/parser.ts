// Parser for the HOCON subset EMQX accepts (emqx/hocon). Newlines are not significant, as in
// EMQX: a value ends at `,`, `}`, `]`, at the next key (a string followed by `=`, `:` or `{`),
// or at a number, boolean, null, size or duration. Adjacent strings, arrays and objects
// concatenate (strings without the whitespace between them).

import { colonReason, tokenize } from './lexer.ts';
import { isSensitivePath } from './sensitive.ts';
import type { Token } from './lexer.ts';
import { Resolver, assignPath, mergeInto } from './nodes.ts';
import type { ArrNode, ConcatNode, Node, ObjNode, ValNode } from './nodes.ts';
import { HoconError } from './types.ts';
import type { HoconErrorKind, HoconObject, HoconValue } from './types.ts';
import { DEFAULT_HOCON_LIMITS } from './limits.ts';
import type { HoconLimits } from './limits.ts';

export type IncludeLoader = (file: string, info: { required: boolean; path: string[] }) => string | undefined;

export interface ParseOptions {
  /**
   * Loads the text of an included file, given the name exactly as written in `include "…"`, whether it was
   * `required(…)`, and the path of the object it appears in (`[]` at the top level).
   * Return `undefined` when the file does not exist; throw to refuse the include (the message is reported at the
   * include, with its position). Without this callback any include is an error.
   */
  include?: IncludeLoader;
  /** Name of the text's origin (a file name), used in error messages. */
  source?: string;
  /** Bounds on what the parse may cost; each field defaults to DEFAULT_HOCON_LIMITS. */
  limits?: Partial<HoconLimits>;
  /**
   * Make an unresolved `${?x}` an error instead of removing the field (for user input, where a `${?ENV}` meant as
   * an environment variable would otherwise drop the field silently).
   */
  refuseUnresolvedOptional?: boolean;
}

function limitsOf(given: Partial<HoconLimits> | undefined): HoconLimits {
  return { ...DEFAULT_HOCON_LIMITS, ...given };
}

/**
 * Last resort: an exhausted stack inside the parser (which the limits should make impossible) becomes a
 * HoconError, never an uncaught RangeError.
 */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RangeError)
      throw new HoconError(`the config is too complex to parse (${e.message})`, 1, 1);
    throw e;
  }
}

/** Parses HOCON text into plain values, with includes and substitutions resolved. */
export function parseHocon(text: string, opts: ParseOptions = {}): HoconObject {
  const limits = limitsOf(opts.limits);
  return guarded(() => {
    const parser = new Parser(text, {
      source: opts.source,
      include: opts.include,
      stack: opts.source === undefined ? [] : [opts.source],
      prefix: [],
      limits,
      budget: { bytes: 0, files: 0 },
    });
    return new Resolver(parser.parseDocument(), limits, {
      refuseUnresolvedOptional: opts.refuseUnresolvedOptional,
    }).resolveRoot();
  });
}

/**
 * Parses a single HOCON value such as `[a, b]`, `{a = 1}`, `"s"`, `10s`, `true` or `1883`.
 * By default text that is not a valid value comes back unchanged as a string (the rule for
 * `EMQX_*` environment overrides); with `strict: true` it throws a HoconError instead.
 * Substitutions are not allowed here.
 */
export function parseHoconValue(
  text: string,
  opts: { strict?: boolean; limits?: Partial<HoconLimits> } = {},
): HoconValue {
  const limits = limitsOf(opts.limits);
  try {
    const parser = new Parser(text, {
      source: undefined,
      include: undefined,
      stack: [],
      prefix: [],
      limits,
      budget: { bytes: 0, files: 0 },
    });
    const node = guarded(() => parser.parseSingleValue());
    const doc: ObjNode = { t: 'obj', fields: new Map([['v', node]]), line: 1, column: 1, source: undefined };
    const v = guarded(() => new Resolver(doc, limits).resolveRoot().v);
    if (v === undefined) throw new HoconError('empty value', 1, 1);
    return v;
  } catch (e) {
    if (opts.strict || !(e instanceof HoconError)) throw e;
    return text;
  }
}

interface ParserContext {
  source: string | undefined;
  include: IncludeLoader | undefined;
  /** names of the files being read, outermost first, to detect include cycles */
  stack: string[];
  /** in an included file, the path of the object that included it: `${x}` means `${prefix.x}` */
  prefix: string[];
  limits: HoconLimits;
  /** shared by a document and its includes */
  budget: { bytes: number; files: number };
}

const MAX_INCLUDE_DEPTH = 32;

type ValueContext = 'field' | 'array';

class Parser {
  private readonly text: string;
  private readonly tokens: Token[];
  private readonly ctx: ParserContext;
  private pos = 0;
  /** the last consumed token */
  private last: Token | undefined;
  /** objects and arrays open around the current token */
  private depth = 0;
  /** the path of the field being read, while its value is sensitive: errors then never quote tokens */
  private hidden: string[] | undefined;

  constructor(text: string, ctx: ParserContext) {
    this.text = text;
    this.ctx = ctx;
    ctx.budget.bytes += text.length;
    ctx.budget.files++;
    if (ctx.budget.bytes > ctx.limits.maxBytes) {
      throw new HoconError(
        `the config is larger than ${ctx.limits.maxBytes} characters` +
          (ctx.budget.files > 1 ? ' (counting included files)' : ''),
        1,
        1,
        ctx.source,
      );
    }
    this.tokens = tokenize(text, ctx.source);
  }

  /** Enters an object or array at `t`; throws past `limits.maxDepth` (before recursing any deeper). */
  private enter(t: Token): void {
    this.depth++;
    if (this.depth + this.ctx.prefix.length > this.ctx.limits.maxDepth) {
      throw this.error(`objects and arrays nest deeper than ${this.ctx.limits.maxDepth} levels`, t);
    }
  }

  /** A document: fields, optionally wrapped in one pair of braces. Substitutions stay unresolved. */
  parseDocument(): ObjNode {
    const root = this.newObj(this.peek());
    if (this.peek().type === '{') {
      const open = this.next();
      this.parseFields(root, [], open);
      this.expectClose(open, '}');
    } else {
      this.parseFields(root, [], undefined);
    }
    const t = this.peek();
    if (t.type !== 'eof') throw this.unexpected(t);
    return root;
  }

  parseSingleValue(): Node {
    const node = this.parseValue('array', undefined);
    const t = this.peek();
    if (t.type !== 'eof') throw this.unexpected(t);
    return node;
  }

  // ---- token helpers

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.tokens[this.pos]!;
    if (t.type !== 'eof') this.pos++;
    this.last = t;
    return t;
  }

  private error(reason: string, t: { line: number; column: number }, kind?: HoconErrorKind): HoconError {
    return new HoconError(reason, t.line, t.column, this.ctx.source, kind);
  }

  private newObj(t: Token): ObjNode {
    return { t: 'obj', fields: new Map(), line: t.line, column: t.column, source: this.ctx.source };
  }

  private describe(t: Token): string {
    const secret = this.hidden ? `a value in ${this.hidden.join('.')} (not shown)` : undefined;
    switch (t.type) {
      case 'eof':
        return 'end of input';
      case 'string':
        return secret ?? `string ${JSON.stringify(t.text)}`;
      case 'word':
      case 'literal':
        return secret ?? `'${t.text}'`;
      case 'subst':
        return `substitution '${this.text.slice(t.start, t.end)}'`;
      default:
        return `'${t.type}'`;
    }
  }

  private unexpected(t: Token, expected?: string): HoconError {
    if (t.type === ':') return this.error(colonReason(this.text, t.start, this.hidden), t);
    return this.error(`unexpected ${this.describe(t)}${expected ? ` (expected ${expected})` : ''}`, t);
  }

  /** A key is a word or quoted string directly followed by `=`, `:` or `{`. */
  private isKeyAt(offset: number): boolean {
    const t = this.peek(offset);
    if (t.type !== 'word' && t.type !== 'string') return false;
    const sep = this.peek(offset + 1).type;
    return sep === '=' || sep === ':' || sep === '{';
  }

  private isIncludeAt(offset: number): boolean {
    const t = this.peek(offset);
    if (t.type !== 'word' || t.text !== 'include') return false;
    const after = this.peek(offset + 1);
    return after.type === 'string' || (after.type === 'word' && after.text === 'required');
  }

  private expectClose(open: Token, close: '}' | ']' | ')'): void {
    const t = this.peek();
    if (t.type === close) {
      this.next();
      return;
    }
    if (t.type === 'eof') {
      throw this.error(
        `'${open.type}' opened at line ${open.line}, column ${open.column} is never closed`,
        t,
      );
    }
    throw this.unexpected(t, `'${close}'`);
  }

  // ---- objects

  /** Fields until `}` (when `open` is given) or the end of input. Does not consume the `}`. */
  private parseFields(obj: ObjNode, path: string[], open: Token | undefined): void {
    for (;;) {
      const t = this.peek();
      if (t.type === 'eof' || (open && t.type === '}')) return;
      if (this.isIncludeAt(0)) this.parseInclude(obj, path);
      else this.parseField(obj, path);
      if (this.peek().type === ',') {
        this.next();
        if (this.peek().type === ',') throw this.unexpected(this.peek(), 'a key');
      }
    }
  }

  private parseField(obj: ObjNode, path: string[]): void {
    const keyTok = this.peek();
    if (keyTok.type !== 'word' && keyTok.type !== 'string') {
      if (keyTok.type === '}') throw this.unexpected(keyTok, "a key; this '}' has no matching '{'");
      throw this.unexpected(keyTok, 'a key');
    }
    if (
      keyTok.type === 'word' &&
      (keyTok.text === 'true' || keyTok.text === 'false' || keyTok.text === 'null')
    ) {
      throw this.error(`'${keyTok.text}' cannot be a key unless quoted ("${keyTok.text}")`, keyTok);
    }
    this.next();
    const keyPath = keyTok.type === 'string' ? [keyTok.text] : this.splitKey(keyTok);
    const sep = this.peek();
    if (sep.type === '=' || sep.type === ':') {
      this.next();
    } else if (sep.type !== '{') {
      throw this.error(
        `expected '=', ':' or '{' after key '${keyTok.text}', found ${this.describe(sep)}`,
        sep,
      );
    }
    const fullPath = [...path, ...keyPath];
    this.hidden = isSensitivePath([...this.ctx.prefix, ...fullPath])
      ? [...this.ctx.prefix, ...fullPath]
      : undefined;
    if (fullPath.length + this.ctx.prefix.length > this.ctx.limits.maxDepth) {
      throw this.error(`the key path nests deeper than ${this.ctx.limits.maxDepth} levels`, keyTok);
    }
    const value = this.parseValue('field', fullPath, keyTok);
    assignPath(obj, keyPath, value, value);
  }

  private splitKey(t: Token): string[] {
    const segs = t.text.split('.');
    if (segs.some((s) => s === '')) {
      throw this.error(`invalid key '${t.text}': empty path segment (quote keys that contain dots)`, t);
    }
    return segs;
  }

  private parseInclude(obj: ObjNode, path: string[]): void {
    const kw = this.next();
    let required = false;
    if (this.peek().type === 'word') {
      this.next(); // `required`
      required = true;
      if (this.peek().type !== '(') throw this.unexpected(this.peek(), `'(' after 'required'`);
      this.next();
    }
    const nameTok = this.peek();
    if (nameTok.type !== 'string') throw this.unexpected(nameTok, 'a quoted file name');
    this.next();
    if (required) this.expectClose(nameTok, ')');
    const file = nameTok.text;
    const what = `include ${required ? `required("${file}")` : `"${file}"`}`;
    if (!this.ctx.include)
      throw this.error(`cannot ${what}: no include loader was given to the parser`, kw, 'include_error');
    if (this.ctx.stack.includes(file)) {
      throw this.error(`include cycle: ${[...this.ctx.stack, file].join(' -> ')}`, kw, 'include_error');
    }
    if (this.ctx.stack.length >= MAX_INCLUDE_DEPTH)
      throw this.error(`${what}: includes nested too deeply`, kw, 'include_error');
    let text: string | undefined;
    try {
      text = this.ctx.include(file, { required, path: [...this.ctx.prefix, ...path] });
    } catch (err) {
      if (err instanceof HoconError) throw err;
      throw this.error(`${what}: ${(err as Error).message}`, kw, 'include_error');
    }
    if (text === undefined) {
      if (required) throw this.error(`${what}: file not found`, kw, 'include_error');
      return; // a missing optional include is ignored
    }
    const sub = new Parser(text, {
      source: file,
      include: this.ctx.include,
      stack: [...this.ctx.stack, file],
      prefix: [...this.ctx.prefix, ...path],
      limits: this.ctx.limits,
      budget: this.ctx.budget,
    });
    mergeInto(obj, sub.parseDocument());
  }

  private parseObject(path: string[]): ObjNode {
    const open = this.next();
    this.enter(open);
    const obj = this.newObj(open);
    this.parseFields(obj, path, open);
    this.expectClose(open, '}');
    this.depth--;
    return obj;
  }

  // ---- arrays

  private parseArray(path: string[]): ArrNode {
    const open = this.next();
    this.enter(open);
    const arr: ArrNode = {
      t: 'arr',
      items: [],
      line: open.line,
      column: open.column,
      source: this.ctx.source,
    };
    for (;;) {
      const t = this.peek();
      if (t.type === ']') break;
      if (t.type === 'eof') this.expectClose(open, ']');
      if (t.type === ',') throw this.unexpected(t, 'a value');
      arr.items.push(this.parseValue('array', path));
      if (this.peek().type === ',') this.next();
    }
    this.next();
    this.depth--;
    return arr;
  }

  // ---- values

  /**
   * One value, made of parts that concatenate. `path` is where it will live (for includes in
   * nested objects); `keyTok` names the field in error messages.
   */
  private parseValue(ctx: ValueContext, path: string[] | undefined, keyTok?: Token): Node {
    const parts: Node[] = [];
    const p = path ?? [];
    for (;;) {
      const t = this.peek();
      if (t.type === '{') {
        // EMQX: `}` and `{` on different lines are two values, not one concatenation
        if (parts.length > 0 && this.last?.type === '}' && this.last.line !== t.line) break;
        parts.push(this.parseObject(p));
      } else if (t.type === '[') {
        parts.push(this.parseArray(p));
      } else if (t.type === 'string' || t.type === 'word') {
        if (ctx === 'field' && this.isKeyAt(0)) break;
        if (this.isIncludeAt(0)) break;
        if (t.type === 'word' && (t.text === 'true' || t.text === 'false' || t.text === 'null')) {
          if (parts.length > 0) throw this.cannotConcat(t);
          this.next();
          return this.val(t, t.text === 'null' ? null : t.text === 'true');
        }
        this.next();
        parts.push(this.val(t, t.text));
      } else if (t.type === 'literal') {
        if (parts.length > 0) throw this.cannotConcat(t);
        this.next();
        return this.val(t, t.value!);
      } else if (t.type === 'subst') {
        this.next();
        parts.push({
          t: 'subst',
          path: [...this.ctx.prefix, ...t.path!],
          optional: t.optional!,
          line: t.line,
          column: t.column,
          source: this.ctx.source,
        });
      } else {
        break;
      }
    }
    if (parts.length === 0) throw this.missingValue(keyTok);
    return this.combine(parts);
  }

  private val(t: Token, v: string | number | boolean | null): ValNode {
    return { t: 'val', v, line: t.line, column: t.column, source: this.ctx.source };
  }

  private cannotConcat(t: Token): HoconError {
    return this.error(
      `${this.describe(t)} cannot be joined to the value before it ` +
        `(only strings, arrays and objects concatenate; quote the whole value)`,
      t,
    );
  }

  private missingValue(keyTok: Token | undefined): HoconError {
    const t = this.peek();
    // `bind = emqx@127.0.0.1:1883` scans as a key `emqx@127.0.0.1` followed by ':'
    if (this.isKeyAt(0) && this.peek(1).type === ':' && this.peek(1).line === t.line) {
      const colon = this.peek(1);
      return this.error(colonReason(this.text, colon.start, this.hidden), colon);
    }
    if (t.type === ':') return this.unexpected(t);
    const owner = keyTok ? ` for key '${keyTok.text}'` : '';
    return this.error(`expected a value${owner}, found ${this.describe(t)}`, t);
  }

  /** Joins the parts of a value now, unless a substitution makes that wait for the resolver. */
  private combine(parts: Node[]): Node {
    const first = parts[0]!;
    if (parts.length === 1 && first.t !== 'subst') return first;
    if (parts.some((p) => p.t === 'subst')) {
      const c: ConcatNode = {
        t: 'concat',
        parts,
        line: first.line,
        column: first.column,
        source: first.source,
      };
      return c;
    }
    if (first.t === 'obj') {
      for (const p of parts.slice(1)) {
        if (p.t !== 'obj') throw this.mixed(first, p);
        mergeInto(first, p);
      }
      return first;
    }
    if (first.t === 'arr') {
      for (const p of parts.slice(1)) {
        if (p.t !== 'arr') throw this.mixed(first, p);
        first.items.push(...p.items);
      }
      return first;
    }
    let s = '';
    for (const p of parts) {
      if (p.t !== 'val') throw this.mixed(first, p);
      s += String(p.v);
    }
    return { t: 'val', v: s, line: first.line, column: first.column, source: first.source };
  }

  private mixed(first: Node, other: Node): HoconError {
    const kind = (n: Node) => (n.t === 'obj' ? 'an object' : n.t === 'arr' ? 'an array' : 'a string');
    return this.error(`cannot concatenate ${kind(first)} with ${kind(other)}`, other);
  }
}
