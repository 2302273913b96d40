// MQTT topic names and filters (pure): wildcard matching, shared-subscription syntax, validation.

/** `$share/<group>/<filter>` → group and filter; undefined for an ordinary filter. */
export function parseShare(filter: string): { group: string; filter: string } | undefined {
  if (!filter.startsWith('$share/')) return undefined;
  const rest = filter.slice('$share/'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  return { group: rest.slice(0, slash), filter: rest.slice(slash + 1) };
}

/** True when `filter` is a valid topic filter (wildcards `+` and `#` only as whole levels, `#` last). */
export function validFilter(filter: string): boolean {
  if (filter === '' || filter.includes('\u0000')) return false;
  const inner = filter.startsWith('$share/') ? parseShare(filter)?.filter : filter;
  if (inner === undefined) return false;
  const levels = inner.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return false;
    if (l.includes('+') && l !== '+') return false;
  }
  return true;
}

/** True when `topic` is a valid topic name for PUBLISH (no wildcards). */
export function validTopic(topic: string): boolean {
  return topic !== '' && !topic.includes('+') && !topic.includes('#') && !topic.includes('\u0000');
}

/** MQTT matching; wildcards at the first level do not match topics starting with `$`. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const fl = f[i]!;
    if (fl === '#') return true;
    if (i >= t.length) return false;
    if (fl !== '+' && fl !== t[i]) return false;
  }
  return f.length === t.length;
}
