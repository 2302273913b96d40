// Reading and copy-on-write editing of parsed configs by path.
//
// A path is a dotted string (`listeners.tcp.default.bind`) or an array of segments, which is how
// to name a key that itself contains a dot (`['authorization', 'sources']`, `['a.b']`). Reading
// also accepts array indexes (`authentication.0.mechanism`). Writers never modify their input.

import { cloneHocon, hasOwn, isHoconObject, setOwn } from './types.ts';
import type { HoconObject, HoconValue } from './types.ts';

export type HoconPath = string | readonly string[];

export function toSegments(path: HoconPath): string[] {
  if (typeof path !== 'string') return [...path];
  return path === '' ? [] : path.split('.');
}

/** The value at `path`, or `undefined` when any part of it is missing. */
export function getPath(obj: HoconObject, path: HoconPath): HoconValue | undefined {
  let cur: HoconValue = obj;
  for (const seg of toSegments(path)) {
    if (isHoconObject(cur)) {
      if (!hasOwn(cur, seg)) return undefined;
      cur = cur[seg]!;
    } else if (Array.isArray(cur) && /^\d+$/.test(seg)) {
      const item: HoconValue | undefined = cur[Number(seg)];
      if (item === undefined) return undefined;
      cur = item;
    } else {
      return undefined;
    }
  }
  return cur;
}

/**
 * A deep copy of `obj` with `value` at `path`. Missing objects along the path are created, and a
 * non-object in the way is replaced by an object (as a dotted key does in HOCON).
 */
export function setPath(obj: HoconObject, path: HoconPath, value: HoconValue): HoconObject {
  const segs = toSegments(path);
  if (segs.length === 0) throw new TypeError('setPath: the path is empty');
  const out = cloneHocon(obj);
  let cur = out;
  for (const seg of segs.slice(0, -1)) {
    const child = hasOwn(cur, seg) ? cur[seg] : undefined;
    if (isHoconObject(child)) {
      cur = child;
    } else {
      const fresh: HoconObject = {};
      setOwn(cur, seg, fresh);
      cur = fresh;
    }
  }
  setOwn(cur, segs[segs.length - 1]!, cloneHocon(value));
  return out;
}

/** A deep copy of `obj` without the key at `path` (unchanged when it is not there). */
export function deletePath(obj: HoconObject, path: HoconPath): HoconObject {
  const segs = toSegments(path);
  const out = cloneHocon(obj);
  if (segs.length === 0) return out;
  let cur: HoconObject = out;
  for (const seg of segs.slice(0, -1)) {
    const child = hasOwn(cur, seg) ? cur[seg] : undefined;
    if (!isHoconObject(child)) return out;
    cur = child;
  }
  delete cur[segs[segs.length - 1]!];
  return out;
}

/**
 * A new object with `over` merged onto `base`: where both hold an object the two merge
 * recursively; anything else in `over` (scalars, arrays, null) replaces what `base` had.
 */
export function deepMerge(base: HoconObject, over: HoconObject): HoconObject {
  const out = cloneHocon(base);
  for (const k of Object.keys(over)) {
    const b = hasOwn(out, k) ? out[k] : undefined;
    const o = over[k]!;
    setOwn(out, k, isHoconObject(b) && isHoconObject(o) ? deepMerge(b, o) : cloneHocon(o));
  }
  return out;
}
