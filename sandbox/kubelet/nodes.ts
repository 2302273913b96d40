// The emulated Nodes: registered at start, kept Ready (nothing sends heartbeats, and node-lifecycle-controller does
// not run, so Ready only changes if someone edits it; then we put it back, as a kubelet's next status update would).
import type { V1Node } from '@kubernetes/client-node';
import { CONTENT_TYPE, isConflict, isNotFound, type KubeApi } from './api.ts';
import type { NodeResources } from './env.ts';
import { timestamp } from './status.ts';

export const KUBELET_VERSION = 'v1.36.3';

export function nodeNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `sandbox-node-${i}`);
}

export function zoneOf(index: number): string {
  return `sandbox-zone-${String.fromCharCode(97 + (index % 3))}`;
}

export function nodeStatus(resources: NodeResources, hostIP: string, name: string): V1Node['status'] {
  const now = timestamp();
  const capacity = { ...resources, pods: '110' };
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  return {
    capacity,
    allocatable: capacity,
    conditions: [
      condition(
        'MemoryPressure',
        'False',
        'KubeletHasSufficientMemory',
        'kubelet has sufficient memory available',
      ),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      condition(
        'Ready',
        'True',
        'KubeletReady',
        'kubelet emulator (emqx-operator sandbox) is posting ready status',
      ),
    ],
    addresses: [
      { type: 'InternalIP', address: hostIP },
      { type: 'Hostname', address: name },
    ],
    nodeInfo: {
      architecture: 'amd64',
      operatingSystem: 'linux',
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: '',
      containerRuntimeVersion: 'sandbox://0.1.0',
      kernelVersion: '',
      osImage: 'emqx-operator sandbox',
      machineID: name,
      systemUUID: name,
      bootID: name,
    },
  } as unknown as V1Node['status'];
}

export function nodeManifest(name: string, index: number): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': zoneOf(index),
        'topology.kubernetes.io/region': 'sandbox',
        'sandbox.emqx.io/node': 'true',
      },
    },
    spec: {},
  };
}

export function isReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Taints the node lifecycle controller would remove from a Ready node (admission adds not-ready at creation). */
const CONDITION_TAINTS = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'];

export function hasConditionTaints(node: V1Node): boolean {
  return (node.spec?.taints ?? []).some((t) => CONDITION_TAINTS.includes(t.key));
}

export class NodeKeeper {
  readonly names: string[];
  private readonly api: KubeApi;
  private readonly resources: NodeResources;
  private readonly hostIP: string;
  private readonly log: (line: string) => void;
  private readonly busy = new Set<string>();
  stopped = false;

  constructor(
    api: KubeApi,
    count: number,
    resources: NodeResources,
    hostIP: string,
    log: (line: string) => void,
  ) {
    this.api = api;
    this.names = nodeNames(count);
    this.resources = resources;
    this.hostIP = hostIP;
    this.log = log;
  }

  async registerAll(): Promise<void> {
    await Promise.all(this.names.map((n) => this.ensure(n, undefined)));
  }

  /** Called with the informer's view of a node (undefined when it was deleted). */
  check(name: string, node: V1Node | undefined): void {
    if (this.stopped || !this.names.includes(name)) return;
    if (node && isReady(node) && node.status?.addresses?.length && !hasConditionTaints(node)) return;
    void this.ensure(name, node);
  }

  private async ensure(name: string, known: V1Node | undefined): Promise<void> {
    if (this.busy.has(name)) return;
    this.busy.add(name);
    try {
      let node = known;
      if (!node) {
        try {
          node = await this.api.post<V1Node>('/api/v1/nodes', nodeManifest(name, this.names.indexOf(name)));
          this.log(`registered node ${name}`);
        } catch (e) {
          if (!isConflict(e)) throw e;
          node = await this.api.get<V1Node>(`/api/v1/nodes/${name}`);
        }
      }
      if (!isReady(node) || !node.status?.addresses?.length) {
        await this.api.patch(
          `/api/v1/nodes/${name}/status`,
          { status: nodeStatus(this.resources, this.hostIP, name) },
          CONTENT_TYPE.strategic,
        );
      }
      if (hasConditionTaints(node)) {
        const taints = (node.spec?.taints ?? []).filter((t) => !CONDITION_TAINTS.includes(t.key));
        await this.api.patch(`/api/v1/nodes/${name}`, {
          spec: { taints: taints.length > 0 ? taints : null },
        });
      }
    } catch (e) {
      if (!this.stopped && !isNotFound(e)) this.log(`node ${name}: ${(e as Error).message}`);
      if (!this.stopped) setTimeout(() => this.check(name, undefined), 1000);
    } finally {
      this.busy.delete(name);
    }
  }
}
