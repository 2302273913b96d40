// Value types shared by the HOCON parser, printer and helpers.

export type HoconValue = string | number | boolean | null | HoconValue[] | HoconObject;

export interface HoconObject {
  [key: string]: HoconValue;
}

/**
 * What went wrong, named like EMQX's error types where it has one: `scan_error` for text no token
 * matches (a stray `/`, an unterminated string, a bad escape), `parse_error` for tokens in the wrong
 * order (including `0.0.0.0:1883`, which EMQX scans as numbers and a colon), `include_error` and
 * `substitution_error` for includes and `${…}` that cannot be resolved.
 */
export type HoconErrorKind = 'scan_error' | 'parse_error' | 'include_error' | 'substitution_error';

/** A syntax or resolution error, with the 1-based position where it was found. */
export class HoconError extends Error {
  readonly line: number;
  readonly column: number;
  /** The message without the position prefix, e.g. `unexpected ':'`. */
  readonly reason: string;
  /** The file (or other source name) the text came from, when known. */
  readonly source: string | undefined;
  readonly kind: HoconErrorKind;

  constructor(
    reason: string,
    line: number,
    column: number,
    source?: string,
    kind: HoconErrorKind = 'parse_error',
  ) {
    super(`${source ? `${source}: ` : ''}line ${line}, column ${column}: ${reason}`);
    this.name = 'HoconError';
    this.reason = reason;
    this.line = line;
    this.column = column;
    this.source = source;
    this.kind = kind;
  }
}

export function isHoconObject(v: unknown): v is HoconObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Sets an own property, also for the key `__proto__`, which plain assignment would turn into a
 * prototype change. Config keys come from user input, so every writer goes through here.
 */
export function setOwn(obj: HoconObject, key: string, value: HoconValue): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** True when `obj` has its own property `key` (never looks at the prototype chain). */
export function hasOwn(obj: HoconObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/** A deep copy of a value: objects and arrays are new, scalars are shared. */
export function cloneHocon<T extends HoconValue>(v: T): T {
  if (Array.isArray(v)) return v.map((item) => cloneHocon(item)) as T;
  if (isHoconObject(v)) {
    const out: HoconObject = {};
    for (const k of Object.keys(v)) setOwn(out, k, cloneHocon(v[k]));
    return out as T;
  }
  return v;
}
