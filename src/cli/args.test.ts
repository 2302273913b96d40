import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dispatch, EXIT_USAGE, parseFlags, runCommand } from './args.ts';

function io() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (t: string) => (out.stdout += t), stderr: (t: string) => (out.stderr += t) } };
}

test('parseFlags: strict node:util parseArgs plus -h/--help', () => {
  const opts = { name: { type: 'string', short: 'n' }, on: { type: 'boolean', default: false } } as const;
  assert.deepEqual({ ...parseFlags(['-n', 'x', '--on'], opts).values }, { name: 'x', on: true, help: false });
  assert.equal(parseFlags(['-h'], opts).values.help, true);
  assert.throws(() => parseFlags(['--other'], opts), /--other/);
  assert.throws(() => parseFlags(['--name'], opts), /--name/);
  assert.throws(() => parseFlags(['positional'], opts), /positional/);
});

test('runCommand: bad usage → message and help on stderr, exit 2; --help → stdout, exit 0; else the body', async () => {
  let ran = 0;
  const body = async () => (ran++, 7);
  const bad = io();
  const code = await runCommand(
    'tool cmd',
    'Usage: tool cmd\n',
    () => {
      throw new Error('--x: no');
    },
    body,
    bad.io,
  );
  assert.equal(code, EXIT_USAGE);
  assert.equal(bad.out.stderr, 'tool cmd: --x: no\n\nUsage: tool cmd\n');
  assert.equal(bad.out.stdout, '');
  const help = io();
  assert.equal(await runCommand('tool cmd', 'Usage: tool cmd', () => ({ help: true }), body, help.io), 0);
  assert.equal(help.out.stdout, 'Usage: tool cmd\n');
  assert.equal(ran, 0);
  assert.equal(await runCommand('tool cmd', 'Usage', () => ({ help: false }), body, io().io), 7);
  assert.equal(ran, 1);
});

test('dispatch: usage lists the commands; unknown or no command exits 2; a command is loaded only when run', async () => {
  let loaded = 0;
  const commands = {
    hello: {
      summary: 'says hello',
      load: async () => (loaded++, { command: { run: async (args: string[]) => args.length } }),
    },
    'long-name': { summary: 'another', load: async () => ({ command: { run: async () => 0 } }) },
  };
  const h = io();
  assert.equal(await dispatch('tool', commands, ['--help'], h.io), 0);
  assert.match(
    h.out.stdout,
    /^Usage: tool <command> \[options\]\n\nCommands:\n {2}hello {6}says hello\n {2}long-name {2}another\n/,
  );
  assert.equal(loaded, 0);
  const none = io();
  assert.equal(await dispatch('tool', commands, [], none.io), EXIT_USAGE);
  assert.match(none.out.stderr, /^Usage: tool/);
  const unknown = io();
  assert.equal(await dispatch('tool', commands, ['toString'], unknown.io), EXIT_USAGE);
  assert.match(unknown.out.stderr, /^tool: unknown command "toString"/);
  assert.equal(await dispatch('tool', commands, ['hello', 'a', 'b'], io().io), 2);
  assert.equal(loaded, 1);
});
