// Starts a real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager, each a
// child process with its output in `<dir>/logs/<name>.log`. Authentication is by static tokens: an admin in
// system:masters and the user `emqx-operator` with no groups (so the operator's RBAC manifests can be checked).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { startProcess, type ManagedProcess } from './process.ts';
import { freePorts } from './ports.ts';
import { kubeConfigFor, kubeconfigYaml, writeFileAtomic } from './kubeconfig.ts';

/** The controllers we run. Left out on purpose (see README): node-lifecycle (no heartbeats), pod GC, endpoints and
 * endpointslices (they reject loopback pod IPs), persistentvolume-binder (the kubelet emulator provisions). */
export const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'disruption-controller',
  // PVCs and PVs get protection finalizers from admission; without these two controllers they never go away.
  'persistentvolumeclaim-protection-controller',
  'persistentvolume-protection-controller',
  'clusterrole-aggregation-controller',
  // Publishes the ConfigMap kube-root-ca.crt (the API server's CA) in every namespace: pods that mount their
  // ServiceAccount token read the CA bundle from it.
  'root-ca-certificate-publisher-controller',
] as const;

export const OPERATOR_USER = 'emqx-operator';

export interface ControlPlaneOptions {
  /** Directory for state (`<dir>/state`) and logs (`<dir>/logs`). Must exist. */
  dir: string;
  binDir: string;
  /** Progress messages. */
  log?: (line: string) => void;
  /** Seconds; the apiserver ends each watch after a random time between this and twice this. Default 30, so
   * that clients' re-watching gets exercised in tests. */
  minRequestTimeoutSeconds?: number;
  /** `--service-cluster-ip-range` (default: a random 127.N.0.0/16, see serviceRanges). */
  serviceCidr?: string;
  /** More kube-apiserver flags (e.g. `--watch-cache=false` and a short `--etcd-compaction-interval`, to make
   * resumed watches end with 410 Gone). */
  apiserverArgs?: string[];
  /** More kube-controller-manager flags, after the sandbox's own (a later flag wins), e.g. its client rate limits. */
  controllerManagerArgs?: string[];
}

/**
 * Loopback ranges of one sandbox: ClusterIPs in 127.N.0.0/16 and LoadBalancer addresses in 127.(N+64).0.0/16,
 * with N random in 64..127 so that two sandboxes on one machine (a test's and the demo's) rarely share a range.
 * Pods use 127.1.0.0/16 (ipam.ts).
 */
