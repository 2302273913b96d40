// `npm start` (`node sandbox/cli/main.ts demo`): the main job on the embedded default. Starts the sandbox with the operator,
// applies the core + replicant example, shows progress until the cluster is Ready, then prints the MQTT and
// dashboard addresses, commands to paste and how to look around, and keeps running until Ctrl-C.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { EMQX } from '../../src/api/types.ts';
import { parseFlags, runCommand, type Command } from '../../src/cli/args.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

const HELP = `Usage: npm start -- [options]    (node sandbox/cli/main.ts demo [options])

Starts the sandbox (a real Kubernetes control plane with emulated EMQX nodes, see \`npm run sandbox -- --help\`) with
the operator installed by its Helm chart (as \`helm install\` would on a real cluster), applies an EMQX cluster,
and follows it until it is Ready. The first run builds the Kubernetes binaries from source, cached afterwards: 6
minutes or more on 2 free cores, longer on a busy machine; it prints its phases, a status line every 15 s (packages
compiled, time left) and where its full log is. Helm is built from its Go module the first time too (about 2
minutes of CPU, reusing what the control plane's build compiled).

Options:
  -f, --filename FILE   the EMQX resource to apply (default: examples/core-replicant.yaml)
  --dir DIR             sandbox directory (default: .sandbox)
  --timeout SECONDS     give up if not Ready by then (default 300)
  --exit-when-ready     stop everything once Ready instead of waiting for Ctrl-C
  -h, --help            this help`;

function ts(t0: number): string {
  return `[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s]`;
}

function progressLine(e: EMQX | undefined): string {
  const s = e?.status;
  if (!s) return 'waiting for the operator to pick the resource up';
  const pending = (s.conditions ?? []).find(
    (c) =>
      (c.type === 'CoreNodesReady' || c.type === 'ReplicantNodesReady' || c.type === 'Ready') &&
      c.status !== 'True',
  );
  return `${(s.phase ?? '').padEnd(26)} cores ${s.cores ?? '-'}  replicants ${s.replicants ?? '-'}${
    pending ? `  (${pending.message})` : ''
  }`;
}

export interface DemoArgs {
  filename: string;
  dir: string;
  timeoutSeconds: number;
  exitWhenReady: boolean;
  help: boolean;
}

/** Parses the command line; throws with a message naming the flag on bad input. */
export function parseDemoArgs(args: string[]): DemoArgs {
  const { values } = parseFlags(args, {
    filename: { type: 'string', short: 'f', default: path.join(ROOT, 'examples/core-replicant.yaml') },
    dir: { type: 'string', default: '.sandbox' },
    timeout: { type: 'string', default: '300' },
    'exit-when-ready': { type: 'boolean', default: false },
  });
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new Error(`--timeout: expected a number of seconds above 0, got "${values.timeout}"`);
  }
  return {
    filename: values.filename,
    dir: values.dir,
    timeoutSeconds,
    exitWhenReady: values['exit-when-ready'],
    help: values.help,
  };
}

export const command: Command = {
  run: (args) => runCommand('demo', HELP, () => parseDemoArgs(args), runDemo),
};

async function runDemo(opts: DemoArgs): Promise<number> {
  const out = (line: string) => process.stdout.write(line + '\n');
  let resource: { metadata?: { name?: string; namespace?: string } } & Record<string, unknown>;
  try {
    resource = YAML.parse(readFileSync(opts.filename, 'utf8'));
  } catch (err) {
    process.stderr.write(`demo: ${opts.filename}: ${(err as Error).message}\n`);
    return 1;
  }
  resource.metadata ??= {};
  resource.metadata.namespace ??= 'default';
  const ns = resource.metadata.namespace as string;
  const name = resource.metadata.name as string;

  const { startSandbox } = await import('../index.ts');
  const { helmOperatorExtension, operatorLogGlob } = await import('../operator-helm.ts');
  const { KubeClient } = await import('../../src/k8s/rest.ts');
  const { apply } = await import('../../src/k8s/apply.ts');

  const t0 = Date.now();
  out(
    `${ts(t0)} starting the sandbox in ${opts.dir} (control plane, kubelet emulator, EMQX emulator; the operator installed with helm install)`,
  );
  let stopRequested = false;
  let wake = () => {};
  const onSignal = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const sb = await startSandbox({
    dir: path.resolve(opts.dir),
    log: (line) => out(`${ts(t0)}   ${line}`),
    extensions: [helmOperatorExtension()],
  });
  try {
    out(
      `${ts(t0)} sandbox ready in ${(sb.startupMs / 1000).toFixed(1)} s; applying ${path.relative(process.cwd(), opts.filename) || opts.filename}`,
    );
    const client = new KubeClient(sb.kubeConfig);
    await apply(client, resource as never);
    const deadline = Date.now() + opts.timeoutSeconds * 1000;
    let last = '';
    let ready: EMQX | undefined;
    while (!stopRequested && Date.now() < deadline) {
      const e = (await client.get({
        apiVersion: 'apps.emqx.io/v2beta1',
        kind: 'EMQX',
        namespace: ns,
        name,
      })) as EMQX | undefined;
      const line = progressLine(e);
      if (line !== last) out(`${ts(t0)} ${line}`);
      last = line;
      if (e?.status?.phase === 'Ready' && e.status.observedGeneration === e.metadata.generation) {
        ready = e;
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (!ready) {
      if (!stopRequested)
        out(`${ts(t0)} not Ready after ${opts.timeoutSeconds} s; see ${operatorLogGlob(sb)}`);
      return stopRequested ? 130 : 1;
    }
    const kc = path.relative(process.cwd(), sb.kubeconfigPath) || sb.kubeconfigPath;
    out('');
    out(`EMQX ${ns}/${name} is Ready after ${((Date.now() - t0) / 1000).toFixed(1)} s:`);
    for (const n of [...(ready.status?.coreNodes ?? []), ...(ready.status?.replicantNodes ?? [])]) {
      out(`  ${n.name.padEnd(70)} ${n.role.padEnd(9)} ${n.node_status.padEnd(8)} ${n.version ?? ''}`);
    }
    out('');
    // MQTT and dashboard addresses (served by the sandbox's Service proxy) and two commands to paste
    const { accessLinesFor } = await import('../access.ts');
    for (const l of await accessLinesFor(sb.kubeconfigPath, ns, name)) out(l);
    out(
      `  keep the subscriber running and change the image: kubectl --kubeconfig ${kc} patch emqx ${name} -n ${ns} --type=merge -p '{"spec":{"image":"…"}}'`,
    );
    out('');
    out(`kubeconfig: ${kc}`);
    out('try:');
    out(`  kubectl --kubeconfig ${kc} get emqx -n ${ns}`);
    out(`  kubectl --kubeconfig ${kc} get emqx ${name} -n ${ns} -o json | jq .status.coreNodes`);
    out(`  kubectl --kubeconfig ${kc} get pods,svc,sts,rs,pdb -n ${ns}`);
    out(`  kubectl --kubeconfig ${kc} scale emqx ${name} -n ${ns} --replicas=5`);
    out(`  kubectl --kubeconfig ${kc} explain emqx.spec.coreTemplate`);
    out(`operator logs (its pods): ${path.relative(process.cwd(), operatorLogGlob(sb))}`);
    if (opts.exitWhenReady) return 0;
    out('Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      wake = resolve;
      if (stopRequested) resolve();
    });
    return 0;
  } finally {
    out(`${ts(t0)} stopping ...`);
    await sb.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
