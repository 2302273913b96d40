// Which copy of the operator the sandbox runs: the TypeScript sources (default), or a plain-JavaScript build made by
// `npm run build` when $EMQX_SANDBOX_OPERATOR_BUILD names its directory (relative to the repo, e.g. `dist`) — what
// the container image runs — so that build is tested and measured the same way (e2e tests, `npm run bench`).
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

/** The build directory in use, or undefined for the sources. */
export function operatorBuildDir(): string | undefined {
  const dir = process.env.EMQX_SANDBOX_OPERATOR_BUILD;
  return dir ? path.resolve(ROOT, dir) : undefined;
}

/** The directory that plays the image's /app: the build, or the repository. */
export function operatorAppDir(): string {
  return operatorBuildDir() ?? ROOT;
}

/** The CLI entry point: `src/cli/main.ts`, or the build's `src/cli/main.js`. */
export function operatorMain(): string {
  const built = operatorBuildDir();
  return built ? path.join(built, 'src/cli/main.js') : path.join(ROOT, 'src/cli/main.ts');
}
