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

export function main(argv: string[]): Promise<number> {
  return dispatch('emqx-operator', commands, argv);
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