export function serviceRanges(n = 64 + Math.floor(Math.random() * 64)): {
  serviceCidr: string;
  loadBalancerCidr: string;
} {
  return { serviceCidr: `127.${n}.0.0/16`, loadBalancerCidr: `127.${n + 64}.0.0/16` };
}

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  server: string;
  adminToken: string;
  operatorToken: string;
  /** Admin kubeconfig (token auth, TLS verification skipped). */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** Kubeconfig of the user `emqx-operator`, who has no groups and so no rights until RBAC grants them. */
  operatorKubeconfigPath: string;
  operatorKubeConfig: KubeConfig;
  /** PEM file of the CA that signs the API server's serving certificate (what pods get as ca.crt). */
  caFile: string;
  logsDir: string;
  processes: ManagedProcess[];
  /** `--service-cluster-ip-range`: a loopback /16, so that ClusterIPs can be served (kubelet/service-proxy.ts). */
  serviceCidr: string;
  /** Milliseconds from the call to a ready control plane. */
  startupMs: number;
  /** Stops kube-controller-manager, kube-apiserver and etcd, in that order. Idempotent. */
  stop(): Promise<void>;
  /**
   * Chaos: stops etcd or kube-apiserver (SIGTERM), keeps it down `downMs` (default 0), starts it again with the same
   * arguments, state and port, and resolves once it is healthy again.
   */
  restart(component: 'etcd' | 'kube-apiserver', opts?: { downMs?: number }): Promise<void>;
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const t0 = Date.now();
  const log = opts.log ?? (() => {});
  const stateDir = path.join(opts.dir, 'state');
  const logsDir = path.join(opts.dir, 'logs');
  mkdirSync(stateDir, { recursive: true });
  mkdirSync(logsDir, { recursive: true });
  const bin = (name: string) => path.join(opts.binDir, name);
  const logFile = (name: string) => path.join(logsDir, `${name}.log`);
  const processes: ManagedProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const p of [...processes].reverse()) await p.stop();
  };

  const serviceCidr = opts.serviceCidr ?? serviceRanges().serviceCidr;
  try {
    const [etcdClientPort, etcdPeerPort, apiPort, kcmPort] = await freePorts(4);

    // etcd
    const etcdArgs = [
      `--data-dir=${path.join(stateDir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClientPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ];
    const startEtcd = async () => {
      const etcd = startProcess('etcd', bin('etcd'), etcdArgs, logFile('etcd'));
      processes.push(etcd);
      await waitHealthy(etcd, `http://127.0.0.1:${etcdClientPort}/health`, (body) => body.includes('"true"'));
      return etcd;
    };
    await startEtcd();
    log(`etcd ready on 127.0.0.1:${etcdClientPort} (${Date.now() - t0} ms)`);

    // kube-apiserver
    const adminToken = randomBytes(24).toString('hex');
    const operatorToken = randomBytes(24).toString('hex');
    const tokensFile = path.join(stateDir, 'tokens.csv');
    writeFileSync(
      tokensFile,
      `${adminToken},sandbox-admin,uid-sandbox-admin,"system:masters"\n${operatorToken},${OPERATOR_USER},uid-${OPERATOR_USER}\n`,
      { mode: 0o600 },
    );
    const saKey = path.join(stateDir, 'sa.key');
    const saPub = path.join(stateDir, 'sa.pub');
    const keys = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    writeFileSync(saKey, keys.privateKey, { mode: 0o600 });
    writeFileSync(saPub, keys.publicKey);
    const apiArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
      `--cert-dir=${path.join(stateDir, 'pki')}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      '--advertise-address=127.0.0.1',
      // The `kubernetes` Endpoints reconciler refuses loopback addresses.
      '--endpoint-reconciler-type=none',
      // Only a setting: ClusterIPs are allocated from it, nothing is ever sent there.
      `--service-cluster-ip-range=${serviceCidr}`,
      '--authorization-mode=RBAC',
      `--token-auth-file=${tokensFile}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--disable-admission-plugins=ServiceAccount',
      // Webhooks (the operator's conversion webhook) are called at an endpoint of their Service, as for
      // aggregated APIs, instead of the ClusterIP.
      '--enable-aggregator-routing=true',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      `--min-request-timeout=${opts.minRequestTimeoutSeconds ?? 30}`,
      '--profiling=false',
      ...(opts.apiserverArgs ?? []),
    ];
    const server = `https://127.0.0.1:${apiPort}`;
    const startApiserver = async () => {
      const apiserver = startProcess(
        'kube-apiserver',
        bin('kube-apiserver'),
        apiArgs,
        logFile('kube-apiserver'),
      );
      processes.push(apiserver);
      await waitHealthy(apiserver, `${server}/readyz`, (body) => body.trim() === 'ok', 90_000);
      return apiserver;
    };
    await startApiserver();
    // The self-signed serving certificate the API server generated: the leaf followed by the CA that signed it.
    const caFile = path.join(stateDir, 'pki', 'apiserver.crt');
    log(`kube-apiserver ready on ${server} (${Date.now() - t0} ms)`);

    const kubeconfigPath = path.join(stateDir, 'admin.kubeconfig');
    writeFileAtomic(kubeconfigPath, kubeconfigYaml(server, 'sandbox-admin', adminToken));
    const operatorKubeconfigPath = path.join(stateDir, 'operator.kubeconfig');
    writeFileAtomic(operatorKubeconfigPath, kubeconfigYaml(server, OPERATOR_USER, operatorToken));

    // kube-controller-manager
    const kcm = startProcess(
      'kube-controller-manager',
      bin('kube-controller-manager'),
      [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${path.join(stateDir, 'kcm-pki')}`,
        '--authorization-always-allow-paths=/healthz,/readyz,/livez',
        `--controllers=${CONTROLLERS.join(',')}`,
        `--root-ca-file=${caFile}`,
        '--profiling=false',
        ...(opts.controllerManagerArgs ?? []),
      ],
      logFile('kube-controller-manager'),
    );
    processes.push(kcm);
    await waitHealthy(kcm, `https://127.0.0.1:${kcmPort}/healthz`, (body) => body.trim() === 'ok');
    log(`kube-controller-manager ready (${Date.now() - t0} ms)`);

    return {
      server,
      adminToken,
      operatorToken,
      kubeconfigPath,
      kubeConfig: kubeConfigFor(server, 'sandbox-admin', adminToken),
      operatorKubeconfigPath,
      operatorKubeConfig: kubeConfigFor(server, OPERATOR_USER, operatorToken),
      caFile,
      logsDir,
      processes,
      serviceCidr,
      startupMs: Date.now() - t0,
      stop,
      async restart(component, restartOpts = {}) {
        const i = processes.findIndex((p) => p.name === component);
        if (i < 0) throw new Error(`no running ${component}`);
        const [old] = processes.splice(i, 1);
        await old!.stop();
        log(`${component} stopped (chaos)`);
        if (restartOpts.downMs) await new Promise((r) => setTimeout(r, restartOpts.downMs));
        if (component === 'etcd') await startEtcd();
        else await startApiserver();
        // keep the start order, so that stop() still stops kube-controller-manager, kube-apiserver, etcd
        const rank = (n: string) => ['etcd', 'kube-apiserver', 'kube-controller-manager'].indexOf(n);
        processes.sort((a, b) => rank(a.name) - rank(b.name));
        log(`${component} restarted (chaos)`);
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Polls `url` until `ok(body)` holds; fails at once if the process exits, with the tail of its log. */
async function waitHealthy(
  proc: ManagedProcess,
  url: string,
  ok: (body: string) => boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedWith: number | string | undefined;
  void proc.exited.then((code) => (exitedWith = code));
  let last = '';
  while (Date.now() < deadline) {
    if (exitedWith !== undefined) {
      throw new Error(
        `${proc.name} exited (${exitedWith}) while starting; end of ${proc.logFile}:\n${tail(proc.logFile)}`,
      );
    }
    try {
      const { status, body } = await httpGet(url);
      if (status === 200 && ok(body)) return;
      last = `HTTP ${status}: ${body.slice(0, 300)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(
    `${proc.name} not healthy at ${url} after ${timeoutMs} ms (last answer: ${last}); end of ${proc.logFile}:\n${tail(proc.logFile)}`,
  );
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
