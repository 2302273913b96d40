import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, parseLogLevel } from './logger.ts';
import { execFileSync } from 'node:child_process';
import { forgetSecret, REDACTED, registerSecret } from './redact.ts';

function capture(level: 'debug' | 'info' | 'warn' | 'error' = 'info') {
  const lines: string[] = [];
  const log = createLogger({
    level,
    sink: (l) => lines.push(l),
    now: () => new Date('2024-05-01T10:00:00Z'),
  });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('writes one JSON object per line with level, time, msg and fields', () => {
  const { log, lines, parsed } = capture();
  log.info('reconciled', { emqx: 'default/emqx', steps: 3 });
  assert.equal(lines.length, 1);
  assert.deepEqual(parsed()[0], {
    level: 'info',
    time: '2024-05-01T10:00:00.000Z',
    msg: 'reconciled',
    emqx: 'default/emqx',
    steps: 3,
  });
});

test('filters by level', () => {
  const { log, parsed } = capture('warn');
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  assert.deepEqual(
    parsed().map((r) => r.level),
    ['warn', 'error'],
  );
  assert.equal(log.enabled('info'), false);
  assert.equal(log.enabled('error'), true);
});

test('child loggers add fields; the child wins; reserved names are not overwritten', () => {
  const { log, parsed } = capture();
  const c = log.child({ controller: 'emqx', key: 'a' }).child({ key: 'b' });
  c.info('x', { msg: 'sneaky', extra: true });
  const r = parsed()[0]!;
  assert.equal(r.controller, 'emqx');
  assert.equal(r.key, 'b');
  assert.equal(r.msg, 'x');
  assert.equal(r['field.msg'], 'sneaky');
});

test('secrets never reach the output', () => {
  const { log, lines } = capture();
  log.info('bootstrap key loaded', {
    apiKey: 'k1',
    secret: 'ultra-secret',
    env: { EMQX_NODE__COOKIE: 'cookie-xyz' },
  });
  log.info('sending Authorization: Basic dXNlcjpwYXNz');
  const text = lines.join('\n');
  assert.ok(!text.includes('ultra-secret'), text);
  assert.ok(!text.includes('cookie-xyz'), text);
  assert.ok(!text.includes('dXNlcjpwYXNz'), text);
  assert.ok(text.includes(REDACTED));
});

test('errors are serialised with message, code and (at error level) stack', () => {
  const { log, parsed } = capture();
  log.error('failed', { err: Object.assign(new Error('nope'), { code: 'ETIMEDOUT' }) });
  log.warn('failed', { err: new Error('nope') });
  const [e, w] = parsed() as Array<{ err: Record<string, unknown> }>;
  assert.equal(e!.err.message, 'nope');
  assert.equal(e!.err.code, 'ETIMEDOUT');
  assert.equal(typeof e!.err.stack, 'string');
  assert.equal(w!.err.stack, undefined);
});

test('parseLogLevel', () => {
  assert.equal(parseLogLevel(undefined), 'info');
  assert.equal(parseLogLevel('DEBUG'), 'debug');
  assert.equal(parseLogLevel('warning'), 'warn');
  assert.throws(() => parseLogLevel('loud'), /not one of/);
});

test('registered secrets are masked by value in the message, fields and child fields', () => {
  const { log, lines } = capture();
  registerSecret('c0ok1e-value-42');
  try {
    const child = log.child({ note: 'joined with c0ok1e-value-42' });
    child.warn('node refused cookie c0ok1e-value-42', { detail: ['x', { y: 'c0ok1e-value-42!' }] });
  } finally {
    forgetSecret('c0ok1e-value-42');
  }
  const text = lines.join('\n');
  assert.ok(!text.includes('c0ok1e-value-42'), text);
  assert.equal(text.split(REDACTED).length - 1, 3, text);
});

test('printf-like sequences in a message are written as they are', () => {
  const { log, parsed } = capture();
  log.info('100% done %s %d', { n: 1 });
  assert.equal(parsed()[0]!.msg, '100% done %s %d');
});

test('a child field replaces the parent field of the same name (one key per line)', () => {
  const { log, lines } = capture();
  log.child({ key: 'a' }).child({ key: 'b' }).info('x', { other: 1 });
  assert.equal(lines[0]!.match(/"key"/g)?.length, 1, lines[0]);
});

test('without a sink, lines go to stderr synchronously, stdout stays empty', () => {
  const url = new URL('./logger.ts', import.meta.url).href;
  const script = `const { createLogger } = await import(${JSON.stringify(url)});
    const log = createLogger({ level: 'debug' });
    log.debug('one', { a: 1 });
    log.error('two');
    process.exit(3);`;
  let stderr = '';
  let stdout = '';
  try {
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    assert.equal(e.status, 3);
    stdout = e.stdout;
    stderr = e.stderr;
  }
  assert.equal(stdout, '');
  const recs = stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    recs.map((r) => [r.level, r.msg, typeof r.time]),
    [
      ['debug', 'one', 'string'],
      ['error', 'two', 'string'],
    ],
  );
  assert.ok(!Number.isNaN(Date.parse(recs[0]!.time as string)));
});
