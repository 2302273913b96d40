// The sandbox: a real control plane (etcd, kube-apiserver, kube-controller-manager) plus the kubelet emulator, in
// one directory. `startSandbox()` is what tests and the sandbox CLI (sandbox/cli: `npm run sandbox`, `npm start`) use.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { resolveBinDir } from './cluster/binaries.ts';
import { startControlPlane, type ControlPlane } from './cluster/control-plane.ts';
import { onUnhandledSignal } from './cluster/process.ts';
import { kubeconfigYaml, writeFileAtomic } from './cluster/kubeconfig.ts';
import type { ImageHandler, SandboxResolver } from './kubelet/handler.ts';
import { Kubelet } from './kubelet/kubelet.ts';
import type { BackoffSettings } from './kubelet/pod-worker.ts';
import { OPERATOR_USER, serviceRanges } from './cluster/control-plane.ts';
import { createEmqxHandler } from './emqx/index.ts';
import { createOperatorHandler } from './operator-image.ts';

export type { ImageHandler, SandboxResolver } from './kubelet/handler.ts';
export { Kubelet } from './kubelet/kubelet.ts';

/**
 * Image handlers every sandbox gets after the caller's own and before the generic one: the operator's own image
 * (`emqx-operator:*`, run as the real program from this working tree, see operator-image.ts) and the EMQX node
 * emulator, so every pod whose image is an EMQX image runs an emulated EMQX node (real time; pass your own handler from
 * createEmqxHandler({ timeScale }) for faster emulated time).
 */
export function defaultHandlers(): ImageHandler[] {
  return [createOperatorHandler(), createEmqxHandler()];
}

/**
 * EXTENSION POINT (b): something started once the cluster runs (e.g. the operator, in-process or as a child
 * process) and stopped before the kubelet and the control plane.
 */
export interface SandboxExtension {
  readonly name: string;
  start(sandbox: Sandbox): Promise<{ stop(): Promise<void> }>;
}

export interface SandboxOptions {
  /** Sandbox directory. Default: a fresh temporary directory. A given directory's previous state is wiped. */
  dir?: string;
  /** Number of emulated Nodes (default 3). */
  nodes?: number;
  /** Image handlers tried first, before `defaultHandlers()` and the generic handler. */
  handlers?: ImageHandler[];
  /** Leave out `defaultHandlers()` (default false). */
  noDefaultHandlers?: boolean;
  /** Cluster DNS domain of the resolver (default `cluster.local`). */
  clusterDomain?: string;
  /** Keep the directory (state, pod dirs, volumes, logs) after stop(). Also with env EMQX_SANDBOX_KEEP=1. */
  keep?: boolean;
  /** Binaries directory. Default: env EMQX_SANDBOX_BIN, else built/found by sandbox/build/build-k8s.sh. */
  binDir?: string;
  /** Progress lines (start-up steps, build progress). */
  log?: (line: string) => void;
  /** Started in order once the kubelet runs; stopped in reverse order first. */
  extensions?: SandboxExtension[];
  /** Container restart backoff of the kubelet emulator. */
  backoff?: Partial<BackoffSettings>;
  /** apiserver `--min-request-timeout` (seconds, default 30): watches end between this and twice this. */
  minRequestTimeoutSeconds?: number;
  /** More kube-apiserver flags (ControlPlaneOptions.apiserverArgs). */
  apiserverArgs?: string[];
  /** More kube-controller-manager flags (ControlPlaneOptions.controllerManagerArgs). */
  controllerManagerArgs?: string[];
}

export interface Sandbox {
  dir: string;
  /** `<dir>/kubeconfig`: admin (system:masters) token. Written last, once everything runs. */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** `<dir>/operator.kubeconfig`: user `emqx-operator`, no groups, so only what RBAC grants it. */
  operatorKubeconfigPath: string;
  operatorKubeConfig: KubeConfig;
  operatorUser: string;
  server: string;
  adminToken: string;
  logsDir: string;
  controlPlane: ControlPlane;
  kubelet: Kubelet;
  resolver: SandboxResolver;
  /** Milliseconds from startSandbox() to ready, binaries already built. */
  startupMs: number;
  stop(): Promise<void>;
}

