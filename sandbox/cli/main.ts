// Entry point of the sandbox's own CLI (`npm start` runs `demo`, `npm run sandbox` runs `sandbox`). It lives with
// the sandbox, outside src/: the operator and its image know nothing of it.
import { dispatch } from '../../src/cli/args.ts';

export const commands = {
  demo: {
    summary:
      'start the sandbox with the operator, apply an example cluster and follow it until Ready (npm start)',
    load: () => import('./demo.ts'),
  },
  sandbox: {
    summary: 'start a local Kubernetes control plane with emulated nodes and the operator (npm run sandbox)',
    load: () => import('./sandbox.ts'),
  },
};

export function main(argv: string[]): Promise<number> {
  return dispatch('node sandbox/cli/main.ts', commands, argv);
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
