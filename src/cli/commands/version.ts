// `emqx-operator version`: the operator's version (package.json) and the Node.js running it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseFlags, runCommand, type Command } from '../args.ts';

const HELP = `Usage: emqx-operator version

Prints the operator version and the Node.js version running it.`;

export function operatorVersion(): string {
  const pkg = JSON.parse(
    readFileSync(path.resolve(import.meta.dirname, '../../../package.json'), 'utf8'),
  ) as {
    version: string;
  };
  return pkg.version;
}

export const command: Command = {
  run: (args) =>
    runCommand(
      'emqx-operator version',
      HELP,
      () => parseFlags(args, {}).values,
      async () => {
        process.stdout.write(`emqx-operator ${operatorVersion()} (Node.js ${process.version})\n`);
        return 0;
      },
    ),
};
