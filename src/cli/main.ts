// Entry point of the `emqx-operator` CLI, the operator image's command. Each subcommand lives in its own module
// under ./commands and is loaded only when it is used, so `render` never pays for the controller. Only commands
// that work in the image belong here: the sandbox and the demo are the repo's own tools (sandbox/cli).
import { dispatch } from './args.ts';

export type { Command } from './args.ts';

export const commands = {
  run: { summary: 'run the operator against a Kubernetes cluster', load: () => import('./commands/run.ts') },
  render: {
    summary: 'print every Kubernetes object the operator would create for EMQX resources (no cluster needed)',
    load: () => import('./commands/render.ts'),
  },
  crds: {
    summary: 'print (or --write) the CustomResourceDefinitions',
    load: () => import('./commands/crds.ts'),
  },
  version: { summary: 'print the operator version', load: () => import('./commands/version.ts') },
};

/**
 * A reader that goes away early (`emqx-operator crds | head`) is no error of ours: stdout's EPIPE ends the process
 * quietly, with status 0, instead of an unhandled 'error' event and a stack trace. Other write errors still fail.
 */
export function exitQuietlyOnEpipe(stream: NodeJS.WriteStream = process.stdout): void {
  if (epipeHandled.has(stream)) return;
  epipeHandled.add(stream);
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
const epipeHandled = new WeakSet<NodeJS.WriteStream>();

export function main(argv: string[]): Promise<number> {
  exitQuietlyOnEpipe();
  return dispatch('emqx-operator', commands, argv);
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
