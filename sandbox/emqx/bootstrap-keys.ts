// Bootstrap API keys (`api_key.bootstrap_file`), as emqx_mgmt_auth reads them, and the stored form of API keys.
//
// Line formats (blank lines skipped): `key:secret`, `key:secret:role`, `key:secret:role:scope1,scope2`,
// `key:secret:ns:<ns>::role[:scopes]`. Neither key nor secret may contain `:`. Roles: administrator (default),
// viewer, publisher. The first bad line aborts the load: keys from earlier lines stay, later lines are ignored.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type ApiRole = 'administrator' | 'viewer' | 'publisher';
const ROLES: ReadonlySet<string> = new Set(['administrator', 'viewer', 'publisher']);

export interface BootstrapKey {
  key: string;
  secret: string;
  role: ApiRole;
  namespace?: string;
  scopes?: string[];
}

export interface BootstrapParseResult {
  keys: BootstrapKey[];
  /** Set when a line was bad; `keys` then holds only the lines before it. Never contains the secret. */
  error?: { line: number; reason: string };
}

export function parseBootstrapFile(text: string): BootstrapParseResult {
  const keys: BootstrapKey[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const parsed = parseLine(line.trim());
    if (typeof parsed === 'string') return { keys, error: { line: i + 1, reason: parsed } };
    keys.push(parsed);
  }
  return { keys };
}

function parseLine(line: string): BootstrapKey | string {
  const parts = line.split(':');
  if (parts.length < 2) return 'invalid_format';
  const [key, secret] = parts as [string, string];
  if (key === '' || secret === '') return 'invalid_format';
  const rest = parts.slice(2);
  let namespace: string | undefined;
  if (rest[0] === 'ns') {
    // key:secret:ns:<ns>::role[:scopes]
    if (rest.length < 4 || rest[1] === '' || rest[2] !== '') return 'invalid_format';
    namespace = rest[1];
    rest.splice(0, 3);
  }
  if (rest.length > 2) return 'invalid_format';
  const role = rest[0] === undefined || rest[0] === '' ? 'administrator' : rest[0];
  if (!ROLES.has(role)) return 'invalid_role';
  const scopes = rest[1] === undefined ? undefined : rest[1].split(',').filter((s) => s !== '');
  const out: BootstrapKey = { key, secret, role: role as ApiRole };
  if (namespace !== undefined) out.namespace = namespace;
  if (scopes !== undefined) out.scopes = scopes;
  return out;
}

/** The name EMQX gives a key loaded from the bootstrap file. */
export function bootstrapKeyName(key: string): string {
  return `from_bootstrap_file_${createHash('sha512').update(key).digest('hex').slice(0, 16)}`;
}

/** An API key as stored in the replicated `api_keys` table (the secret only as a salted hash). */
export interface StoredApiKey {
  name: string;
  api_key: string;
  secret_hash: string;
  salt: string;
  role: ApiRole;
  enable: boolean;
  expired_at: string;
  desc: string;
  created_at: number;
  namespace?: string;
  scopes?: string[];
}

function hash(salt: string, secret: string): string {
  return createHash('sha256').update(salt).update(':').update(secret).digest('hex');
}

export function storeApiKey(
  name: string,
  key: string,
  secret: string,
  role: ApiRole,
  createdAt: number,
  extra: { desc?: string; namespace?: string; scopes?: string[] } = {},
): StoredApiKey {
  const salt = randomBytes(8).toString('hex');
  const out: StoredApiKey = {
    name,
    api_key: key,
    secret_hash: hash(salt, secret),
    salt,
    role,
    enable: true,
    expired_at: 'infinity',
    desc: extra.desc ?? '',
    created_at: createdAt,
  };
  if (extra.namespace !== undefined) out.namespace = extra.namespace;
  if (extra.scopes !== undefined) out.scopes = extra.scopes;
  return out;
}

export function verifyApiSecret(stored: StoredApiKey, secret: string): boolean {
  const a = Buffer.from(stored.secret_hash, 'hex');
  const b = Buffer.from(hash(stored.salt, secret), 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