/** Subdirectories a sandbox owns inside its directory (wiped at start, removed at stop unless kept). */
const OWNED = ['state', 'pods', 'volumes', 'hostpath', 'logs', 'kubeconfig', 'operator.kubeconfig'];

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const log = opts.log ?? (() => {});
  const keep = opts.keep ?? process.env.EMQX_SANDBOX_KEEP === '1';
  const binDir = opts.binDir ?? (await resolveBinDir({ onProgress: (d) => log(d.trimEnd()) }));
  const t0 = Date.now();
  const ownDir = opts.dir === undefined;
  const dir = ownDir ? mkdtempSync(path.join(os.tmpdir(), 'emqx-sandbox-')) : path.resolve(opts.dir!);
  mkdirSync(dir, { recursive: true });
  if (!ownDir) for (const d of OWNED) rmSync(path.join(dir, d), { recursive: true, force: true });
  mkdirSync(path.join(dir, 'logs'), { recursive: true });

  const removeDir = () => {
    if (keep || !existsSync(dir)) return;
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    else for (const d of OWNED) if (d !== 'logs') rmSync(path.join(dir, d), { recursive: true, force: true });
  };
  // Last resort if the process dies without stop(): children are killed by cluster/process.ts.
  const onExit = () => removeDir();
  process.once('exit', onExit);

  let controlPlane: ControlPlane | undefined;
  let kubelet: Kubelet | undefined;
  const started: Array<{ name: string; stop(): Promise<void> }> = [];
  let stopping: Promise<void> | undefined;
  let unregister = () => {};
  const stop = () =>
    (stopping ??= (async () => {
      unregister();
      for (const ext of started.reverse()) {
        await ext.stop().catch((e: Error) => log(`stopping ${ext.name}: ${e.message}`));
      }
      await kubelet?.stop();
      await controlPlane?.stop();
      removeDir();
      process.off('exit', onExit);
    })());

  // SIGINT/SIGTERM that nobody else handles (a script, a test process): stop gracefully, then exit.
  unregister = onUnhandledSignal(stop);
  try {
    const ranges = serviceRanges();
    controlPlane = await startControlPlane({
      dir,
      binDir,
      log,
      minRequestTimeoutSeconds: opts.minRequestTimeoutSeconds,
      ...(opts.apiserverArgs && { apiserverArgs: opts.apiserverArgs }),
      ...(opts.controllerManagerArgs && { controllerManagerArgs: opts.controllerManagerArgs }),
      serviceCidr: ranges.serviceCidr,
    });
    const kubeletLog = path.join(dir, 'logs', 'kubelet.log');
    kubelet = await Kubelet.start({
      kubeConfig: controlPlane.kubeConfig,
      dir,
      nodes: opts.nodes,
      handlers: [...(opts.handlers ?? []), ...(opts.noDefaultHandlers ? [] : defaultHandlers())],
      clusterDomain: opts.clusterDomain,
      backoff: opts.backoff,
      loadBalancerCidr: ranges.loadBalancerCidr,
      log: (line) => {
        try {
          appendFileSync(kubeletLog, `${new Date().toISOString()} ${line}\n`);
        } catch {
          // directory removed during shutdown
        }
      },
    });
    log(`kubelet emulator ready with ${kubelet.nodeNames.length} nodes (${Date.now() - t0} ms)`);

    const kubeconfigPath = path.join(dir, 'kubeconfig');
    const operatorKubeconfigPath = path.join(dir, 'operator.kubeconfig');
    const sandbox: Sandbox = {
      dir,
      kubeconfigPath,
      kubeConfig: controlPlane.kubeConfig,
      operatorKubeconfigPath,
      operatorKubeConfig: controlPlane.operatorKubeConfig,
      operatorUser: OPERATOR_USER,
      server: controlPlane.server,
      adminToken: controlPlane.adminToken,
      logsDir: controlPlane.logsDir,
      controlPlane,
      kubelet,
      resolver: kubelet.resolver,
      startupMs: 0,
      stop,
    };
    for (const ext of opts.extensions ?? []) {
      const handle = await ext.start(sandbox);
      started.push({ name: ext.name, stop: () => handle.stop() });
      log(`${ext.name} started (${Date.now() - t0} ms)`);
    }
    writeFileAtomic(
      operatorKubeconfigPath,
      kubeconfigYaml(controlPlane.server, OPERATOR_USER, controlPlane.operatorToken),
    );
    writeFileAtomic(
      kubeconfigPath,
      kubeconfigYaml(controlPlane.server, 'sandbox-admin', controlPlane.adminToken),
    );
    sandbox.startupMs = Date.now() - t0;
    log(`sandbox ready in ${sandbox.startupMs} ms (dir ${dir})`);
    return sandbox;
  } catch (e) {
    await stop();
    throw e;
  }
}
