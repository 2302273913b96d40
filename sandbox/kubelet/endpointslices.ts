// EndpointSlices for Services with a selector, as the endpointslice controller would write them. The real
// controller cannot run here: it writes IPv4 slices, and their validation rejects loopback pod IPs. These slices
// use addressType FQDN, whose validation accepts a dotted-quad name, with the pod IP as the address. The API
// server's `--enable-aggregator-routing` resolver takes an endpoint's first address whatever the slice's type, so
// it calls webhooks (the operator's conversion webhook) at a ready pod IP behind the webhook's Service, as in a real
// cluster.
//
// One slice per Service, `<service>-sandbox`, owned by the Service (garbage-collected with it), labelled
// `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by: sandbox-kubelet`; ports are the
// Service's ports with their target port resolved against each pod's container ports (named or numbered).
// Written with server-side apply, only when the content changed.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { CONTENT_TYPE, type KubeApi } from './api.ts';

export const MANAGED_BY = 'sandbox-kubelet';

interface SlicePort {
  name: string;
  port: number;
  protocol: string;
}

export interface EndpointSliceBody {
  apiVersion: 'discovery.k8s.io/v1';
  kind: 'EndpointSlice';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    ownerReferences: Array<Record<string, unknown>>;
  };
  addressType: 'FQDN';
  ports: SlicePort[];
  endpoints: Array<{
    addresses: string[];
    conditions: { ready: boolean; serving: boolean; terminating: boolean };
    nodeName?: string;
    targetRef: { kind: 'Pod'; namespace: string; name: string; uid: string };
  }>;
}

function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function selects(selector: Record<string, string>, pod: V1Pod): boolean {
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The EndpointSlice of `svc` given the pods of its namespace; undefined for Services without a selector. */
export function endpointSliceFor(svc: V1Service, pods: readonly V1Pod[]): EndpointSliceBody | undefined {
  const selector = svc.spec?.selector;
  const ns = svc.metadata?.namespace ?? 'default';
  const name = svc.metadata?.name ?? '';
  if (!selector || Object.keys(selector).length === 0 || svc.spec?.type === 'ExternalName') return undefined;
  const members = pods
    .filter(
      (p) =>
        p.status?.podIP &&
        selects(selector, p) &&
        p.status?.phase !== 'Succeeded' &&
        p.status?.phase !== 'Failed',
    )
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  // A Service port's target port is a number, or a container port's name (which may differ per pod; the first
  // pod that has it decides, as the real controller splits slices by port mapping).
  const ports: SlicePort[] = (svc.spec?.ports ?? []).flatMap((sp) => {
    const target = sp.targetPort ?? sp.port;
    let port: number | undefined =
      typeof target === 'number' ? target : Number.isInteger(Number(target)) ? Number(target) : undefined;
    if (port === undefined) {
      for (const p of members) {
        const cp = p.spec?.containers.flatMap((c) => c.ports ?? []).find((x) => x.name === target);
        if (cp) {
          port = cp.containerPort;
          break;
        }
      }
    }
    return port === undefined ? [] : [{ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' }];
  });
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${name}-sandbox`.slice(0, 253),
      namespace: ns,
      labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': MANAGED_BY },
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          name,
          uid: svc.metadata?.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    addressType: 'FQDN',
    ports,
    endpoints: members.map((p) => {
      const terminating = !!p.metadata?.deletionTimestamp;
      const ready = podReady(p) && !terminating;
      return {
        addresses: [p.status!.podIP!],
        conditions: { ready: ready || (publishNotReady && !terminating), serving: podReady(p), terminating },
        ...(p.spec?.nodeName && { nodeName: p.spec.nodeName }),
        targetRef: { kind: 'Pod', namespace: ns, name: p.metadata?.name ?? '', uid: p.metadata?.uid ?? '' },
      };
    }),
  };
}

/** Keeps the slices of every Service up to date; `changed(ns)` after any Service or pod event in `ns`. */
export class EndpointSliceWriter {
  private readonly written = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  stopped = false;
  private readonly api: KubeApi;
  private readonly services: (ns: string) => readonly V1Service[];
  private readonly pods: (ns: string) => readonly V1Pod[];
  private readonly log: (line: string) => void;

  constructor(
    api: KubeApi,
    sources: { services: (ns: string) => readonly V1Service[]; pods: (ns: string) => readonly V1Pod[] },
    log: (line: string) => void,
  ) {
    this.api = api;
    this.services = sources.services;
    this.pods = sources.pods;
    this.log = log;
  }

  changed(ns: string | undefined): void {
    if (this.stopped || !ns) return;
    this.dirty.add(ns);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, 20);
  }

  private async flush(): Promise<void> {
    if (this.running) return; // the running pass picks up what was marked dirty meanwhile
    this.running = (async () => {
      while (this.dirty.size > 0 && !this.stopped) {
        const namespaces = [...this.dirty];
        this.dirty.clear();
        for (const ns of namespaces) await this.syncNamespace(ns);
      }
    })();
    await this.running;
    this.running = undefined;
  }

  private async syncNamespace(ns: string): Promise<void> {
    const pods = this.pods(ns);
    for (const svc of this.services(ns)) {
      if (this.stopped) return;
      const slice = endpointSliceFor(svc, pods);
      if (!slice) continue;
      const key = `${ns}/${slice.metadata.name}/${svc.metadata?.uid}`;
      const body = JSON.stringify(slice);
      if (this.written.get(key) === body) continue;
      try {
        await this.api.request(
          'PATCH',
          `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${slice.metadata.name}`,
          { body, contentType: CONTENT_TYPE.apply, query: { fieldManager: MANAGED_BY, force: true } },
        );
        this.written.set(key, body);
      } catch (e) {
        this.log(`endpointslice ${ns}/${slice.metadata.name}: ${(e as Error).message}`);
        setTimeout(() => this.changed(ns), 1000).unref();
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
