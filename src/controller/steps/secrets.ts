// The node cookie, bootstrap API key and licence Secrets. The cookie and the operator's API secret are generated
// once (CSPRNG) and then read back from the live Secrets: they never change under a running cluster.
import type { V1Secret } from '@kubernetes/client-node';
import { names } from '../../api/names.ts';
import { deletePath, getPath } from '../../hocon/index.ts';
import { isNotFound } from '../../k8s/rest.ts';
import {
  BOOTSTRAP_API_KEY_KEY,
  NODE_COOKIE_KEY,
  OPERATOR_API_KEY_NAME,
  bootstrapApiKeySecret,
  bootstrapApiKeySecretRefs,
  generateSecretValue,
  licenseSecret,
  licenseSecretName,
  nodeCookieSecret,
  resolveBootstrapApiKeys,
} from '../../resources/index.ts';
import { registerSecret } from '../../observability/redact.ts';
import type { ReconcileContext, Step } from '../context.ts';
import { applyIfChanged } from '../write.ts';

export function decodeSecret(secret: V1Secret | undefined, key: string): string | undefined {
  const v = secret?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/** The operator's API key from the live bootstrap Secret (`emqx-operator-controller:<secret>` line). */
export function operatorKeyFrom(secret: V1Secret | undefined): { key: string; secret: string } | undefined {
  const text = decodeSecret(secret, BOOTSTRAP_API_KEY_KEY);
  const line = text?.split('\n').find((l) => l.startsWith(`${OPERATOR_API_KEY_NAME}:`));
  if (!line) return undefined;
  return { key: OPERATOR_API_KEY_NAME, secret: line.slice(OPERATOR_API_KEY_NAME.length + 1).trim() };
}

/** Where the step leaves the operator's credentials for the API step. */
export const operatorCredentials = new WeakMap<ReconcileContext, { key: string; secret: string }>();

async function readUserSecrets(ctx: ReconcileContext): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const ref of bootstrapApiKeySecretRefs(ctx.emqx)) {
    if (out[ref.secretName]) continue;
    try {
      const s = (await ctx.client.get({
        apiVersion: 'v1',
        kind: 'Secret',
        namespace: ctx.namespace,
        name: ref.secretName,
      })) as V1Secret | undefined;
      if (!s) continue;
      out[ref.secretName] = Object.fromEntries(
        Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return out;
}

export const ensureSecrets: Step = {
  name: 'ensureSecrets',
  async run(ctx) {
    const { emqx, namespace } = ctx;
    // Node cookie: create-only. A later change of node.cookie in the config would split a running cluster.
    const cookieName = names.nodeCookieSecret(emqx);
    const liveCookie = ctx.cache.get<V1Secret>('Secret', namespace, cookieName);
    const existing = decodeSecret(liveCookie, NODE_COOKIE_KEY);
    let conf = ctx.conf;
    if (existing !== undefined) {
      const configured = getPath(conf, 'node.cookie');
      if (typeof configured === 'string' && configured !== existing) {
        void ctx.events.warning(
          ctx.raw,
          'CookieChangeIgnored',
          `node.cookie in spec.config.data differs from Secret ${cookieName}; the cookie of a running cluster is never changed`,
        );
      }
      conf = deletePath(conf, 'node.cookie');
    }
    const cookie = existing ?? generateSecretValue();
    registerSecret(cookie);
    await applyIfChanged(ctx, nodeCookieSecret(emqx, conf, { cookie }), liveCookie);

    // Bootstrap API keys: the operator's own key is generated once; user keys follow the spec.
    const keyName = names.bootstrapApiKeySecret(emqx);
    const liveKeys = ctx.cache.get<V1Secret>('Secret', namespace, keyName);
    const operatorKey = operatorKeyFrom(liveKeys) ?? {
      key: OPERATOR_API_KEY_NAME,
      secret: generateSecretValue(),
    };
    registerSecret(operatorKey.secret);
    const { keys, issues } = resolveBootstrapApiKeys(emqx, await readUserSecrets(ctx));
    for (const issue of issues) {
      void ctx.events.warning(ctx.raw, 'InvalidBootstrapAPIKey', `${issue.path}: ${issue.message}`);
    }
    for (const k of keys) registerSecret(k.secret);
    await applyIfChanged(ctx, bootstrapApiKeySecret(emqx, { operatorKey, userKeys: keys }), liveKeys);
    operatorCredentials.set(ctx, operatorKey);

    const license = licenseSecret(emqx, ctx.conf);
    if (license) {
      const key = getPath(ctx.conf, 'license.key');
      if (typeof key === 'string') registerSecret(key);
      await applyIfChanged(
        ctx,
        license,
        ctx.cache.get<V1Secret>('Secret', namespace, licenseSecretName(emqx)),
      );
    }
  },
};
