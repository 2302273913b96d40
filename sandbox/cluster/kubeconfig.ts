import { writeFileSync, renameSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

/** A kubeconfig that talks to `server` with a bearer token and skips TLS verification (self-signed serving cert). */
export function kubeconfigYaml(server: string, user: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sandbox', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: `${user}@sandbox`, context: { cluster: 'sandbox', user, namespace: 'default' } }],
    'current-context': `${user}@sandbox`,
  });
}

export function kubeConfigFor(server: string, user: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(server, user, token));
  return kc;
}

/** Writes a file atomically (temp file + rename), so a reader that waits for it never sees half of it. */
export function writeFileAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, file);
}
