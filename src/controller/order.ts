// Ordering of names and timestamps by UTF-16 code units: the same on every machine, whatever its locale, and
// without ICU. `String.prototype.localeCompare` would load ICU's collation data into the process (~3 MiB of RSS,
// measured with a bare Node 24) for orders that only need to be stable: Kubernetes names are lowercase DNS labels and
// RFC 3339 timestamps, for which code-unit order is the natural one.

/** Negative, zero or positive as `a` sorts before, with or after `b` by code units. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
