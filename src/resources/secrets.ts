// The three Secrets: node cookie, bootstrap API keys, licence key. Builders are pure: random values are made by
// the controller (generateSecretValue, once, kept in the Secret) and passed in.
import { randomInt } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { names } from '../api/names.ts';
import type { EMQX } from '../api/types.ts';
import type { HoconObject } from '../hocon/index.ts';
import { licenseKey, nodeCookie } from '../emqx/config.ts';
import { childMeta } from './metadata.ts';

export const NODE_COOKIE_KEY = 'node_cookie';
export const BOOTSTRAP_API_KEY_KEY = 'bootstrap_api_key';
export const LICENSE_KEY_KEY = 'license_key';
/** The API key the operator itself uses against EMQX's REST API. */
export const OPERATOR_API_KEY_NAME = 'emqx-operator-controller';
/** Length of generated cookies and API secrets. */
export const GENERATED_SECRET_LENGTH = 64;

/** `<name>-license`: holds `license.key` from the config (names.ts has no entry for it). */
export function licenseSecretName(emqx: EMQX): string {
  return `${emqx.metadata.name}-license`;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` characters of `[A-Za-z0-9]` from the CSPRNG (node:crypto), uniformly distributed. Not pure. */
export function generateSecretValue(length: number = GENERATED_SECRET_LENGTH): string {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`length: must be a positive integer`);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

function secret(emqx: EMQX, name: string, data: Record<string, string>): V1Secret {
  const encoded: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) encoded[k] = Buffer.from(v, 'utf8').toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: childMeta(emqx, name, { labels: emqx.metadata.labels }),
    type: 'Opaque',
    data: encoded,
  };
}

/**
 * `<name>-node-cookie`, key `node_cookie`: `node.cookie` from the config when it sets one, else `cookie` (which the
 * controller generates once and then reads back from the existing Secret).
 */
export function nodeCookieSecret(emqx: EMQX, conf: HoconObject, inputs: { cookie: string }): V1Secret {
  const cookie = nodeCookie(conf) ?? inputs.cookie;
  if (!cookie) throw new Error('node cookie: must not be empty');
  return secret(emqx, names.nodeCookieSecret(emqx), { [NODE_COOKIE_KEY]: cookie });
}

export interface ApiKey {
  key: string;
  secret: string;
  /** The spec field it came from (`spec.bootstrapAPIKeys[1].secretRef`), for error messages. */
  path?: string;
}

/**
 * Refuses a key EMQX would reject. Messages name the field, never the value: a key read from a Secret may well be
 * a secret pasted into the wrong key.
 */
function checkApiKey(k: ApiKey, what: string): void {
  if (!/^[a-zA-Z0-9_-]+$/.test(k.key))
    throw new Error(`${what}: key must match ^[a-zA-Z0-9_-]+$ (the value is not shown)`);
  if (k.secret.length < 3 || k.secret.length > 128)
    throw new Error(`${what}: secret must be 3 to 128 characters long`);
  if (/[:\r\n]/.test(k.secret)) throw new Error(`${what}: secret must not contain ':' or a line break`);
}

/**
 * `<name>-bootstrap-api-key`, key `bootstrap_api_key`: one `key:secret` line per user key (in spec order), then the
 * operator's `emqx-operator-controller:<secret>`. Throws (naming the key) on a line EMQX would refuse, since one
 * bad line makes EMQX skip the whole file.
 */
export function bootstrapApiKeySecret(
  emqx: EMQX,
  inputs: { operatorKey: ApiKey; userKeys: ApiKey[] },
): V1Secret {
  const lines: string[] = [];
  inputs.userKeys.forEach((k, i) => {
    checkApiKey(k, `bootstrap API key ${i + 1}${k.path ? ` (${k.path})` : ''}`);
    if (k.key === OPERATOR_API_KEY_NAME)
      throw new Error(`bootstrap API key ${i + 1}: the key name "${k.key}" is reserved for the operator`);
    lines.push(`${k.key}:${k.secret}`);
  });
  checkApiKey(inputs.operatorKey, 'operator API key');
  lines.push(`${inputs.operatorKey.key}:${inputs.operatorKey.secret}`);
  return secret(emqx, names.bootstrapApiKeySecret(emqx), {
    [BOOTSTRAP_API_KEY_KEY]: lines.join('\n') + '\n',
  });
}

/** A key of another Secret that must be read to build the bootstrap API-key Secret. */
export interface SecretKeyToRead {
  secretName: string;
  key: string;
  /** The spec field that names it, e.g. `spec.bootstrapAPIKeys[1].secretRef.secret`. */
  path: string;
}

/** Every Secret key `spec.bootstrapAPIKeys[].secretRef` points at, in spec order (Secrets in the EMQX's namespace). */
export function bootstrapApiKeySecretRefs(emqx: EMQX): SecretKeyToRead[] {
  const out: SecretKeyToRead[] = [];
  (emqx.spec.bootstrapAPIKeys ?? []).forEach((k, i) => {
    if (!k.secretRef) return;
    const base = `spec.bootstrapAPIKeys[${i}].secretRef`;
    out.push({ secretName: k.secretRef.key.secretName, key: k.secretRef.key.secretKey, path: `${base}.key` });
    out.push({
      secretName: k.secretRef.secret.secretName,
      key: k.secretRef.secret.secretKey,
      path: `${base}.secret`,
    });
  });
  return out;
}

/**
 * The user API keys of the spec, with `secretRef` ones looked up in `secrets` (Secret name → key → decoded value).
 * Pure: the controller reads the Secrets listed by bootstrapApiKeySecretRefs and passes their decoded data.
 * Missing Secrets or keys are reported as issues (path and reason), and those API keys are left out.
 */
export function resolveBootstrapApiKeys(
  emqx: EMQX,
  secrets: Readonly<Record<string, Readonly<Record<string, string>>>>,
): { keys: ApiKey[]; issues: { path: string; message: string }[] } {
  const keys: ApiKey[] = [];
  const issues: { path: string; message: string }[] = [];
  (emqx.spec.bootstrapAPIKeys ?? []).forEach((k, i) => {
    const base = `spec.bootstrapAPIKeys[${i}]`;
    if (k.secretRef) {
      const read = (ref: { secretName: string; secretKey: string }, path: string): string | undefined => {
        const s = secrets[ref.secretName];
        if (!s) {
          issues.push({ path, message: `Secret "${ref.secretName}" not found` });
          return undefined;
        }
        const v = s[ref.secretKey];
        if (v === undefined) {
          issues.push({ path, message: `Secret "${ref.secretName}" has no key "${ref.secretKey}"` });
          return undefined;
        }
        return v.trim();
      };
      const key = read(k.secretRef.key, `${base}.secretRef.key`);
      const secret = read(k.secretRef.secret, `${base}.secretRef.secret`);
      if (key !== undefined && secret !== undefined) keys.push({ key, secret, path: `${base}.secretRef` });
    } else if (k.key !== undefined && k.secret !== undefined) {
      keys.push({ key: k.key, secret: k.secret, path: base });
    } else {
      issues.push({ path: base, message: 'needs key and secret, or secretRef' });
    }
  });
  return { keys, issues };
}

/**
 * `<name>-license`, key `license_key`, when the config sets `license.key`; undefined otherwise. The pods read it as
 * env `EMQX_LICENSE__KEY`, and the ConfigMap never holds it.
 */
export function licenseSecret(emqx: EMQX, conf: HoconObject): V1Secret | undefined {
  const key = licenseKey(conf);
  if (key === undefined) return undefined;
  return secret(emqx, licenseSecretName(emqx), { [LICENSE_KEY_KEY]: key });
}
