// `node sandbox/cli/main.ts sandbox`: runs the local sandbox (a real kube-apiserver, etcd and kube-controller-manager plus
// the kubelet emulator) in the foreground until Ctrl-C / SIGTERM.
import path from 'node:path';
import { parseFlags, runCommand, type Command } from '../../src/cli/args.ts';

const HELP = `Usage: node sandbox/cli/main.ts sandbox [options]

Starts a local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, built from source on the
first run and cached in ~/.cache/emqx-operator) and a kubelet emulator that runs pods on 127.1.0.0/16 loopback
addresses. Runs in the foreground; Ctrl-C stops everything.

Options:
  --dir DIR              sandbox directory: kubeconfig, logs, pod and volume directories (default: .sandbox)
  --nodes N              number of emulated nodes (default: 3)
  --cluster-domain NAME  cluster DNS domain answered by the emulated resolver (default: cluster.local)
  --no-operator          do not start the operator (CRDs and RBAC are not installed either)
  --keep                 keep the directory's state (etcd data, pod dirs, volumes) after stopping
  -h, --help             this help

Pods whose image is an EMQX image run an emulated EMQX node. Unless --no-operator is given, the CRDs and RBAC are
installed and the operator runs (as user emqx-operator, bound to deploy/rbac.yaml); its log is DIR/logs/operator.log.

Once ready it writes DIR/kubeconfig (admin) and DIR/operator.kubeconfig (user emqx-operator, no groups):
  kubectl --kubeconfig DIR/kubeconfig get pods -A`;

export interface SandboxArgs {
  dir: string;
  nodes: number;
  clusterDomain: string;
  operator: boolean;
  keep: boolean;
  help: boolean;
}

/** Parses the command line; throws with a message naming the flag on bad input. */
export function parseSandboxArgs(args: string[]): SandboxArgs {
  const { values } = parseFlags(args, {
    dir: { type: 'string', default: '.sandbox' },
    nodes: { type: 'string', default: '3' },
    'cluster-domain': { type: 'string', default: 'cluster.local' },
    'no-operator': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  });
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) {
    throw new Error(`--nodes: expected a whole number from 1 to 50, got "${values.nodes}"`);
  }
  const clusterDomain = values['cluster-domain']!;
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(clusterDomain)) {
    throw new Error(`--cluster-domain: "${clusterDomain}" is not a DNS name`);
  }
  return {
    dir: path.resolve(values.dir!),
    nodes,
    clusterDomain,
    operator: !values['no-operator'],
    keep: values.keep === true,
    help: values.help === true,
  };
}

export const command: Command = {
  run: (args) => runCommand('sandbox', HELP, () => parseSandboxArgs(args), runSandbox),
};

async function runSandbox(opts: SandboxArgs): Promise<number> {
  const err = (line: string) => process.stderr.write(line.endsWith('\n') ? line : line + '\n');

  // Loaded lazily: `--help` must not pay for the sandbox.
  const { resolveBinDir, missingBinaries } = await import('../cluster/binaries.ts');
  const { startSandbox } = await import('../index.ts');
  const { operatorExtension } = await import('../operator.ts');

  let stopRequested: string | undefined;
  let wake: () => void = () => {};
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) {
      err(`${signal} again: exiting now (child processes are killed)`);
      process.exit(130);
    }
    stopRequested = signal;
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let binDir: string;
    try {
      binDir = await resolveBinDir({ onProgress: (chunk) => process.stderr.write(chunk) });
    } catch (e) {
      err(`sandbox: ${(e as Error).message}`);
      return 1;
    }
    if (missingBinaries(binDir).length > 0) {
      err(`sandbox: binaries missing in ${binDir}`);
      return 1;
    }
    if (stopRequested) return 130;

    err(`starting the sandbox in ${opts.dir} ...`);
    let sandbox: Awaited<ReturnType<typeof startSandbox>>;
    try {
      sandbox = await startSandbox({
        dir: opts.dir,
        nodes: opts.nodes,
        clusterDomain: opts.clusterDomain,
        keep: opts.keep,
        binDir,
        log: (line) => err(`  ${line}`),
        extensions: opts.operator ? [operatorExtension()] : [],
      });
    } catch (e) {
      err(`sandbox: could not start: ${(e as Error).message}`);
      return 1;
    }
    if (!stopRequested) {
      const show = (p: string) => {
        const rel = path.relative(process.cwd(), p);
        return rel && !rel.startsWith('..') ? rel : p;
      };
      process.stdout.write(
        [
          `sandbox ready in ${(sandbox.startupMs / 1000).toFixed(1)} s: ${sandbox.kubelet.nodeNames.length} nodes, API server ${sandbox.server}`,
          `  kubectl --kubeconfig ${show(sandbox.kubeconfigPath)} get pods -A`,
          `  operator credentials (user ${sandbox.operatorUser}, RBAC only): ${show(sandbox.operatorKubeconfigPath)}`,
          `  logs: ${show(sandbox.logsDir)}`,
          opts.operator
            ? `  operator running; log: ${show(path.join(sandbox.logsDir, 'operator.log'))}; try: kubectl --kubeconfig ${show(sandbox.kubeconfigPath)} apply -f examples/core-replicant.yaml`
            : 'operator not started (--no-operator)',
          'Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (stopRequested) resolve();
      });
    }
    err(`${stopRequested}: stopping the sandbox ...`);
    const t0 = Date.now();
    await sandbox.stop();
    err(`stopped in ${Date.now() - t0} ms`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
