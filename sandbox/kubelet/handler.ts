// The contract between the kubelet emulator and the software it "runs". The kubelet emulator resolves a pod's
// environment and volumes, then hands each container to the first ImageHandler whose `matches` accepts the image.
// EMQX images go to the EMQX node emulator (sandbox/emqx); anything else to the generic handler.
import type { V1Container, V1Pod } from '@kubernetes/client-node';

/** Answers the DNS questions that cluster DNS would answer for pods (Endpoints cannot hold loopback IPs). */
export interface SandboxResolver {
  /** The cluster domain this resolver serves, e.g. `cluster.local`. */
  readonly clusterDomain: string;
  /**
   * SRV records of a Service name such as `emqx-headless.default.svc.cluster.local`: one per selected pod that has
   * an IP (not-ready pods only when the Service sets publishNotReadyAddresses), with the pod's stable DNS name
   * (`<hostname>.<subdomain>.<ns>.svc.<domain>` when the pod has hostname and subdomain, else
   * `<ip-with-dashes>.<service>.<ns>.svc.<domain>`) as the target. Empty when the name is unknown.
   */
  resolveSrv(name: string): Promise<Array<{ name: string; port: number; priority: number; weight: number }>>;
  /** A records: pod DNS names, headless Service names, or an IP literal (returned as is). Empty when unknown. */
  resolveHost(name: string): Promise<string[]>;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Everything a handler may know about the container it runs; nothing else. */
export interface ContainerContext {
  pod: V1Pod;
  container: V1Container;
  /** The pod's IP, in 127.1.0.0/16. Servers of the container listen on this address. */
  podIP: string;
  /** The container's environment, fully resolved (value, valueFrom, envFrom, $(VAR) expansion). */
  env: Record<string, string>;
  /**
   * Maps a path inside the container (e.g. `/opt/emqx/etc/emqx.conf`, `/opt/emqx/data`) to the host path that
   * backs it (ConfigMap/Secret/emptyDir/PVC directory, honouring subPath). Undefined when nothing is mounted there.
   */
  hostPath(containerPath: string): string | undefined;
  /** The container's mounts (container path → host path), for handlers that run a real program in a mount
   * namespace of its own. */
  mounts?: ReadonlyArray<{ mountPath: string; hostPath: string; readOnly: boolean }>;
  /** Number of times this container has been restarted by the kubelet emulator. */
  restartCount: number;
  dns: SandboxResolver;
  /** Writes a line to the container's log (kept by the kubelet emulator in the pod directory). */
  log(line: string): void;
}

export interface RunningContainer {
  /** Runs a command "inside" the container (exec probes, preStop hooks). Unknown commands exit 127. */
  exec(command: string[], timeoutMs: number): Promise<ExecResult>;
  /**
   * Stops the container. `graceful` is false when the grace period ran out (SIGKILL): the software must not get
   * to run its own shutdown logic.
   */
  stop(opts: { graceful: boolean }): Promise<void>;
  /** Resolves with the exit code if the container exits by itself (crash, fatal config error). */
  readonly exited: Promise<number>;
}

export interface ImageHandler {
  readonly name: string;
  matches(image: string): boolean;
  start(ctx: ContainerContext): Promise<RunningContainer>;
}
