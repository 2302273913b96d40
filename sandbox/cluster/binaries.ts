// Where the etcd / kube-apiserver / kube-controller-manager binaries are: $EMQX_SANDBOX_BIN, or whatever
// sandbox/build/build-k8s.sh prints on its last line (it builds them on the first run, then answers from cache).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BuildScriptError, runBuildScript } from './build-script.ts';

export const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager'] as const;
export const BUILD_SCRIPT = path.resolve(import.meta.dirname, '../build/build-k8s.sh');

export function missingBinaries(binDir: string): string[] {
  return BINARIES.filter((b) => !existsSync(path.join(binDir, b)));
}

export interface ResolveBinDirOptions {
  /** Receives the build script's progress lines (stderr). Default: discarded unless a build actually runs. */
  onProgress?: (chunk: string) => void;
}

/** Returns the directory holding the three binaries, building them first when needed. */
export async function resolveBinDir(opts: ResolveBinDirOptions = {}): Promise<string> {
  const fromEnv = process.env.EMQX_SANDBOX_BIN;
  if (fromEnv) {
    const missing = missingBinaries(fromEnv);
    if (missing.length > 0) {
      throw new Error(`EMQX_SANDBOX_BIN=${fromEnv} lacks ${missing.join(', ')}; unset it to build them`);
    }
    return fromEnv;
  }
  const dir = await runBuildScript(BUILD_SCRIPT, { onProgress: opts.onProgress }).catch((e: unknown) => {
    if (!(e instanceof BuildScriptError) || e.code === null) throw e;
    const detail = e.code === 3 ? `: ${e.stderr.trim()}` : `\n${e.tail(15)}`;
    throw new Error(`building the Kubernetes binaries failed (exit ${e.code})${detail}`);
  });
  const missing = missingBinaries(dir);
  if (!dir || missing.length > 0) {
    throw new Error(`${BUILD_SCRIPT} printed "${dir}" but ${missing.join(', ')} are not there`);
  }
  return dir;
}
