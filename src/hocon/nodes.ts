// The parser's intermediate tree and the substitution resolver.
//
// Values without substitutions are built eagerly. A value that contains `${…}` stays a `concat`
// node until the whole document (with includes) is read, because a substitution may point at a
// key defined later. When a field is set again, the new node remembers the old one in `prev`:
// that is the value a self-reference (`a = ${a} [x]`) sees, what an unresolved `${?x}` falls back
// to, and what an object result merges over.

import { HoconError, cloneHocon, hasOwn, isHoconObject, setOwn } from './types.ts';
import type { HoconObject, HoconValue } from './types.ts';
import type { HoconLimits } from './limits.ts';

interface Pos {
  line: number;
  column: number;
  source: string | undefined;
}

export interface ObjNode extends Pos {
  t: 'obj';
  fields: Map<string, Node>;
  prev?: Node;
}

export interface ArrNode extends Pos {
  t: 'arr';
  items: Node[];
}

export interface ValNode extends Pos {
  t: 'val';
  v: string | number | boolean | null;
}

export interface SubstNode extends Pos {
  t: 'subst';
  path: string[];
  optional: boolean;
}

export interface ConcatNode extends Pos {
  t: 'concat';
  parts: Node[];
  prev?: Node;
}

export type Node = ObjNode | ArrNode | ValNode | SubstNode | ConcatNode;

/** Sets `key` in `parent` with HOCON's duplicate-key rules (objects merge, the rest replaces). */
export function assign(parent: ObjNode, key: string, node: Node): void {
  const old = parent.fields.get(key);
  if (old) {
    if (node.t === 'obj') {
      if (old.t === 'obj') {
        mergeInto(old, node);
        return;
      }
      if (old.t === 'concat') node.prev = old;
    } else if (node.t === 'concat') {
      node.prev = old;
    }
  }
  parent.fields.set(key, node);
}

/** Sets a dotted path: `a.b.c = 1` is `a { b { c = 1 } }`. */
export function assignPath(parent: ObjNode, path: string[], node: Node, pos: Pos): void {
  let cur = parent;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const child = cur.fields.get(key);
    if (child && child.t === 'obj') {
      cur = child;
      continue;
    }
    const obj: ObjNode = {
      t: 'obj',
      fields: new Map(),
      line: pos.line,
      column: pos.column,
      source: pos.source,
    };
    if (child && child.t === 'concat') obj.prev = child;
    cur.fields.set(key, obj);
    cur = obj;
  }
  assign(cur, path[path.length - 1]!, node);
}

export function mergeInto(target: ObjNode, src: ObjNode): void {
  for (const [k, v] of src.fields) assign(target, k, v);
}

function kindOf(v: HoconValue): string {
  if (Array.isArray(v)) return 'an array';
  if (isHoconObject(v)) return 'an object';
  if (v === null) return 'null';
  return `a ${typeof v}`;
}

/**
 * Objects merge recursively (into fresh objects); anything else in `over` replaces. Values that are not merged are
 * shared with the inputs, never copied: the resolver treats every value as immutable.
 */
function mergeValues(base: HoconObject, over: HoconObject): HoconObject {
  const out: HoconObject = {};
  for (const k of Object.keys(base)) setOwn(out, k, base[k]!);
  for (const k of Object.keys(over)) {
    const b = hasOwn(out, k) ? out[k] : undefined;
    const o = over[k]!;
    setOwn(out, k, isHoconObject(b) && isHoconObject(o) ? mergeValues(b, o) : o);
  }
  return out;
}

/**
 * Concatenates resolved parts: strings join, arrays append, objects merge. `check` is called with the size the
 * result would have before it is built, so that a substitution bomb fails before it allocates.
 */
export function concatValues(
  values: HoconValue[],
  pos: Pos,
  check: (size: number) => void = () => {},
): HoconValue {
  if (values.length === 1) return values[0]!;
  const first = values[0]!;
  if (Array.isArray(first)) {
    let length = 0;
    for (const v of values) {
      if (!Array.isArray(v)) throw concatError(first, v, pos);
      length += v.length;
    }
    check(length);
    const out: HoconValue[] = [];
    for (const v of values as HoconValue[][]) for (const item of v) out.push(item);
    return out;
  }
  if (isHoconObject(first)) {
    let keys = 0;
    for (const v of values) {
      if (!isHoconObject(v)) throw concatError(first, v, pos);
      keys += Object.keys(v).length;
    }
    check(keys);
    let out: HoconObject = {};
    for (const v of values as HoconObject[]) out = mergeValues(out, v);
    return out;
  }
  let length = 0;
  for (const v of values) {
    if (Array.isArray(v) || isHoconObject(v)) throw concatError(first, v, pos);
    length += String(v).length;
  }
  check(length);
  let s = '';
  for (const v of values) s += String(v);
  return s;
}

