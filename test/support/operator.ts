// Runs the operator, unchanged, as a child process (`node src/cli/main.ts run`) against a test sandbox, with the
// restricted `emqx-operator` user bound to exactly deploy/rbac.yaml, so a missing RBAC rule fails a test.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import YAML from 'yaml';
import { buildCrds } from '../../src/api/crds.ts';
import { apply } from '../../src/k8s/apply.ts';
import { KubeClient } from '../../src/k8s/rest.ts';
import { createEmqxHandler, type EmqxHandler } from '../../sandbox/emqx/index.ts';
import type { SandboxOptions } from '../../sandbox/index.ts';
import { useSandbox, type TestSandbox } from './sandbox.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const OPERATOR_NAMESPACE = 'emqx-operator-system';

export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Lines the operator logged so far (JSON objects). */
  logs(): Array<Record<string, unknown>>;
  /** SIGTERM and wait for exit (graceful shutdown). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait: the operator gets no chance to clean up. */
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
}

let counter = 0;

export function startOperatorProcess(
  sb: TestSandbox,
  opts: { args?: string[]; name?: string; admin?: boolean } = {},
): OperatorProcess {
  const name = opts.name ?? `operator-${++counter}`;
  const logFile = path.join(sb.sandbox.logsDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const kubeconfig = opts.admin ? sb.sandbox.kubeconfigPath : sb.sandbox.operatorKubeconfigPath;
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'src/cli/main.ts'),
      'run',
      '--kubeconfig',
      kubeconfig,
      '--leader-elect',
      '--leader-election-namespace',
      OPERATOR_NAMESPACE,
      '--health-bind-address',
      '127.0.0.1:0',
      '--webhook-bind-address',
      '127.0.0.1:0',
      '--identity',
      name,
      ...(opts.args ?? []),
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'debug' },
    },
  );
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    logFile,
    exited,
    logs: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      return code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface OperatorSandbox extends TestSandbox {
  readonly emqx: EmqxHandler;
  /** The operator started for this file (restart it with startOperatorProcess when a test stops it). */
  operator: OperatorProcess;
}

/**
 * A sandbox with the EMQX node emulator, the CRDs and RBAC installed by an admin, and one operator process running
 * as the restricted `emqx-operator` user. `timeScale` speeds up emulated EMQX time (boot, evacuation, waits).
 */
export function useOperatorSandbox(
  opts: SandboxOptions & { timeScale?: number; startOperator?: boolean } = {},
): OperatorSandbox {
  const emqx = createEmqxHandler({ timeScale: opts.timeScale ?? 10 });
  const sb = useSandbox({ ...opts, handlers: [emqx, ...(opts.handlers ?? [])] });
  const state = { operator: undefined as OperatorProcess | undefined };
  before(async () => {
    // node:test runs a file's top-level before() hooks concurrently: wait for the sandbox's own hook.
    for (;;) {
      try {
        if (sb.sandbox) break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // Raw JSON apply: client-node's typed serializer would drop x-kubernetes-int-or-string from the schemas.
    const admin = new KubeClient(sb.kubeConfig);
    for (const crd of buildCrds({ webhook: { url: 'https://127.0.0.1:1/convert' } }))
      await apply(admin, crd as never);
    const rbac = YAML.parseAllDocuments(readFileSync(path.join(ROOT, 'deploy/rbac.yaml'), 'utf8')).map((d) =>
      d.toJSON(),
    );
    const binding = rbac.find((o) => o.kind === 'ClusterRoleBinding');
    binding.subjects = [
      { kind: 'User', name: sb.sandbox.operatorUser, apiGroup: 'rbac.authorization.k8s.io' },
    ];
    await sb.apply(rbac);
    await sb.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE } });
    await sb.waitFor('CRDs served', async () => {
      const out = await sb.kubectl(['api-resources', '--api-group=apps.emqx.io', '-o', 'name']);
      return out.includes('emqxes') && out.includes('rebalances');
    });
    if (opts.startOperator !== false) state.operator = startOperatorProcess(sb);
  });
  after(async () => {
    await state.operator?.stop();
  });
  return Object.assign(Object.create(sb) as TestSandbox, {
    emqx,
    get operator() {
      return state.operator!;
    },
    set operator(op: OperatorProcess) {
      state.operator = op;
    },
  }) as OperatorSandbox;
}
