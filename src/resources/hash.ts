// Deterministic hashing for revision names: FNV-1a 32-bit over a canonical JSON rendering (object keys sorted,
// undefined dropped), encoded with the alphabet Kubernetes uses for `pod-template-hash` (consonants and digits,
// so a hash can never spell a word and is always a valid label value and name suffix).

/** JSON with object keys sorted at every level and `undefined` members dropped; arrays keep their order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a, 32 bits, over the given bytes, continuing from `seed` (the offset basis by default). */
export function fnv1a32(bytes: Uint8Array, seed: number = FNV_OFFSET): number {
  let h = seed >>> 0;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h >>> 0;
}

// The alphabet of Kubernetes' rand.SafeEncodeString: no vowels, no 0/1/3 (which look like letters).
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Maps every character of `s` onto the safe alphabet by its char code (as Kubernetes does for its hashes). */
export function safeEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHABET[s.charCodeAt(i) % SAFE_ALPHABET.length];
  return out;
}

/**
 * Hash of any JSON-able value, as a short `[a-z0-9]` string of at most 10 characters. `collisionCount` (when
 * given and non-zero) is mixed in, so a revision whose name is taken by a foreign object can pick another.
 */
export function hashObject(value: unknown, collisionCount?: number): string {
  let h = fnv1a32(new TextEncoder().encode(canonicalJson(value)));
  if (collisionCount !== undefined && collisionCount !== 0) {
    const buf = new Uint8Array(4);
    new DataView(buf.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv1a32(buf, h);
  }
  return safeEncode(String(h));
}