function concatError(a: HoconValue, b: HoconValue, pos: Pos): HoconError {
  return new HoconError(
    `cannot concatenate ${kindOf(a)} with ${kindOf(b)}`,
    pos.line,
    pos.column,
    pos.source,
    'substitution_error',
  );
}

function substText(s: SubstNode): string {
  return `\${${s.optional ? '?' : ''}${s.path.join('.')}}`;
}

/** Size and depth of a resolved value, as `limits.ts` counts them. */
interface Measure {
  size: number;
  depth: number;
}

/**
 * Turns the intermediate tree into plain values, resolving substitutions against the root.
 *
 * Resolved values are shared, never copied, between the places that refer to them (a substitution used twice
 * costs nothing more), and the whole result is copied once at the end, so callers still get a plain tree. What a
 * config can cost is bounded by `limits`: `maxWork` counts the keys, items and characters the resolver copies,
 * `maxExpandedSize` the size of each value as it would be printed, `maxDepth` its nesting, and
 * `maxSubstitutionDepth` how many substitutions may wait on each other. Past a limit a HoconError is thrown at the
 * node being resolved.
 */
export class Resolver {
  private readonly root: ObjNode;
  private readonly limits: HoconLimits;
  private readonly memo = new Map<Node, HoconValue | undefined>();
  private readonly active = new Set<Node>();
  private readonly measures = new WeakMap<object, Measure>();
  private work = 0;

  private readonly refuseUnresolvedOptional: boolean;

  /** `refuseUnresolvedOptional`: an unresolved `${?x}` is an error instead of removing the field. */
  constructor(root: ObjNode, limits: HoconLimits, opts: { refuseUnresolvedOptional?: boolean } = {}) {
    this.root = root;
    this.limits = limits;
    this.refuseUnresolvedOptional = opts.refuseUnresolvedOptional ?? false;
  }

  resolveRoot(): HoconObject {
    const v = this.value(this.root);
    // one copy of the (bounded) result, so that no two places of the returned tree are the same object
    return isHoconObject(v) ? cloneHocon(v) : {};
  }

  private budgetError(reason: string, pos: Pos): HoconError {
    return new HoconError(reason, pos.line, pos.column, pos.source, 'substitution_error');
  }

  /** Counts copying work; throws once the config costs more than `limits.maxWork`. */
  private spend(units: number, pos: Pos): void {
    this.work += units;
    if (this.work > this.limits.maxWork) {
      throw this.budgetError(
        `the config is too expensive to resolve (more than ${this.limits.maxWork} values copied by ` +
          `substitutions and merges); use fewer substitutions`,
        pos,
      );
    }
  }

  private measure(v: HoconValue): Measure {
    if (typeof v === 'string') return { size: 16 + v.length, depth: 0 };
    if (typeof v !== 'object' || v === null) return { size: 16, depth: 0 };
    const known = this.measures.get(v);
    if (known) return known;
    let size = 16;
    let depth = 0;
    if (Array.isArray(v)) {
      for (const item of v) {
        const m = this.measure(item);
        size += m.size;
        if (m.depth > depth) depth = m.depth;
      }
    } else {
      for (const k of Object.keys(v)) {
        const m = this.measure(v[k]!);
        size += k.length + m.size;
        if (m.depth > depth) depth = m.depth;
      }
    }
    const out = { size, depth: depth + 1 };
    this.measures.set(v, out);
    return out;
  }

  /** Throws when a resolved value is larger or deeper than the limits allow. */
  private checkValue(v: HoconValue, pos: Pos): void {
    const m = this.measure(v);
    if (m.size > this.limits.maxExpandedSize) {
      throw this.budgetError(
        `the config expands to more than ${this.limits.maxExpandedSize} bytes once substitutions are resolved ` +
          `(each \${…} copies its target); use fewer or smaller substitutions`,
        pos,
      );
    }
    if (m.depth > this.limits.maxDepth) {
      throw this.budgetError(
        `the config nests deeper than ${this.limits.maxDepth} levels once substitutions are resolved`,
        pos,
      );
    }
  }

