// Installs the operator into a sandbox the way users install it: `helm install` of charts/emqx-operator, with Helm
// built from its Go module (cluster/helm.ts). The kubelet emulator then runs the Deployment's pods as the real
// operator program (operator-image.ts) with in-cluster configuration. Helm keeps its state (cache, config,
// repositories, the Kubernetes client's discovery cache) inside the sandbox directory.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { resolveHelm } from './cluster/helm.ts';
import type { Sandbox, SandboxExtension } from './index.ts';

export const CHART_DIR = path.resolve(import.meta.dirname, '../charts/emqx-operator');
export const HELM_RELEASE = 'emqx-operator';
export const HELM_NAMESPACE = 'emqx-operator-system';

export type Helm = (args: string[]) => Promise<string>;

/** A `helm` bound to the sandbox (admin kubeconfig; Helm's own files under `<dir>/helm`). */
export async function sandboxHelm(
  sb: Pick<Sandbox, 'dir' | 'controlPlane'>,
  log?: (line: string) => void,
): Promise<Helm> {
  const bin = await resolveHelm({ onProgress: (d) => log?.(d.trimEnd()) });
  const home = path.join(sb.dir, 'helm');
  mkdirSync(home, { recursive: true });
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    HELM_CACHE_HOME: path.join(home, 'cache'),
    HELM_CONFIG_HOME: path.join(home, 'config'),
    HELM_DATA_HOME: path.join(home, 'data'),
  };
  return (args) =>
    new Promise((resolve, reject) => {
      execFile(
        bin,
        [...args, '--kubeconfig', sb.controlPlane.kubeconfigPath],
        { env, maxBuffer: 16 << 20 },
        (err, stdout, stderr) =>
          err
            ? reject(new Error(`helm ${args.join(' ')}: ${stderr.trim() || err.message}`))
            : resolve(stdout),
      );
    });
}

/** The `helm install` command line of the README. */
export function installArgs(extra: string[] = []): string[] {
  return [
    'install',
    HELM_RELEASE,
    CHART_DIR,
    '--namespace',
    HELM_NAMESPACE,
    '--create-namespace',
    '--wait',
    '--timeout',
    '3m',
    ...extra,
  ];
}

/** A sandbox extension that installs the operator with the chart and waits for its pods (`helm install --wait`). */
export function helmOperatorExtension(
  opts: { values?: string[]; onNotes?: (notes: string) => void } = {},
): SandboxExtension {
  return {
    name: 'emqx-operator (helm install)',
    async start(sb) {
      const helm = await sandboxHelm(sb);
      const out = await helm(installArgs((opts.values ?? []).flatMap((v) => ['--set', v])));
      opts.onNotes?.(out);
      // Stopping the sandbox stops the pods; nothing to uninstall.
      return { stop: async () => {} };
    },
  };
}

/** Where the kubelet emulator keeps the operator pods' logs (`kubectl logs` has no kubelet API to talk to). */
export function operatorLogGlob(sb: Pick<Sandbox, 'dir'>): string {
  return path.join(sb.dir, 'pods', HELM_NAMESPACE, '*', 'logs', 'operator.log');
}
