// Where cert-manager's CRDs are: whatever sandbox/build/fetch-cert-manager-crds.sh prints on its last line (it takes
// them from cert-manager's Go module, pinned in versions.env, on the first run, into the sandbox cache; then answers
// from cache). cert-manager itself does not run in the sandbox: its CRDs make the API server check the
// Certificates the operator writes against cert-manager's own schema.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const CERT_MANAGER_CRDS_SCRIPT = path.resolve(
  import.meta.dirname,
  '../build/fetch-cert-manager-crds.sh',
);

/** The directory holding cert-manager's `cert-manager.io_*.yaml` CRDs, fetched first when needed. */
export function resolveCertManagerCrds(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [CERT_MANAGER_CRDS_SCRIPT], { env, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(
          new Error(
            `fetching cert-manager's CRDs failed: ${stderr.trim().split('\n').slice(-10).join('\n')}`,
          ),
        );
        return;
      }
      const dir = stdout.trim().split('\n').pop() ?? '';
      if (!dir || !existsSync(path.join(dir, 'cert-manager.io_certificates.yaml'))) {
        reject(new Error(`${CERT_MANAGER_CRDS_SCRIPT} printed "${dir}" but holds no certificates CRD there`));
        return;
      }
      resolve(dir);
    });
  });
}

/** The text of every cert-manager.io CRD in `dir` (Certificate, CertificateRequest, Issuer, ClusterIssuer). */
export function certManagerCrdTexts(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('cert-manager.io_') && f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), 'utf8'));
}
