// Starts the operator, unchanged, as a child process (`node src/cli/main.ts run`, or its build: ./operator-build.ts)
// against a sandbox: the CRDs and RBAC are installed with the admin credentials first, and the operator runs as the restricted user
// `emqx-operator`, bound to exactly deploy/rbac.yaml, so a missing RBAC rule shows up here and not in production.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { buildCrds } from '../src/api/crds.ts';
import { apply } from '../src/k8s/apply.ts';
import { parseQuantity } from '../src/k8s/needs-apply.ts';
import { KubeClient } from '../src/k8s/rest.ts';
import type { Sandbox, SandboxExtension } from './index.ts';
import { operatorAppDir, operatorMain } from './operator-build.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
export const OPERATOR_NAMESPACE = 'emqx-operator-system';

export interface OperatorProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  /** The operator's log lines so far (JSON objects). */
  logs(): Array<Record<string, unknown>>;
  /** The address of its /healthz, /readyz and /metrics server, once it logged it. */
  healthUrl(): string | undefined;
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: no chance to clean up (crash tests). */
  kill(): Promise<void>;
}

/** Installs what the operator needs and cannot install as its restricted user: CRDs, RBAC, its namespace. */
export async function prepareForOperator(sb: Sandbox): Promise<void> {
  const admin = new KubeClient(sb.kubeConfig);
  // The conversion webhook URL is a placeholder until the operator registers its own.
  for (const crd of buildCrds({ webhook: { url: 'https://127.0.0.1:1/convert' } }))
    await apply(admin, crd as never);
  const rbac = YAML.parseAllDocuments(readFileSync(path.join(ROOT, 'deploy/rbac.yaml'), 'utf8')).map(
    (d) => d.toJSON() as { kind?: string; subjects?: unknown[] },
  );
  // The namespace first: deploy/rbac.yaml has a Role there (the Lease and the webhook certificate Secret).
  await apply(admin, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE } });
  for (const obj of rbac) {
    if (obj.kind === 'ClusterRoleBinding' || obj.kind === 'RoleBinding') {
      obj.subjects = [{ kind: 'User', name: sb.operatorUser, apiGroup: 'rbac.authorization.k8s.io' }];
    }
    await apply(admin, obj as never);
  }
  const deadline = Date.now() + 60_000;
  for (const kind of ['EMQX', 'Rebalance']) {
    for (;;) {
      try {
        await admin.resource('apps.emqx.io/v2beta1', kind);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}

let counter = 0;

/** resources.limits.memory of the chart's values.yaml, in MiB (what `helm install` gives the operator). */
export function chartMemoryLimitMiB(): number {
  const values = YAML.parse(readFileSync(path.join(ROOT, 'charts/emqx-operator/values.yaml'), 'utf8')) as {
    resources?: { limits?: { memory?: string } };
  };
  const bytes = parseQuantity(values.resources?.limits?.memory);
  if (!bytes) throw new Error('charts/emqx-operator/values.yaml has no resources.limits.memory');
  return Math.ceil(bytes / 2 ** 20);
}

export function startOperatorProcess(
  sb: Sandbox,
  opts: {
    args?: string[];
    name?: string;
    logLevel?: string;
    /** Serve the conversion webhook (and point the CRD at it); default true. One shard of several does it. */
    webhook?: boolean;
    /** Node flags before the program (V8 flags that NODE_OPTIONS does not allow, e.g. --single-threaded-gc). */
    nodeArgs?: string[];
    /**
     * Run it as the image does (benchmarks): through bin/entrypoint.sh (the image's Node flags) with the chart's
     * default memory limit in EMQX_OPERATOR_MEMORY_LIMIT_MIB (unless the environment sets it), so the heap cap is
     * the one an installation gets. Not with nodeArgs.
     */
    asImage?: boolean;
  } = {},
): OperatorProcess {
  const name = opts.name ?? `operator-${++counter}`;
  const logFile = path.join(sb.logsDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const [command, ...prefix] = opts.asImage
    ? ['sh', path.join(operatorAppDir(), 'bin/entrypoint.sh')]
    : [process.execPath, ...(opts.nodeArgs ?? []), operatorMain()];
  const imageEnv = opts.asImage
    ? {
        // `node` on PATH is this Node 24, as in the image.
        PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        EMQX_OPERATOR_MEMORY_LIMIT_MIB:
          process.env.EMQX_OPERATOR_MEMORY_LIMIT_MIB ?? String(chartMemoryLimitMiB()),
      }
    : {};
  const child = spawn(
    command!,
    [
      ...prefix,
      'run',
      '--kubeconfig',
      sb.operatorKubeconfigPath,
      '--leader-elect',
      '--leader-election-namespace',
      OPERATOR_NAMESPACE,
      '--health-bind-address',
      '127.0.0.1:0',
      ...(opts.webhook === false ? [] : ['--webhook-bind-address', '127.0.0.1:0']),
      '--identity',
      name,
      ...(opts.args ?? []),
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...imageEnv, LOG_LEVEL: opts.logLevel ?? process.env.LOG_LEVEL ?? 'info' },
    },
  );
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logs = () =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    name,
    child,
    logFile,
    exited,
    logs,
    healthUrl() {
      const line = logs().find((l) => l.msg === 'operator running');
      return typeof line?.health === 'string' ? line.health : undefined;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      return code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A sandbox extension that installs the CRDs and RBAC and runs one operator process. */
export function operatorExtension(
  opts: { logLevel?: string; onStart?: (op: OperatorProcess) => void } = {},
): SandboxExtension {
  return {
    name: 'emqx-operator',
    async start(sb) {
      await prepareForOperator(sb);
      const op = startOperatorProcess(sb, { name: 'operator', logLevel: opts.logLevel });
      opts.onStart?.(op);
      return { stop: async () => void (await op.stop()) };
    },
  };
}
