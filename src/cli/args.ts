// How every command reads its command line, the same way: node:util parseArgs (strict: an unknown flag or a
// missing value is an error) with -h/--help added, inside a pure `parseXArgs(args)` that throws an Error naming
// the flag; `runCommand` turns that into the command's exit code and output.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/** The shape of one command of a CLI (`emqx-operator`, the sandbox CLI). */
export interface Command {
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/** Exit code of a command line that cannot run: unknown flag, missing or bad value. */
export const EXIT_USAGE = 2;

const HELP_FLAG = { help: { type: 'boolean', short: 'h', default: false } } as const;

/** node:util parseArgs, strict, plus -h/--help. Throws (with node's message naming the flag) on bad input. */
export function parseFlags<O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  return parseArgs({ args, options: { ...options, ...HELP_FLAG }, strict: true, allowPositionals: false });
}

export interface CommandIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIO: CommandIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

/**
 * Runs one command: `parse()` throwing → "<name>: <message>" and the help on stderr, exit 2; `--help` → the help
 * on stdout, exit 0; else the command's body.
 */
export async function runCommand<T extends { help: boolean }>(
  name: string,
  help: string,
  parse: () => T,
  body: (opts: T) => Promise<number>,
  io: CommandIO = processIO,
): Promise<number> {
  let opts: T;
  try {
    opts = parse();
  } catch (err) {
    io.stderr(`${name}: ${(err as Error).message}\n\n${help.trimEnd()}\n`);
    return EXIT_USAGE;
  }
  if (opts.help) {
    io.stdout(help.trimEnd() + '\n');
    return 0;
  }
  return body(opts);
}

/**
 * A CLI made of commands loaded on first use: `<cli> <command> [options]`, `<cli> --help`. Resolves to the exit
 * code.
 */
export async function dispatch(
  cli: string,
  commands: Record<string, { summary: string; load: () => Promise<{ command: Command }> }>,
  argv: string[],
  io: CommandIO = processIO,
): Promise<number> {
  const width = Math.max(...Object.keys(commands).map((n) => n.length)) + 2;
  const usage = [
    `Usage: ${cli} <command> [options]`,
    '',
    'Commands:',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(width)}${c.summary}`),
    '',
    `Run \`${cli} <command> --help\` for the options of a command.`,
  ].join('\n');
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? io.stdout : io.stderr)(usage + '\n');
    return name ? 0 : EXIT_USAGE;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!entry) {
    io.stderr(`${cli}: unknown command "${name}"\n\n${usage}\n`);
    return EXIT_USAGE;
  }
  const { command } = await entry.load();
  return command.run(rest);
}
