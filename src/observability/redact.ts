// Redaction shared by the logger, the Event recorder and anything else that turns data into text someone may read.
//
// Two mechanisms, both applied by `redact()` / `redactText()`:
//  1. by key: a value stored under a key that looks secret (cookie, secret, password, token, apiKey, licenseKey,
//     authorization, credentials, privateKey, ...) is replaced by REDACTED, whatever its type;
//  2. by value: strings registered with `registerSecret()` (the node cookie, the bootstrap API secret, a licence
//     key, once the operator has read them) are masked wherever they appear in free text, and free text of the
//     shapes `cookie = "x"`, `password: x`, `Authorization: Basic x` has its value masked.

export const REDACTED = '******';

/** Keys whose values are never shown. Matched against the key with `-`/`_` removed, case-insensitively. */
const SECRET_KEY =
  /(cookie|secret|password|passwd|passphrase|token|apikey|licensekey|license|licence|credential|authorization|privatekey|bootstrapfile)/i;

/** Keys that match SECRET_KEY but only name a secret (a Secret's name, a key inside a Secret), not its value. */
const SECRET_REFERENCE_KEY = /(secretname|secretref|secretkeyref|tokenref|name|ref|keyref)$/i;

export function isSecretKey(key: string): boolean {
  const k = key.replace(/[-_.]/g, '');
  return SECRET_KEY.test(k) && !SECRET_REFERENCE_KEY.test(k);
}

const knownSecrets = new Set<string>();

/**
 * Remembers a secret value so that `redactText` masks it wherever it appears. Values shorter than 4 characters are
 * ignored (masking them would mangle ordinary text and hides nothing worth hiding).
 */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value === 'string' && value.length >= 4) knownSecrets.add(value);
}

/** Forgets a value registered with `registerSecret` (e.g. after a key rotation), or all of them. */
export function forgetSecret(value?: string): void {
  if (value === undefined) knownSecrets.clear();
  else knownSecrets.delete(value);
}

// `cookie = "abc"`, `api_key: abc`, `"password":"abc"`, `passwd: 'a b'`, `password = """a"""`, `EMQX_NODE__COOKIE=abc`. The value is on the
// key's line: a key with nothing after it (`passwd:` at the end of a line) masks nothing of the next line.
const INLINE_SECRET =
  /((?:[\w.-]*(?:cookie|secret|password|passwd|token|api[_-]?key|licen[cs]e[_-]?key)[\w.-]*)"?[ \t]*[=:][ \t]*)("""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[^\s,;}\]"'][^\s,;}\]"]*)/gi;
const AUTH_HEADER = /\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{4,}/g;
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi;

/** Masks known secret values and secret-looking `key = value` / auth-header / URL-credential shapes in text. */
export function redactText(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  out = out.replace(INLINE_SECRET, (m: string, prefix: string, value: string) => {
    // `spec.tls.listeners.secretName: Secret "x" …` names a Secret; it holds no secret value
    if (SECRET_REFERENCE_KEY.test(prefix.replace(/"?\s*[=:]\s*$/, '').replace(/[-_.]/g, ''))) return m;
    const quote = value.startsWith('"""') ? '"""' : value[0] === '"' || value[0] === "'" ? value[0] : '';
    return `${prefix}${quote}${REDACTED}${quote}`;
  });
  out = out.replace(AUTH_HEADER, (_m, scheme: string) => `${scheme} ${REDACTED}`);
  out = out.replace(URL_USERINFO, (_m, scheme: string) => `${scheme}${REDACTED}@`);
  return out;
}

/**
 * A deep copy of `value` that is safe to print: values under secret-looking keys become REDACTED, strings are passed
 * through `redactText`, Errors become `{ name, message, code?, status?, stack? }`, Dates ISO strings, BigInts strings,
 * Maps/Sets plain objects/arrays, and cycles `[Circular]`.
 */
export function redact(value: unknown, opts: { stack?: boolean } = {}): unknown {
  const seen = new WeakSet<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return redactText(v);
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'function' || typeof v === 'symbol') return undefined;
    if (v === null || typeof v !== 'object') return v;
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
    if (seen.has(v)) return '[Circular]';
    if (depth > 12) return '[Truncated]';
    seen.add(v);
    try {
      if (v instanceof Error) {
        const e = v as Error & { code?: unknown; status?: unknown; statusCode?: unknown };
        const out: Record<string, unknown> = { name: e.name, message: redactText(e.message) };
        if (e.code !== undefined) out.code = walk(e.code, depth + 1);
        if (e.status !== undefined) out.status = walk(e.status, depth + 1);
        if (opts.stack && e.stack) out.stack = redactText(e.stack);
        if (e.cause !== undefined) out.cause = walk(e.cause, depth + 1);
        return out;
      }
      if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
      if (v instanceof Set) return [...v].map((x) => walk(x, depth + 1));
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
      const out: Record<string, unknown> = {};
      for (const [k, x] of entries) {
        const key = String(k);
        out[key] =
          isSecretKey(key) && x !== undefined && x !== null && x !== '' ? REDACTED : walk(x, depth + 1);
      }
      return out;
    } finally {
      seen.delete(v);
    }
  };
  return walk(value, 0);
}

/** A dotted HOCON path (`authentication.1.password`, `node.cookie`) one of whose keys names a secret. */
export function isSecretPath(path: string): boolean {
  return path.split('.').some((seg) => isSecretKey(seg));
}

/**
 * The `errors` of an EMQX `PUT /configs` 400 answer with every value at a sensitive HOCON path masked. EMQX reports
 * a refused value as `{"kind":"validation_error","path":"authentication.1.password","reason":…,"value":…}`: the value
 * at a path naming a secret (password, cookie, license key, …) is replaced, and so is its text wherever else it
 * appears in that entry (a reason quoting it). Scalars under secret-looking keys are masked too; the rest is kept
 * (the path, the reason and the kind are what the user needs). Pure.
 */
export function redactConfigErrors(errors: unknown): unknown {
  const walk = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v !== 'object' || depth > 12) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const o = v as Record<string, unknown>;
    const sensitive = typeof o.path === 'string' && 'value' in o && isSecretPath(o.path);
    const text = sensitive && typeof o.value === 'string' && o.value.length >= 4 ? o.value : undefined;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      // a section named like a secret (`authorization`, `authentication`) is walked; a scalar under such a key masked
      const scalar = x !== undefined && x !== null && x !== '' && typeof x !== 'object';
      if ((sensitive && k === 'value') || (isSecretKey(k) && scalar)) out[k] = REDACTED;
      else if (text !== undefined && typeof x === 'string') out[k] = x.split(text).join(REDACTED);
      else out[k] = walk(x, depth + 1);
    }
    return out;
  };
  return walk(errors, 0);
}