  /** The value of a node; `undefined` means "no value" (an unresolved `${?x}`). */
  private value(node: Node): HoconValue | undefined {
    if (node.t === 'val') return node.v;
    if (this.memo.has(node)) return this.memo.get(node);
    if (this.active.size >= this.limits.maxSubstitutionDepth) {
      throw this.budgetError(
        `substitutions and objects nest more than ${this.limits.maxSubstitutionDepth} levels deep`,
        node,
      );
    }
    this.active.add(node);
    let out: HoconValue | undefined;
    try {
      out = this.compute(node);
    } finally {
      this.active.delete(node);
    }
    if (out !== undefined && node.t !== 'subst') this.checkValue(out, node);
    this.memo.set(node, out);
    return out;
  }

  private compute(node: Node): HoconValue | undefined {
    switch (node.t) {
      case 'val':
        return node.v;
      case 'subst':
        return this.lookup(node);
      case 'arr': {
        const out: HoconValue[] = [];
        this.spend(node.items.length, node);
        for (const item of node.items) {
          const v = this.value(item);
          if (v !== undefined) out.push(v);
        }
        return out;
      }
      case 'obj': {
        const own: HoconObject = {};
        this.spend(node.fields.size, node);
        for (const [k, child] of node.fields) {
          const v = this.value(child);
          if (v !== undefined) setOwn(own, k, v);
        }
        if (node.prev) {
          const before = this.value(node.prev);
          if (isHoconObject(before)) return this.merge(before, own, node);
        }
        return own;
      }
      case 'concat': {
        const parts: HoconValue[] = [];
        for (const p of node.parts) {
          const v = this.value(p);
          if (v !== undefined) parts.push(v);
        }
        const before = node.prev ? this.value(node.prev) : undefined;
        if (parts.length === 0) return before;
        const result = concatValues(parts, node, (length) => {
          const first = parts[0];
          // strings are measured in characters, arrays in items, objects in keys
          this.spend(typeof first === 'string' ? Math.ceil(length / 16) : length, node);
          if (typeof first === 'string' && length > this.limits.maxExpandedSize) {
            throw this.budgetError(
              `a string built by substitutions would be longer than ${this.limits.maxExpandedSize} characters`,
              node,
            );
          }
        });
        if (isHoconObject(result) && isHoconObject(before)) return this.merge(before, result, node);
        return result;
      }
    }
  }

  /** mergeValues, counted against the work budget. */
  private merge(base: HoconObject, over: HoconObject, pos: Pos): HoconObject {
    this.spend(Object.keys(base).length + Object.keys(over).length, pos);
    return mergeValues(base, over);
  }

  /** Looks a substitution up in the document (never in the process environment). */
  private lookup(s: SubstNode): HoconValue | undefined {
    let node: Node = this.root;
    let i = 0;
    while (i < s.path.length && node.t === 'obj' && !node.prev) {
      const child = node.fields.get(s.path[i]!);
      if (!child) return this.missing(s);
      node = child;
      i++;
    }
    let v: HoconValue | undefined;
    if (this.active.has(node)) {
      // a field that refers to itself sees its previous value (`path = ${path} [x]`)
      const prev = node.t === 'concat' || node.t === 'obj' ? node.prev : undefined;
      if (!prev) {
        throw new HoconError(
          `substitution cycle: ${substText(s)} refers to itself`,
          s.line,
          s.column,
          s.source,
        );
      }
      v = this.value(prev);
    } else {
      v = this.value(node);
    }
    for (; i < s.path.length; i++) {
      if (!isHoconObject(v) || !hasOwn(v, s.path[i]!)) return this.missing(s);
      v = v[s.path[i]!];
    }
    if (v === undefined) return this.missing(s);
    // shared, not copied: resolved values are never changed in place
    return v;
  }

  private missing(s: SubstNode): undefined {
    if (s.optional && this.refuseUnresolvedOptional) {
      throw new HoconError(
        `unresolved substitution ${substText(s)}: no such key in the config, so it would silently remove the ` +
          `field (substitutions refer to config paths, never to environment variables; set EMQX_* variables in ` +
          `the pod template's env instead)`,
        s.line,
        s.column,
        s.source,
        'substitution_error',
      );
    }
    if (s.optional) return undefined;
    throw new HoconError(
      `unresolved substitution ${substText(s)}: no such key in the config ` +
        `(substitutions refer to config paths, never to environment variables; use \${?…} to make it optional)`,
      s.line,
      s.column,
      s.source,
      'substitution_error',
    );
  }
}
