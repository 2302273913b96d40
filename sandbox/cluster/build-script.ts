// The one way the sandbox runs a sandbox/build script (build-k8s.sh, build-helm.sh, fetch-cert-manager-crds.sh):
// each builds or fetches into the cache when needed and prints the directory it filled on its last stdout line;
// its stderr is progress, passed on as it comes and kept for the error message.
import { spawn } from 'node:child_process';

export interface BuildScriptOptions {
  /** Receives the script's stderr as it comes (progress lines). */
  onProgress?: (chunk: string) => void;
  /** Environment of the script (default process.env); EMQX_SANDBOX_CACHE there moves the cache. */
  env?: NodeJS.ProcessEnv;
  /** Kill the script after this long (default: no limit). */
  timeoutMs?: number;
}

/** The script could not be started, or it ended with something other than exit 0. */
export class BuildScriptError extends Error {
  readonly script: string;
  /** The exit code, or null when the script could not start or was killed (timeout). */
  readonly code: number | null;
  readonly stderr: string;

  constructor(script: string, code: number | null, stderr: string, message: string) {
    super(message);
    this.script = script;
    this.code = code;
    this.stderr = stderr;
  }

  /** The last `n` lines of the script's stderr. */
  tail(n: number): string {
    return this.stderr.trim().split('\n').slice(-n).join('\n');
  }
}

/** Runs `script` with bash and resolves with the last line it printed on stdout ('' when none). */
export function runBuildScript(script: string, opts: BuildScriptOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      opts.onProgress?.(d);
    });
    child.once('error', (e) =>
      reject(new BuildScriptError(script, null, stderr, `could not run ${script}: ${e.message}`)),
    );
    child.once('exit', (code, signal) => {
      if (code !== 0) {
        const how = code === null ? `killed by ${signal}` : `exit ${code}`;
        reject(new BuildScriptError(script, code, stderr, `${script} failed (${how})`));
        return;
      }
      resolve(stdout.trim().split('\n').pop() ?? '');
    });
  });
}
