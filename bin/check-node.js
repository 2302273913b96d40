// The Node.js version check every entry point runs first (npm start/test, bin/emqx-operator.js). Plain
// JavaScript on purpose: an older Node cannot even load a .ts file (ERR_UNKNOWN_FILE_EXTENSION), so this file must
// run, and say what to do, before anything TypeScript is imported.
import { fileURLToPath } from 'node:url';

/** The Node.js major version the repo pins (.node-version, the `node` dev dependency, the image's base). */
export const REQUIRED_MAJOR = 24;

/** One line saying what is wrong and what to run, or undefined when this Node will do. */
export function nodeVersionProblem(version = process.versions.node, execPath = process.execPath) {
  const major = Number(String(version).split('.')[0]);
  if (major === REQUIRED_MAJOR) return undefined;
  return (
    `emqx-operator needs Node.js ${REQUIRED_MAJOR}, not ${version} (${execPath}): ` +
    'run `npm rebuild node` (or `npm ci`) in the repository to install the pinned Node into node_modules/.bin, ' +
    'then use npm scripts, npx or ./node_modules/.bin/node'
  );
}

/** Exits with status 1 after printing the one line when this Node will not do. */
export function checkNode() {
  const problem = nodeVersionProblem();
  if (problem) {
    process.stderr.write(problem + '\n');
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) checkNode();
