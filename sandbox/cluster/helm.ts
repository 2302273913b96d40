// Where the `helm` binary is: $EMQX_SANDBOX_HELM (a directory holding `helm`), or whatever
// sandbox/build/build-helm.sh prints on its last line (it builds Helm from its Go module on the first run, into the
// same cache as the Kubernetes binaries, then answers from cache).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BuildScriptError, runBuildScript } from './build-script.ts';

export const HELM_BUILD_SCRIPT = path.resolve(import.meta.dirname, '../build/build-helm.sh');

export interface ResolveHelmOptions {
  /** Receives the build script's progress lines (stderr). */
  onProgress?: (chunk: string) => void;
  /** Environment of the build script (default process.env); EMQX_SANDBOX_CACHE there moves the cache. */
  env?: NodeJS.ProcessEnv;
}

/** Returns the path of the helm binary, building it first when needed. */
export async function resolveHelm(opts: ResolveHelmOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const fromEnv = env.EMQX_SANDBOX_HELM;
  if (fromEnv) {
    const helm = path.join(fromEnv, 'helm');
    if (!existsSync(helm))
      throw new Error(`EMQX_SANDBOX_HELM=${fromEnv} has no helm; unset it to build Helm`);
    return helm;
  }
  const dir = await runBuildScript(HELM_BUILD_SCRIPT, { env, onProgress: opts.onProgress }).catch(
    (e: unknown) => {
      if (!(e instanceof BuildScriptError) || e.code === null) throw e;
      throw new Error(`building Helm failed (exit ${e.code}):\n${e.tail(15)}`);
    },
  );
  const helm = path.join(dir, 'helm');
  if (!dir || !existsSync(helm))
    throw new Error(`${HELM_BUILD_SCRIPT} printed "${dir}" but there is no helm there`);
  return helm;
}
