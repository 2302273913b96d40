// Which config paths hold secrets. Error messages never quote text found in such a value, and callers use the same
// rule to keep these values out of ConfigMaps, conditions and Events.

/** Path segments that mark a secret, matched with `-`/`_` removed and case ignored. */
const SECRET_SEGMENT =
  /(cookie|secret|password|passwd|passphrase|token|apikey|license|licence|credential|authorization|privatekey|psk)/i;

/** True when a key path (`['node', 'cookie']`, `['authentication', 'password']`) is, or lies under, a secret. */
export function isSensitivePath(path: readonly string[]): boolean {
  return path.some((seg) => SECRET_SEGMENT.test(seg.replace(/[-_]/g, '')));
}
