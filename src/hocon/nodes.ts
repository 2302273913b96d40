// The parser's intermediate tree and the substitution resolver.
//
// Values without substitutions are built eagerly. A value that contains `${…}` stays a `concat`
// node until the whole document (with includes) is read, because a substitution may point at a
// key defined later. When a field is set again, the new node remembers the old one in `prev`:
// that is the value a self-reference (`a = ${a} [x]`) sees, what an unresolved `${?x}` falls back
// to, and what an object result merges over.

import { HoconError, cloneHocon, hasOwn, isHoconObject, setOwn } from './types.ts';
import type { HoconObject, HoconValue } from './types.ts';

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

/** Objects merge recursively (into fresh objects); anything else in `over` replaces. */
function mergeValues(base: HoconObject, over: HoconObject): HoconObject {
  const out = cloneHocon(base);
  for (const k of Object.keys(over)) {
    const b = hasOwn(out, k) ? out[k] : undefined;
    const o = over[k]!;
    setOwn(out, k, isHoconObject(b) && isHoconObject(o) ? mergeValues(b, o) : o);
  }
  return out;
}

/** Concatenates resolved parts: strings join, arrays append, objects merge. */
export function concatValues(values: HoconValue[], pos: Pos): HoconValue {
  if (values.length === 1) return values[0]!;
  const first = values[0]!;
  if (Array.isArray(first)) {
    const out: HoconValue[] = [];
    for (const v of values) {
      if (!Array.isArray(v)) throw concatError(first, v, pos);
      out.push(...v);
    }
    return out;
  }
  if (isHoconObject(first)) {
    let out: HoconObject = {};
    for (const v of values) {
      if (!isHoconObject(v)) throw concatError(first, v, pos);
      out = mergeValues(out, v);
    }
    return out;
  }
  let s = '';
  for (const v of values) {
    if (Array.isArray(v) || isHoconObject(v)) throw concatError(first, v, pos);
    s += String(v);
  }
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

/** Turns the intermediate tree into plain values, resolving substitutions against the root. */
export class Resolver {
  private readonly root: ObjNode;
  private readonly memo = new Map<Node, HoconValue | undefined>();
  private readonly active = new Set<Node>();

  constructor(root: ObjNode) {
    this.root = root;
  }

  resolveRoot(): HoconObject {
    const v = this.value(this.root);
    return isHoconObject(v) ? v : {};
  }

  /** The value of a node; `undefined` means "no value" (an unresolved `${?x}`). */
  private value(node: Node): HoconValue | undefined {
    if (node.t === 'val') return node.v;
    if (this.memo.has(node)) return this.memo.get(node);
    this.active.add(node);
    let out: HoconValue | undefined;
    try {
      out = this.compute(node);
    } finally {
      this.active.delete(node);
    }
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
        for (const item of node.items) {
          const v = this.value(item);
          if (v !== undefined) out.push(v);
        }
        return out;
      }
      case 'obj': {
        const own: HoconObject = {};
        for (const [k, child] of node.fields) {
          const v = this.value(child);
          if (v !== undefined) setOwn(own, k, v);
        }
        if (node.prev) {
          const before = this.value(node.prev);
          if (isHoconObject(before)) return mergeValues(before, own);
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
        const result = concatValues(parts, node);
        if (isHoconObject(result) && isHoconObject(before)) return mergeValues(before, result);
        return result;
      }
    }
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
    return cloneHocon(v);
  }

  private missing(s: SubstNode): undefined {
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
