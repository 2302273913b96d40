import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEmqxConfig } from '../emqx/config.ts';
import {
  bootstrapApiKeySecret,
  bootstrapApiKeySecretRefs,
  generateSecretValue,
  licenseSecret,
  nodeCookieSecret,
  resolveBootstrapApiKeys,
} from './secrets.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';

const decode = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
const operatorKey = { key: 'emqx-operator-controller', secret: 'op-secret-123' };

test('generateSecretValue: requested length, alphanumeric, different every call', () => {
  const a = generateSecretValue(64);
  const b = generateSecretValue(64);
  assert.match(a, /^[A-Za-z0-9]{64}$/);
  assert.notEqual(a, b);
  assert.equal(generateSecretValue(5).length, 5);
  assert.throws(() => generateSecretValue(0), RangeError);
});

test('nodeCookieSecret: the config cookie wins over the generated one', () => {
  const emqx = makeEmqx();
  const s = nodeCookieSecret(emqx, {}, { cookie: 'generated' });
  assert.equal(s.metadata?.name, 'emqx-node-cookie');
  assert.equal(s.metadata?.namespace, 'ns1');
  assert.equal(s.metadata?.labels?.['apps.emqx.io/instance'], 'emqx');
  assert.equal(s.metadata?.ownerReferences?.[0]?.uid, 'uid-1234');
  assert.equal(decode(s.data?.node_cookie), 'generated');
  const fromConf = nodeCookieSecret(emqx, parseEmqxConfig('node.cookie = "from-config"'), {
    cookie: 'generated',
  });
  assert.equal(decode(fromConf.data?.node_cookie), 'from-config');
});

test('bootstrapApiKeySecret: user keys first, then the operator key, one key:secret per line', () => {
  const s = bootstrapApiKeySecret(makeEmqx(), {
    operatorKey,
    userKeys: [
      { key: 'k1', secret: 'secret1' },
      { key: 'k2', secret: 'secret2' },
    ],
  });
  assert.equal(s.metadata?.name, 'emqx-bootstrap-api-key');
  assert.equal(
    decode(s.data?.bootstrap_api_key),
    'k1:secret1\nk2:secret2\nemqx-operator-controller:op-secret-123\n',
  );
});

test('bootstrapApiKeySecret refuses lines EMQX would reject', () => {
  const emqx = makeEmqx();
  assert.throws(
    () => bootstrapApiKeySecret(emqx, { operatorKey, userKeys: [{ key: 'a:b', secret: 'secret' }] }),
    /bootstrap API key 1.*key must match/,
  );
  assert.throws(
    () => bootstrapApiKeySecret(emqx, { operatorKey, userKeys: [{ key: 'a', secret: 'x:y:z' }] }),
    /must not contain ':'/,
  );
  assert.throws(
    () => bootstrapApiKeySecret(emqx, { operatorKey, userKeys: [{ key: 'a', secret: 'xy' }] }),
    /3 to 128/,
  );
  assert.throws(
    () =>
      bootstrapApiKeySecret(emqx, {
        operatorKey,
        userKeys: [{ key: 'emqx-operator-controller', secret: 'xyz' }],
      }),
    /reserved/,
  );
});

test('a key read from a Secret that EMQX would refuse is named by field, never quoted', () => {
  const emqx = makeEmqx({
    bootstrapAPIKeys: [
      {
        secretRef: {
          key: { secretName: 'keys', secretKey: 'name' },
          secret: { secretName: 'keys', secretKey: 'value' },
        },
      },
    ],
  });
  // the user put the secret access key into the key field
  const r = resolveBootstrapApiKeys(emqx, {
    keys: { name: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', value: 'sec-value' },
  });
  let message = '';
  try {
    bootstrapApiKeySecret(emqx, { operatorKey, userKeys: r.keys });
  } catch (e) {
    message = (e as Error).message;
  }
  assert.equal(
    message,
    'bootstrap API key 1 (spec.bootstrapAPIKeys[0].secretRef): key must match ^[a-zA-Z0-9_-]+$ (the value is not shown)',
  );
  assert.doesNotMatch(message, /wJalr|EXAMPLEKEY/);
});

test('bootstrapApiKeySecretRefs and resolveBootstrapApiKeys', () => {
  const emqx = makeEmqx({
    bootstrapAPIKeys: [
      { key: 'inline', secret: 'inline-secret' },
      {
        secretRef: {
          key: { secretName: 'keys', secretKey: 'name' },
          secret: { secretName: 'keys', secretKey: 'value' },
        },
      },
      {
        secretRef: {
          key: { secretName: 'missing', secretKey: 'k' },
          secret: { secretName: 'keys', secretKey: 'nope' },
        },
      },
    ],
  });
  assert.deepEqual(bootstrapApiKeySecretRefs(emqx), [
    { secretName: 'keys', key: 'name', path: 'spec.bootstrapAPIKeys[1].secretRef.key' },
    { secretName: 'keys', key: 'value', path: 'spec.bootstrapAPIKeys[1].secretRef.secret' },
    { secretName: 'missing', key: 'k', path: 'spec.bootstrapAPIKeys[2].secretRef.key' },
    { secretName: 'keys', key: 'nope', path: 'spec.bootstrapAPIKeys[2].secretRef.secret' },
  ]);
  const r = resolveBootstrapApiKeys(emqx, { keys: { name: 'from-secret\n', value: 'sec-value' } });
  assert.deepEqual(r.keys, [
    { key: 'inline', secret: 'inline-secret', path: 'spec.bootstrapAPIKeys[0]' },
    { key: 'from-secret', secret: 'sec-value', path: 'spec.bootstrapAPIKeys[1].secretRef' },
  ]);
  assert.deepEqual(r.issues, [
    { path: 'spec.bootstrapAPIKeys[2].secretRef.key', message: 'Secret "missing" not found' },
    { path: 'spec.bootstrapAPIKeys[2].secretRef.secret', message: 'Secret "keys" has no key "nope"' },
  ]);
});

test('licenseSecret: only when the config sets license.key', () => {
  const emqx = makeEmqx();
  assert.equal(licenseSecret(emqx, {}), undefined);
  const s = licenseSecret(emqx, parseEmqxConfig('license { key = "MY-LICENSE" }'));
  assert.equal(s?.metadata?.name, 'emqx-license');
  assert.equal(decode(s?.data?.license_key), 'MY-LICENSE');
});
