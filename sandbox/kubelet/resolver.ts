// Cluster DNS for the sandbox, answered from the kubelet emulator's informer caches (no API call per question).
// Endpoints/EndpointSlices cannot hold loopback IPs, so this is how pods find each other. A headless Service
// (clusterIP: None) resolves to its ready pods, any other Service to its ClusterIP (a loopback address that
// service-proxy.ts serves).
import net from 'node:net';
import type { V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { SandboxResolver } from './handler.ts';

export interface ResolverCaches {
  services(namespace?: string): readonly V1Service[];
  pods(namespace?: string): readonly V1Pod[];
}

export function podReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function selects(svc: V1Service, pod: V1Pod): boolean {
  const sel = svc.spec?.selector;
  if (!sel || Object.keys(sel).length === 0) return false;
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(sel).every(([k, v]) => labels[k] === v);
}

/** Whether a pod is an address of the Service, with the endpoints controller's rules. */
export function published(svc: V1Service, pod: V1Pod): boolean {
  if (!pod.status?.podIP) return false;
  const phase = pod.status.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  if (svc.spec?.publishNotReadyAddresses) return true;
  return podReady(pod) && !pod.metadata?.deletionTimestamp;
}

export function endpointPort(port: V1ServicePort, pod: V1Pod): number | undefined {
  const t = port.targetPort;
  if (t === undefined || t === null || t === '') return port.port;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(t)) return Number(t);
  for (const c of pod.spec?.containers ?? []) {
    const p = c.ports?.find((cp) => cp.name === t && (cp.protocol ?? 'TCP') === (port.protocol ?? 'TCP'));
    if (p) return p.containerPort;
  }
  return undefined;
}

export class CacheResolver implements SandboxResolver {
  readonly clusterDomain: string;
  private readonly caches: ResolverCaches;

  constructor(clusterDomain: string, caches: ResolverCaches) {
    this.clusterDomain = clusterDomain.replace(/^\.|\.$/g, '');
    this.caches = caches;
  }

  /** Splits a name into labels below `svc.<domain>` / `pod.<domain>`; undefined when it is not in the domain. */
  private labelsUnder(name: string): { kind: 'svc' | 'pod'; labels: string[] } | undefined {
    let n = name.toLowerCase().replace(/\.$/, '');
    if (n.endsWith('.svc')) n += `.${this.clusterDomain}`;
    for (const kind of ['svc', 'pod'] as const) {
      const suffix = `.${kind}.${this.clusterDomain}`;
      if (n.endsWith(suffix)) return { kind, labels: n.slice(0, -suffix.length).split('.') };
    }
    return undefined;
  }

  private headless(name: string, namespace: string): V1Service | undefined {
    const svc = this.caches.services(namespace).find((s) => s.metadata?.name === name);
    return svc && svc.spec?.clusterIP === 'None' ? svc : undefined;
  }

  private members(svc: V1Service): V1Pod[] {
    const ns = svc.metadata?.namespace;
    return this.caches
      .pods(ns)
      .filter((p) => selects(svc, p) && published(svc, p))
      .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  }

  /** The DNS name of a pod behind a headless Service, as CoreDNS builds it. */
  private podName(svc: V1Service, pod: V1Pod): string {
    const svcName = svc.metadata?.name;
    const ns = svc.metadata?.namespace;
    const host =
      pod.spec?.hostname && pod.spec.subdomain === svcName
        ? pod.spec.hostname
        : pod.status!.podIP!.replace(/\./g, '-');
    return `${host}.${svcName}.${ns}.svc.${this.clusterDomain}`;
  }

  async resolveSrv(
    name: string,
  ): Promise<Array<{ name: string; port: number; priority: number; weight: number }>> {
    const parsed = this.labelsUnder(name);
    if (!parsed || parsed.kind !== 'svc') return [];
    let labels = parsed.labels;
    let portName: string | undefined;
    let protocol: string | undefined;
    // _<port>._<proto>.<svc>.<ns>.svc.<domain>
    if (labels.length === 4 && labels[0].startsWith('_') && labels[1].startsWith('_')) {
      portName = labels[0].slice(1);
      protocol = labels[1].slice(1).toUpperCase();
      labels = labels.slice(2);
    }
    if (labels.length !== 2) return [];
    const svc = this.headless(labels[0], labels[1]);
    if (!svc) return [];
    const ports = (svc.spec?.ports ?? []).filter(
      (p) =>
        (portName === undefined || p.name === portName) &&
        (protocol === undefined || (p.protocol ?? 'TCP') === protocol),
    );
    const pods = this.members(svc);
    const records: Array<{ name: string; port: number; priority: number; weight: number }> = [];
    for (const pod of pods) {
      for (const p of ports) {
        const port = endpointPort(p, pod);
        if (port !== undefined) records.push({ name: this.podName(svc, pod), port, priority: 0, weight: 0 });
      }
    }
    const weight = records.length > 0 ? Math.floor(100 / records.length) : 0;
    return records.map((r) => ({ ...r, weight }));
  }

  async resolveHost(name: string): Promise<string[]> {
    if (net.isIP(name)) return [name];
    const parsed = this.labelsUnder(name);
    if (!parsed) return [];
    const { kind, labels } = parsed;
    if (kind === 'pod') {
      // <a-b-c-d>.<ns>.pod.<domain>
      if (labels.length !== 2) return [];
      const ip = labels[0].replace(/-/g, '.');
      return net.isIPv4(ip) && this.caches.pods(labels[1]).some((p) => p.status?.podIP === ip) ? [ip] : [];
    }
    if (labels.length === 2) {
      const svc = this.headless(labels[0], labels[1]);
      if (svc) return this.members(svc).map((p) => p.status!.podIP!);
      const any = this.caches.services(labels[1]).find((s) => s.metadata?.name === labels[0]);
      const ip = any?.spec?.clusterIP;
      return ip && net.isIPv4(ip) && ip.startsWith('127.') ? [ip] : [];
    }
    if (labels.length === 3) {
      const [host, svcName, ns] = labels;
      const svc = this.headless(svcName, ns);
      if (!svc) return [];
      return this.members(svc)
        .filter((p) => this.podName(svc, p) === `${host}.${svcName}.${ns}.svc.${this.clusterDomain}`)
        .map((p) => p.status!.podIP!);
    }
    return [];
  }
}
