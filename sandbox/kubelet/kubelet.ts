// The kubelet emulator: registers fake Nodes, schedules and binds pending pods, provisions volumes, and runs every
// pod bound to its nodes through image handlers (see handler.ts), with probes, restarts, status and graceful
// deletion. Everything is driven by informers (list + watch); it never polls the API server.
import { mkdirSync } from 'node:fs';
import type {
  KubeConfig,
  KubernetesObject,
  V1ConfigMap,
  V1Node,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import { CONTENT_TYPE, Informer, isConflict, isNotFound, KubeApi } from './api.ts';
import { DEFAULT_NODE_RESOURCES, type NodeResources } from './env.ts';
import { genericHandler } from './generic.ts';
import type { ImageHandler, RunningContainer, SandboxResolver } from './handler.ts';
import { AddressClaims, IpAllocator } from './ipam.ts';
import { NodeKeeper } from './nodes.ts';
import { DEFAULT_BACKOFF, PodWorker, type BackoffSettings } from './pod-worker.ts';
import { Provisioner } from './provisioner.ts';
import { CacheResolver } from './resolver.ts';
import { ServiceProxy } from './service-proxy.ts';
import { chooseNode } from './scheduler.ts';
import { timestamp } from './status.ts';
import type { VolumeSources } from './volumes.ts';
import { TokenManager } from './tokens.ts';
import { EndpointSliceWriter } from './endpointslices.ts';

export const HOST_IP = '127.0.0.1';

export interface KubeletOptions {
  /** Admin credentials: the emulator plays kubelet, scheduler and volume provisioner. */
  kubeConfig: KubeConfig;
  /** Sandbox directory: pods under `<dir>/pods`, volumes under `<dir>/volumes`. */
  dir: string;
  /** Number of Nodes (default 3). */
  nodes?: number;
  /** Tried in order for each container image; the generic handler is always appended last. */
  handlers?: readonly ImageHandler[];
  /** Default `cluster.local`. */
  clusterDomain?: string;
  /** The emulator's own log. */
  log?: (line: string) => void;
  backoff?: Partial<BackoffSettings>;
  nodeResources?: NodeResources;
  /** Loopback CIDR of LoadBalancer addresses (default 127.200.0.0/16; the sandbox passes its own). */
  loadBalancerCidr?: string;
}

export class Kubelet {
  readonly api: KubeApi;
  readonly dir: string;
  readonly nodeNames: readonly string[];
  readonly resolver: SandboxResolver;
  readonly handlers: readonly ImageHandler[];
  private readonly log: (line: string) => void;
  /** Pod IPs, claimed machine-wide: other sandboxes on this machine never hand out the same ones. */
  private readonly ipam = new IpAllocator(undefined, new AddressClaims());
  private readonly workers = new Map<string, PodWorker>();
  private readonly byName = new Map<string, string>();
  private readonly unscheduled = new Map<string, V1Pod>();
  private readonly binding = new Map<string, V1Pod>();
  private readonly forceDeleted = new Set<string>();
  private readonly informers: {
    pods: Informer<V1Pod>;
    nodes: Informer<V1Node>;
    services: Informer<V1Service>;
    secrets: Informer<V1Secret>;
    configMaps: Informer<V1ConfigMap>;
    pvcs: Informer<V1PersistentVolumeClaim>;
    pvs: Informer<V1PersistentVolume>;
  };
  private readonly keeper: NodeKeeper;
  /** kube-proxy and a load-balancer controller: Services carry traffic. */
  readonly serviceProxy: ServiceProxy;
  private readonly provisioner: Provisioner;
  private readonly sources: VolumeSources;
  private readonly tokens: TokenManager;
  private readonly slices: EndpointSliceWriter;
  /** What every container gets as KUBERNETES_SERVICE_HOST/PORT: the API server itself (on loopback). */
  private readonly serviceEnv: Record<string, string>;
  private readonly backoff: BackoffSettings;
  private readonly nodeResources: NodeResources;
  private schedulePending = false;
  private scheduling: Promise<void> | undefined;
  private scheduleTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(opts: KubeletOptions) {
    this.api = new KubeApi(opts.kubeConfig);
    this.dir = opts.dir;
    this.log = opts.log ?? (() => {});
    this.handlers = [...(opts.handlers ?? []), genericHandler];
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.nodeResources = opts.nodeResources ?? DEFAULT_NODE_RESOURCES;
    const onError = (what: string) => (e: unknown) => {
      if (!this.stopped) this.log(`informer ${what}: ${(e as Error)?.message ?? e}; restarting`);
    };
    const informer = <T extends KubernetesObject>(path: string) =>
      new Informer<T>(this.api, path, onError(path));
    this.informers = {
      pods: informer<V1Pod>('/api/v1/pods'),
      nodes: informer<V1Node>('/api/v1/nodes'),
      services: informer<V1Service>('/api/v1/services'),
      secrets: informer<V1Secret>('/api/v1/secrets'),
      configMaps: informer<V1ConfigMap>('/api/v1/configmaps'),
      pvcs: informer<V1PersistentVolumeClaim>('/api/v1/persistentvolumeclaims'),
      pvs: informer<V1PersistentVolume>('/api/v1/persistentvolumes'),
    };
    const inf = this.informers;
    this.slices = new EndpointSliceWriter(
      this.api,
      { services: (ns) => inf.services.list(ns), pods: (ns) => inf.pods.list(ns) },
      this.log,
    );
    this.tokens = new TokenManager(this.api, (uid) => this.workers.get(uid)?.poke(), this.log);
    this.sources = {
      secret: (ns, name) => inf.secrets.get(name, ns),
      configMap: (ns, name) => inf.configMaps.get(name, ns),
      pvc: (ns, name) => inf.pvcs.get(name, ns),
      pv: (name) => inf.pvs.get(name),
      serviceAccountToken: (pod, src) => this.tokens.get(pod, src),
    };
    // A kubelet gives every container the `kubernetes` Service's address; in the sandbox nothing carries ClusterIP
    // traffic, so it is the API server's own address (what the Service's endpoint would be).
    const api = new URL(this.api.server);
    const host = api.hostname.replace(/^\[|\]$/g, '');
    const port = api.port || '443';
    this.serviceEnv = {
      KUBERNETES_SERVICE_HOST: host,
      KUBERNETES_SERVICE_PORT: port,
      KUBERNETES_SERVICE_PORT_HTTPS: port,
      KUBERNETES_PORT: `tcp://${api.host}`,
      [`KUBERNETES_PORT_${port}_TCP`]: `tcp://${api.host}`,
      [`KUBERNETES_PORT_${port}_TCP_PROTO`]: 'tcp',
      [`KUBERNETES_PORT_${port}_TCP_PORT`]: port,
      [`KUBERNETES_PORT_${port}_TCP_ADDR`]: host,
    };
    this.resolver = new CacheResolver(opts.clusterDomain ?? 'cluster.local', {
      services: (ns) => inf.services.list(ns),
      pods: (ns) => inf.pods.list(ns),
    });
    this.serviceProxy = new ServiceProxy({
      api: this.api,
      caches: {
        services: (ns) => inf.services.list(ns),
        service: (name, ns) => inf.services.get(name, ns),
        pods: (ns) => inf.pods.list(ns),
      },
      nodeIP: HOST_IP,
      loadBalancerCidr: opts.loadBalancerCidr ?? '127.200.0.0/16',
      log: this.log,
    });
    this.keeper = new NodeKeeper(this.api, opts.nodes ?? 3, this.nodeResources, HOST_IP, this.log);
    this.nodeNames = this.keeper.names;
    this.provisioner = new Provisioner(
      this.api,
      this.dir,
      { pv: (n) => inf.pvs.get(n), pvs: () => inf.pvs.list(), pvc: (ns, n) => inf.pvcs.get(n, ns) },
      this.log,
    );
  }

  static async start(opts: KubeletOptions): Promise<Kubelet> {
    const k = new Kubelet(opts);
    mkdirSync(k.dir, { recursive: true });
    await k.run();
    return k;
  }

  private async run(): Promise<void> {
    const inf = this.informers;
    const pokeNamespace = (obj: { metadata?: { namespace?: string } }) => {
      for (const w of this.workers.values()) if (w.namespace === obj.metadata?.namespace) w.poke();
    };
    for (const i of [inf.secrets, inf.configMaps] as Array<Informer<V1Secret | V1ConfigMap>>) {
      i.on('add', pokeNamespace);
      i.on('update', pokeNamespace);
      i.on('delete', pokeNamespace);
    }
    inf.pvcs.on('add', (pvc) => (this.provisioner.claim(pvc), pokeNamespace(pvc)));
    inf.pvcs.on('update', (pvc) => (this.provisioner.claim(pvc), pokeNamespace(pvc)));
    inf.pvcs.on('delete', (pvc) => this.provisioner.claimGone(pvc));
    inf.pvs.on('add', (pv) => this.provisioner.volume(pv));
    inf.pvs.on('update', (pv) => {
      this.provisioner.volume(pv);
      for (const w of this.workers.values()) if (w.namespace === pv.spec?.claimRef?.namespace) w.poke();
    });
    inf.nodes.on('add', (n) => (this.keeper.check(n.metadata!.name!, n), this.requestSchedule()));
    inf.nodes.on('update', (n) => (this.keeper.check(n.metadata!.name!, n), this.requestSchedule()));
    inf.nodes.on('delete', (n) => this.keeper.check(n.metadata!.name!, undefined));
    const slicesChanged = (o: { metadata?: { namespace?: string } }) =>
      this.slices.changed(o.metadata?.namespace);
    for (const i of [inf.services, inf.pods] as Array<Informer<V1Service | V1Pod>>) {
      i.on('add', slicesChanged);
      i.on('update', slicesChanged);
      i.on('delete', slicesChanged);
    }
    inf.pods.on('add', (p) => this.onPod(p));
    inf.pods.on('update', (p) => this.onPod(p));
    inf.pods.on('delete', (p) => this.onPodDeleted(p));
    for (const ev of ['add', 'update', 'delete'] as const)
      inf.services.on(ev, () => this.serviceProxy.sync());

    // Dependencies first: pods need Secrets/ConfigMaps/PVCs/PVs in the caches; PVs need their claims.
    await Promise.all([inf.secrets.start(), inf.configMaps.start(), inf.services.start(), inf.pvcs.start()]);
    await inf.pvs.start();
    await this.keeper.registerAll();
    await inf.nodes.start();
    await inf.pods.start();
    this.log(`kubelet emulator running nodes ${this.nodeNames.join(', ')}`);
  }

  // ---- pods ----

  private onPod(pod: V1Pod): void {
    if (this.stopped) return;
    const uid = pod.metadata!.uid!;
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) {
      if (!pod.metadata?.deletionTimestamp) {
        this.unscheduled.set(uid, pod);
        this.requestSchedule();
      }
      return;
    }
    if (this.unscheduled.delete(uid) || this.binding.delete(uid)) this.requestSchedule();
    if (this.nodeNames.includes(nodeName)) {
      let w = this.workers.get(uid);
      if (!w) {
        w = new PodWorker(pod, {
          api: this.api,
          sources: this.sources,
          handlers: this.handlers,
          resolver: this.resolver,
          ipam: this.ipam,
          node: this.nodeResources,
          hostIP: HOST_IP,
          sandboxDir: this.dir,
          backoff: this.backoff,
          log: this.log,
          serviceEnv: this.serviceEnv,
          onFinished: (u) => (this.workers.delete(u), this.tokens.forget(u)),
        });
        this.workers.set(uid, w);
        this.byName.set(`${w.namespace}/${w.name}`, uid);
      }
      w.update(pod);
    } else if (pod.metadata?.deletionTimestamp && !this.forceDeleted.has(uid)) {
      // Bound to a node nobody runs: finish the deletion, as the pod garbage collector would.
      this.forceDeleted.add(uid);
      void this.api
        .delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, {
          gracePeriodSeconds: 0,
          preconditions: { uid },
        })
        .catch(() => {});
    }
  }

  private onPodDeleted(pod: V1Pod): void {
    const uid = pod.metadata!.uid!;
    this.unscheduled.delete(uid);
    this.binding.delete(uid);
    this.forceDeleted.delete(uid);
    const w = this.workers.get(uid);
    if (w) {
      const key = `${w.namespace}/${w.name}`;
      if (this.byName.get(key) === uid) this.byName.delete(key);
      void w.gone();
    }
    this.requestSchedule();
  }

  // ---- scheduling ----

  private requestSchedule(): void {
    if (this.stopped || this.unscheduled.size === 0) return;
    if (this.scheduling) {
      this.schedulePending = true;
      return;
    }
    this.scheduling = (async () => {
      try {
        do {
          this.schedulePending = false;
          await this.schedulePass();
        } while (this.schedulePending && !this.stopped);
      } catch (e) {
        this.log(`scheduler: ${(e as Error).stack ?? e}`);
      } finally {
        this.scheduling = undefined;
      }
    })();
  }

  private async schedulePass(): Promise<void> {
    const pending = [...this.unscheduled.values()]
      .filter((p) => !this.binding.has(p.metadata!.uid!))
      .sort(
        (a, b) =>
          String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)) ||
          (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
      );
    let retry = false;
    for (const pod of pending) {
      if (this.stopped) return;
      const placed = [
        ...this.informers.pods
          .list()
          .filter((p) => p.spec?.nodeName && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed'),
        ...[...this.binding.values()],
      ];
      const choice = chooseNode(pod, this.informers.nodes.list(), placed);
      const ns = pod.metadata!.namespace!;
      const name = pod.metadata!.name!;
      const uid = pod.metadata!.uid!;
      if (choice.node) {
        this.binding.set(uid, { ...pod, spec: { ...pod.spec!, nodeName: choice.node } });
        try {
          await this.api.post(`/api/v1/namespaces/${ns}/pods/${name}/binding`, {
            apiVersion: 'v1',
            kind: 'Binding',
            metadata: { name, namespace: ns, uid },
            target: { apiVersion: 'v1', kind: 'Node', name: choice.node },
          });
        } catch (e) {
          this.binding.delete(uid);
          if (isNotFound(e) || isConflict(e)) {
            this.unscheduled.delete(uid);
          } else {
            this.log(`binding ${ns}/${name}: ${(e as Error).message}`);
            retry = true;
          }
        }
      } else {
        await this.markUnschedulable(pod, choice.reason ?? 'no node fits');
      }
    }
    if (retry && !this.scheduleTimer) {
      this.scheduleTimer = setTimeout(() => {
        this.scheduleTimer = undefined;
        this.requestSchedule();
      }, 1000);
    }
  }

  private async markUnschedulable(pod: V1Pod, message: string): Promise<void> {
    const current = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (current?.status === 'False' && current.reason === 'Unschedulable' && current.message === message)
      return;
    try {
      await this.api.patch(
        `/api/v1/namespaces/${pod.metadata!.namespace}/pods/${pod.metadata!.name}/status`,
        {
          metadata: { uid: pod.metadata!.uid },
          status: {
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                reason: 'Unschedulable',
                message,
                lastProbeTime: null,
                lastTransitionTime: timestamp(),
              },
            ],
          },
        },
        CONTENT_TYPE.strategic,
      );
      this.log(`pod ${pod.metadata!.namespace}/${pod.metadata!.name} unschedulable: ${message}`);
    } catch (e) {
      if (!isNotFound(e))
        this.log(`pod ${pod.metadata!.namespace}/${pod.metadata!.name}: ${(e as Error).message}`);
    }
  }

  // ---- for tests and tools ----

  private worker(namespace: string, name: string): PodWorker | undefined {
    const uid = this.byName.get(`${namespace}/${name}`);
    return uid ? this.workers.get(uid) : undefined;
  }

  /** The host directory of a running pod (volumes under `volumes/<name>`, container logs under `logs/`). */
  podDir(namespace: string, name: string): string | undefined {
    return this.worker(namespace, name)?.dir;
  }

  /** The IP the emulator gave a pod. */
  podIP(namespace: string, name: string): string | undefined {
    return this.worker(namespace, name)?.podIP;
  }

  /** The running container `container` of pod `namespace/name` (for exec in tests), if it runs now. */
  container(namespace: string, name: string, container: string): RunningContainer | undefined {
    return this.worker(namespace, name)?.runningContainer(container);
  }

  /** Host directory of a provisioned PV. */
  pvDir(pvName: string): string | undefined {
    const pv = this.informers.pvs.get(pvName);
    return pv?.spec?.hostPath?.path ?? pv?.spec?.local?.path;
  }

  /** How often each informer (re)connected, by resource path: watches the API server ended are re-established. */
  informerConnects(): Record<string, number> {
    return Object.fromEntries(Object.values(this.informers).map((i) => [i.path, i.connects]));
  }

  /** Requests made to the API server so far, by HTTP method. */
  get requestCounts(): Readonly<Record<string, number>> {
    return this.api.counts;
  }

  /** Stops the informers and every container (without grace). Pods stay in the API server as they are. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.keeper.stopped = true;
    this.provisioner.stopped = true;
    if (this.scheduleTimer) clearTimeout(this.scheduleTimer);
    this.tokens.stop();
    this.slices.stop();
    await Promise.all(Object.values(this.informers).map((i) => i.stop()));
    await this.serviceProxy.stop();
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    this.workers.clear();
    this.ipam.releaseAll();
    await this.scheduling;
  }
}
