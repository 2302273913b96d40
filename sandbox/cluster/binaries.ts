// Where the etcd / kube-apiserver / kube-controller-manager binaries are: $EMQX_SANDBOX_BIN, or whatever
// sandbox/build/build-k8s.sh prints on its last line (it builds them on the first run, then answers from cache).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

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
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      opts.onProgress?.(d);
    });
    child.once('error', (e) => reject(new Error(`could not run ${BUILD_SCRIPT}: ${e.message}`)));
    child.once('exit', (code) => {
      if (code !== 0) {
        const hint = code === 3 ? '' : `\n${stderr.trim().split('\n').slice(-15).join('\n')}`;
        const goMissing = code === 3 ? `: ${stderr.trim()}` : '';
        reject(new Error(`building the Kubernetes binaries failed (exit ${code})${goMissing}${hint}`));
        return;
      }
      const dir = stdout.trim().split('\n').pop() ?? '';
      const missing = missingBinaries(dir);
      if (!dir || missing.length > 0) {
        reject(new Error(`${BUILD_SCRIPT} printed "${dir}" but ${missing.join(', ')} are not there`));
        return;
      }
      resolve(dir);
    });
  });
}
