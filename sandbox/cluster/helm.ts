// Where the `helm` binary is: $EMQX_SANDBOX_HELM (a directory holding `helm`), or whatever
// sandbox/build/build-helm.sh prints on its last line (it builds Helm from its Go module on the first run, into the
// same cache as the Kubernetes binaries, then answers from cache).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

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
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [HELM_BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      opts.onProgress?.(d);
    });
    child.once('error', (e) => reject(new Error(`could not run ${HELM_BUILD_SCRIPT}: ${e.message}`)));
    child.once('exit', (code) => {
      if (code !== 0) {
        const detail = stderr.trim().split('\n').slice(-15).join('\n');
        reject(new Error(`building Helm failed (exit ${code}):\n${detail}`));
        return;
      }
      const dir = stdout.trim().split('\n').pop() ?? '';
      const helm = path.join(dir, 'helm');
      if (!dir || !existsSync(helm)) {
        reject(new Error(`${HELM_BUILD_SCRIPT} printed "${dir}" but there is no helm there`));
        return;
      }
      resolve(helm);
    });
  });
}
