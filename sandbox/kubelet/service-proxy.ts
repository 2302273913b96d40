// Services carry traffic in the sandbox, as kube-proxy and a load-balancer controller would: for every TCP port of
// a Service, a listener on its ClusterIP (the API server's --service-cluster-ip-range is in 127.0.0.0/8), for
// type LoadBalancer one on an address from a loopback pool that is written into status.loadBalancer.ingress, and
// for NodePort/LoadBalancer one on the node address at the node port. Each connection goes to one ready endpoint
// (round-robin), chosen when it arrives from the informer caches with the endpoints controller's rules: the API
// server refuses loopback addresses in EndpointSlices, so the slices cannot be the source here (resolver.ts does
// the same for DNS). Driven by the Service informer; endpoints are read per connection, so no polling.
import dgram from 'node:dgram';
import net from 'node:net';
import type { V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { CONTENT_TYPE, type KubeApi } from './api.ts';
import { ipToNumber, ipToString } from './ipam.ts';
import { endpointPort, published, selects } from './resolver.ts';

export interface ProxyCaches {
  services(namespace?: string): readonly V1Service[];
  service(name: string, namespace: string): V1Service | undefined;
  pods(namespace?: string): readonly V1Pod[];
}

export interface ServiceProxyOptions {
  api: KubeApi;
  caches: ProxyCaches;
  /** The address NodePorts listen on (the Nodes' InternalIP). */
  nodeIP: string;
  /** Loopback CIDR (/16) LoadBalancer addresses come from. */
  loadBalancerCidr: string;
  log: (line: string) => void;
}

type Protocol = 'TCP' | 'UDP';

interface Binding {
  key: string;
  close(): void;
  /** `namespace/name` of the Service and the port it serves. */
  service: string;
  port: { name?: string; port: number; protocol: Protocol };
}

/** A UDP flow (one client address:port) is forgotten after this long without a datagram either way. */
export const UDP_FLOW_IDLE_MS = 30_000;

/** Hands out LoadBalancer addresses from a loopback /16 (never .0 or .255), one per Service UID. */
export class LoadBalancerPool {
  readonly #base: number;
  readonly #size: number;
  readonly #byOwner = new Map<string, string>();
  readonly #owners = new Map<string, string>();
  #cursor: number;

  constructor(cidr: string, start = Math.floor(Math.random() * 65536)) {
    const [ip, bits] = cidr.split('/');
    const base = ipToNumber(ip ?? '');
    const prefix = Number(bits);
    if (base === undefined || !(prefix >= 8 && prefix <= 30) || base >>> 24 !== 127) {
      throw new Error(`load-balancer pool ${cidr}: expected a CIDR inside 127.0.0.0/8`);
    }
    this.#size = 2 ** (32 - prefix);
    this.#base = base - (base % this.#size);
    this.#cursor = start % this.#size;
  }

  contains(ip: string): boolean {
    const n = ipToNumber(ip);
    return n !== undefined && n >= this.#base && n < this.#base + this.#size;
  }

  allocate(owner: string, wanted?: string): string {
    const had = this.#byOwner.get(owner);
    if (had) return had;
    if (wanted && this.contains(wanted) && !this.#owners.has(wanted)) return this.#take(owner, wanted);
    for (let i = 0; i < this.#size; i++) {
      const off = (this.#cursor + i) % this.#size;
      const last = off & 255;
      if (last === 0 || last === 255) continue;
      const ip = ipToString(this.#base + off);
      if (this.#owners.has(ip)) continue;
      this.#cursor = (off + 1) % this.#size;
      return this.#take(owner, ip);
    }
    throw new Error('the load-balancer pool is exhausted');
  }

  release(owner: string): void {
    const ip = this.#byOwner.get(owner);
    if (ip === undefined) return;
    this.#byOwner.delete(owner);
    this.#owners.delete(ip);
  }

  #take(owner: string, ip: string): string {
    this.#byOwner.set(owner, ip);
    this.#owners.set(ip, owner);
    return ip;
  }
}

function isLoopbackV4(ip: string | undefined): ip is string {
  return ip !== undefined && net.isIPv4(ip) && ip.startsWith('127.');
}

const protocolOf = (p: V1ServicePort): string => p.protocol ?? 'TCP';
const proxied = (p: V1ServicePort): boolean => protocolOf(p) === 'TCP' || protocolOf(p) === 'UDP';

export class ServiceProxy {
  readonly #opts: ServiceProxyOptions;
  readonly #pool: LoadBalancerPool;
  readonly #bindings = new Map<string, Binding>();
  readonly #failed = new Set<string>();
  readonly #rr = new Map<string, number>();
  readonly #sockets = new Set<net.Socket>();
  #syncing: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(opts: ServiceProxyOptions) {
    this.#opts = opts;
    this.#pool = new LoadBalancerPool(opts.loadBalancerCidr);
  }

  /** Reconciles listeners with the Services in the cache (coalesced; call on every Service event). */
  sync(): void {
    if (this.#stopped) return;
    if (this.#syncing) {
      this.#again = true;
      return;
    }
    this.#syncing = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pass();
        } while (this.#again && !this.#stopped);
      } catch (e) {
        this.#opts.log(`service proxy: ${(e as Error).stack ?? e}`);
      } finally {
        this.#syncing = undefined;
      }
    })();
  }

  async #pass(): Promise<void> {
    const want = new Map<string, Omit<Binding, 'close' | 'key'> & { ip: string; listenPort: number }>();
    const lbOwners = new Set<string>();
    for (const svc of this.#opts.caches.services()) {
      const ns = svc.metadata?.namespace ?? 'default';
      const name = svc.metadata?.name ?? '';
      const id = `${ns}/${name}`;
      const spec = svc.spec ?? {};
      const ports = (spec.ports ?? []).filter(proxied);
      const add = (ip: string, port: number, p: V1ServicePort) =>
        want.set(`${protocolOf(p)}/${ip}:${port}`, {
          ip,
          listenPort: port,
          service: id,
          port: { ...(p.name ? { name: p.name } : {}), port: p.port, protocol: protocolOf(p) as Protocol },
        });
      if (isLoopbackV4(spec.clusterIP)) for (const p of ports) add(spec.clusterIP, p.port, p);
      if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
        for (const p of ports) if (p.nodePort) add(this.#opts.nodeIP, p.nodePort, p);
      }
      if (spec.type === 'LoadBalancer' && svc.metadata?.uid) {
        const uid = svc.metadata.uid;
        lbOwners.add(uid);
        const current = svc.status?.loadBalancer?.ingress
          ?.map((i) => i.ip)
          .find((ip) => ip && this.#pool.contains(ip));
        const ip = this.#pool.allocate(uid, current);
        for (const p of ports) add(ip, p.port, p);
        if (current !== ip) await this.#publishIngress(svc, ip);
      }
    }
    // LoadBalancer addresses of Services that are gone or changed type go back to the pool
    for (const [key, b] of this.#bindings) {
      const w = want.get(key);
      if (!w || w.service !== b.service || w.port.port !== b.port.port || w.port.name !== b.port.name) {
        this.#bindings.delete(key);
        b.close();
        this.#opts.log(`service proxy: ${b.service} no longer served on ${key}`);
      }
    }
    this.#releaseUnused(lbOwners);
    for (const [key, w] of want) {
      if (this.#bindings.has(key) || this.#stopped) continue;
      try {
        const close =
          w.port.protocol === 'UDP'
            ? await this.#listenUdp(w.ip, w.listenPort, w.service, w.port)
            : await this.#listen(w.ip, w.listenPort, w.service, w.port);
        this.#bindings.set(key, { key, close, service: w.service, port: w.port });
        this.#failed.delete(key);
        this.#opts.log(`service proxy: ${w.service} port ${w.port.name ?? w.port.port} on ${key}`);
      } catch (e) {
        if (!this.#failed.has(key)) {
          this.#failed.add(key);
          this.#opts.log(`service proxy: cannot listen on ${key} for ${w.service}: ${(e as Error).message}`);
        }
      }
    }
  }

  #lbUids = new Set<string>();
  #releaseUnused(owners: Set<string>): void {
    for (const uid of this.#lbUids) if (!owners.has(uid)) this.#pool.release(uid);
    this.#lbUids = owners;
  }

  async #publishIngress(svc: V1Service, ip: string): Promise<void> {
    const ns = svc.metadata?.namespace ?? 'default';
    const path = `/api/v1/namespaces/${ns}/services/${svc.metadata?.name}/status`;
    try {
      await this.#opts.api.patch(
        path,
        { status: { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } } },
        CONTENT_TYPE.merge,
      );
      this.#opts.log(`service proxy: ${ns}/${svc.metadata?.name} load balancer address ${ip}`);
    } catch (e) {
      this.#opts.log(
        `service proxy: cannot write the load balancer address of ${ns}/${svc.metadata?.name}: ${(e as Error).message}`,
      );
    }
  }

  #listen(ip: string, port: number, service: string, svcPort: Binding['port']): Promise<() => void> {
    const server = net.createServer((client) => this.#forward(client, service, svcPort));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, ip, () => {
        server.off('error', reject);
        server.on('error', (e) => this.#opts.log(`service proxy: ${ip}:${port}: ${e.message}`));
        resolve(() => server.close());
      });
    });
  }

  /**
   * UDP: each client address:port is a flow pinned to one ready endpoint, relayed through a socket of its own
   * (bound to 127.0.0.1) so that replies find their way back; a flow idle for UDP_FLOW_IDLE_MS is dropped.
   */
  async #listenUdp(ip: string, port: number, service: string, svcPort: Binding['port']): Promise<() => void> {
    const sock = dgram.createSocket('udp4');
    const flows = new Map<
      string,
      { up: dgram.Socket; ep: { ip: string; port: number }; timer: NodeJS.Timeout }
    >();
    const drop = (k: string): void => {
      const f = flows.get(k);
      if (!f) return;
      clearTimeout(f.timer);
      f.up.close();
      flows.delete(k);
    };
    sock.on('message', (msg, rinfo) => {
      const k = `${rinfo.address}:${rinfo.port}`;
      let f = flows.get(k);
      if (!f) {
        const eps = this.endpoints(service, svcPort);
        if (eps.length === 0) return;
        const rrKey = `${service}:${svcPort.protocol}:${svcPort.name ?? svcPort.port}`;
        const i = (this.#rr.get(rrKey) ?? 0) % eps.length;
        this.#rr.set(rrKey, i + 1);
        const up = dgram.createSocket('udp4');
        up.bind(0, '127.0.0.1');
        up.on('message', (reply) => {
          flows.get(k)?.timer.refresh();
          sock.send(reply, rinfo.port, rinfo.address);
        });
        up.on('error', () => drop(k));
        f = { up, ep: eps[i]!, timer: setTimeout(() => drop(k), UDP_FLOW_IDLE_MS).unref() };
        flows.set(k, f);
      } else {
        f.timer.refresh();
      }
      f.up.send(msg, f.ep.port, f.ep.ip);
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, ip, () => {
        sock.off('error', reject);
        sock.on('error', (e) => this.#opts.log(`service proxy: udp ${ip}:${port}: ${e.message}`));
        resolve();
      });
    });
    return () => {
      for (const k of [...flows.keys()]) drop(k);
      sock.close();
    };
  }

  /** The ready endpoints (pod IP, target port) of a Service port now. */
  endpoints(service: string, svcPort: Binding['port']): Array<{ ip: string; port: number }> {
    const [ns, name] = service.split('/') as [string, string];
    const svc = this.#opts.caches.service(name, ns);
    if (!svc) return [];
    const port = (svc.spec?.ports ?? []).find(
      (p) =>
        protocolOf(p) === svcPort.protocol &&
        (svcPort.name !== undefined ? p.name === svcPort.name : p.port === svcPort.port),
    );
    if (!port) return [];
    const out: Array<{ ip: string; port: number }> = [];
    for (const pod of this.#opts.caches.pods(ns)) {
      if (!selects(svc, pod) || !published(svc, pod)) continue;
      const target = endpointPort(port, pod);
      if (target !== undefined) out.push({ ip: pod.status!.podIP!, port: target });
    }
    return out.sort((a, b) => a.ip.localeCompare(b.ip));
  }

  #forward(client: net.Socket, service: string, svcPort: Binding['port']): void {
    const eps = this.endpoints(service, svcPort);
    if (eps.length === 0) {
      client.destroy();
      return;
    }
    const rrKey = `${service}:${svcPort.protocol}:${svcPort.name ?? svcPort.port}`;
    const i = (this.#rr.get(rrKey) ?? 0) % eps.length;
    this.#rr.set(rrKey, i + 1);
    const ep = eps[i]!;
    const upstream = net.connect({ host: ep.ip, port: ep.port });
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const done = (): void => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#syncing;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    for (const b of this.#bindings.values()) b.close();
    this.#bindings.clear();
  }
}
