import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  forgetSecret,
  isSecretKey,
  isSecretPath,
  redact,
  redactConfigErrors,
  redactText,
  registerSecret,
  REDACTED,
} from './redact.ts';

test('isSecretKey matches secret-looking keys but not references to secrets', () => {
  for (const k of [
    'cookie',
    'nodeCookie',
    'EMQX_NODE__COOKIE',
    'password',
    'apiKey',
    'api_key',
    'secret',
    'token',
  ]) {
    assert.equal(isSecretKey(k), true, k);
  }
  for (const k of ['licenseKey', 'Authorization', 'bootstrapAPIKeys', 'privateKey'])
    assert.equal(isSecretKey(k), true, k);
  for (const k of ['secretName', 'secretRef', 'secretKeyRef', 'name', 'image', 'replicas', 'keyName']) {
    assert.equal(isSecretKey(k), false, k);
  }
});

test('redact masks values under secret keys at any depth and keeps the rest', () => {
  const input = {
    msg: 'x',
    node: { cookie: 'abc123', name: 'emqx-core-0' },
    keys: [{ key: 'k', secret: 's3cr3t' }],
    headers: { Authorization: 'Basic a2V5OnNlY3JldA==' },
    secretRef: { name: 'emqx-cookie' },
    empty: { password: '' },
  };
  assert.deepEqual(redact(input), {
    msg: 'x',
    node: { cookie: REDACTED, name: 'emqx-core-0' },
    keys: [{ key: 'k', secret: REDACTED }],
    headers: { Authorization: REDACTED },
    secretRef: { name: 'emqx-cookie' },
    empty: { password: '' },
  });
});

test('redact handles errors, dates, bigints, maps and cycles', () => {
  const cyc: Record<string, unknown> = { a: 1 };
  cyc.self = cyc;
  const err = Object.assign(new Error('boom token=abcdef'), { code: 'ECONNRESET' });
  const out = redact({ cyc, err, when: new Date(0), big: 10n, m: new Map([['password', 'p']]) }) as Record<
    string,
    unknown
  >;
  assert.deepEqual(out.cyc, { a: 1, self: '[Circular]' });
  assert.deepEqual(out.err, { name: 'Error', message: `boom token=${REDACTED}`, code: 'ECONNRESET' });
  assert.equal(out.when, '1970-01-01T00:00:00.000Z');
  assert.equal(out.big, '10');
  assert.deepEqual(out.m, { password: REDACTED });
});

test('redactText masks registered values, inline key=value shapes, auth headers and URL credentials', () => {
  registerSecret('very-secret-cookie-value');
  try {
    assert.equal(redactText('cookie is very-secret-cookie-value here'), `cookie is ${REDACTED} here`);
    assert.equal(
      redactText('node.cookie = "abc"\nnode.name = x'),
      `node.cookie = "${REDACTED}"\nnode.name = x`,
    );
    assert.equal(redactText('EMQX_NODE__COOKIE=abc other=1'), `EMQX_NODE__COOKIE=${REDACTED} other=1`);
    assert.equal(redactText('{"password":"hunter2","user":"u"}'), `{"password":"${REDACTED}","user":"u"}`);
    assert.equal(redactText('Authorization: Basic a2V5OnNlY3JldA=='), `Authorization: Basic ${REDACTED}`);
    assert.equal(
      redactText('GET http://key:secret@10.0.0.1:18083/x'),
      `GET http://${REDACTED}@10.0.0.1:18083/x`,
    );
    assert.equal(redactText('replicas changed from 2 to 3'), 'replicas changed from 2 to 3');
    // a reference to a Secret (its name) is not a secret value; the value beside it still is
    assert.equal(
      redactText('spec.tls.listeners.secretName: Secret "mqtt-tls" has no tls.key'),
      'spec.tls.listeners.secretName: Secret "mqtt-tls" has no tls.key',
    );
    assert.equal(redactText('secretRef: s1, secret: abc'), `secretRef: s1, secret: ${REDACTED}`);
  } finally {
    forgetSecret('very-secret-cookie-value');
  }
  assert.equal(redactText('very-secret-cookie-value'), 'very-secret-cookie-value');
});

test('redactText masks only the value after `passwd:`, never what follows it', () => {
  // nothing after the key on its line: the next line is not its value
  assert.equal(redactText('mysql.passwd:\nserver: db:3306'), 'mysql.passwd:\nserver: db:3306');
  assert.equal(redactText('passwd = \n  pool_size = 8'), 'passwd = \n  pool_size = 8');
  assert.equal(redactText('passwd: hunter2\nnext line: fine'), `passwd: ${REDACTED}\nnext line: fine`);
  assert.equal(redactText('user=bob passwd:hunter2 node=emqx@a'), `user=bob passwd:${REDACTED} node=emqx@a`);
  assert.equal(
    redactText('mysql { passwd = "s3 cr3t", server = "db:3306" }'),
    `mysql { passwd = "${REDACTED}", server = "db:3306" }`,
  );
  // a quoted value is masked whole, in every quoting HOCON and YAML use, and nothing after it
  assert.equal(redactText("passwd: 'two words' rest"), `passwd: '${REDACTED}' rest`);
  assert.equal(redactText('passwd = """multi\nline""" port = 1'), `passwd = """${REDACTED}""" port = 1`);
  assert.equal(redactText("passwd: it's-secret, user: bob"), `passwd: ${REDACTED}, user: bob`);
});

test('redactConfigErrors: an EMQX 400 masks the value at a sensitive HOCON path, keeps path, kind and reason', () => {
  const errors = {
    authentication: {
      kind: 'validation_error',
      path: 'authentication.1.password',
      reason: 'bad value: "hunter2-db-pass"',
      value: 'hunter2-db-pass',
    },
    log: {
      kind: 'validation_error',
      path: 'log.console.level',
      reason: 'unable_to_convert_to_enum_symbol',
      value: 'x',
    },
    node: [{ path: 'node.cookie', value: { nested: 'abcd-cookie' } }],
  };
  assert.deepEqual(redactConfigErrors(errors), {
    authentication: {
      kind: 'validation_error',
      path: 'authentication.1.password',
      reason: `bad value: "${REDACTED}"`,
      value: REDACTED,
    },
    log: {
      kind: 'validation_error',
      path: 'log.console.level',
      reason: 'unable_to_convert_to_enum_symbol',
      value: 'x',
    },
    node: [{ path: 'node.cookie', value: REDACTED }],
  });
  assert.equal(redactConfigErrors('Cannot update read-only key'), 'Cannot update read-only key');
  assert.ok(isSecretPath('license.key') && isSecretPath('dashboard.default_password'));
  assert.ok(!isSecretPath('listeners.tcp.default.bind'));
});
