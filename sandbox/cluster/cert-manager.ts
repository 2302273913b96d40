// Where cert-manager's CRDs are: whatever sandbox/build/fetch-cert-manager-crds.sh prints on its last line (it takes
// them from cert-manager's Go module, pinned in versions.env, on the first run, into the sandbox cache; then answers
// from cache). cert-manager itself does not run in the sandbox: its CRDs make the API server check the
// Certificates the operator writes against cert-manager's own schema.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BuildScriptError, runBuildScript } from './build-script.ts';

export const CERT_MANAGER_CRDS_SCRIPT = path.resolve(
  import.meta.dirname,
  '../build/fetch-cert-manager-crds.sh',
);

/** The directory holding cert-manager's `cert-manager.io_*.yaml` CRDs, fetched first when needed. */
export async function resolveCertManagerCrds(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = await runBuildScript(CERT_MANAGER_CRDS_SCRIPT, { env, timeoutMs: 600_000 }).catch(
    (e: unknown) => {
      const detail = e instanceof BuildScriptError ? e.tail(10) : String(e);
      throw new Error(`fetching cert-manager's CRDs failed: ${detail}`);
    },
  );
  if (!dir || !existsSync(path.join(dir, 'cert-manager.io_certificates.yaml'))) {
    throw new Error(`${CERT_MANAGER_CRDS_SCRIPT} printed "${dir}" but holds no certificates CRD there`);
  }
  return dir;
}

/** The text of every cert-manager.io CRD in `dir` (Certificate, CertificateRequest, Issuer, ClusterIssuer). */
export function certManagerCrdTexts(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('cert-manager.io_') && f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), 'utf8'));
}
