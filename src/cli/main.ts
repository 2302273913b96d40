// Entry point of the `emqx-operator` CLI. Each subcommand lives in its own module under ./commands and is loaded
// only when it is used, so `render` never pays for the controller and `run` never loads the sandbox.

export interface Command {
  /** One line for `emqx-operator --help`. */
  summary: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

const commands: Record<string, () => Promise<{ command: Command }>> = {
  render: () => import('./commands/render.ts'),
  crds: () => import('./commands/crds.ts'),
  run: () => import('./commands/run.ts'),
  sandbox: () => import('./commands/sandbox.ts'),
  demo: () => import('./commands/demo.ts'),
};

function usage(): string {
  return [
    'Usage: emqx-operator <command> [options]',
    '',
    'Commands:',
    '  render    print every Kubernetes object the operator would create for EMQX resources (no cluster needed)',
    '  crds      print (or --write) the CustomResourceDefinitions',
    '  run       run the operator against a Kubernetes cluster',
    '  sandbox   start a local Kubernetes control plane with emulated EMQX nodes (for trying things out)',
    '  demo      start the sandbox, apply the example cluster and wait until it is Ready',
    '',
    'Run `emqx-operator <command> --help` for the options of a command.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 1;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`emqx-operator: unknown command "${name}"\n\n${usage()}\n`);
    return 1;
  }
  const { command } = await load();
  return command.run(rest);
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
