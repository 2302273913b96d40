// How a user reaches an EMQX cluster running in the sandbox (the demo prints this once the cluster is Ready): the
// MQTT address of the listeners Service and the dashboard address of the dashboard Service, each the
// load-balancer address when the Service has one, else its ClusterIP (both loopback addresses served by the
// sandbox's Service proxy), plus two commands to paste (MQTT.js's CLI, a dev dependency of this repository).
import type { V1Service } from '@kubernetes/client-node';

export interface Endpoint {
  host: string;
  port: number;
}

export interface ClusterAccess {
  mqtt?: Endpoint;
  ws?: Endpoint;
  dashboard?: Endpoint;
}

/** The address clients use for a Service: its load-balancer address when it has one, else its ClusterIP. */
export function serviceAddress(svc: V1Service | undefined): string | undefined {
  if (!svc) return undefined;
  const lb = svc.status?.loadBalancer?.ingress?.find((i) => i.ip)?.ip;
  if (lb) return lb;
  const ip = svc.spec?.clusterIP;
  return ip && ip !== 'None' ? ip : undefined;
}

function pick(
  svc: V1Service | undefined,
  match: (name: string, port: number) => boolean,
): Endpoint | undefined {
  const host = serviceAddress(svc);
  const port = svc?.spec?.ports?.find((p) => match(p.name ?? '', p.port));
  return host && port ? { host, port: port.port } : undefined;
}

/** Reads the addresses out of the listeners and dashboard Services (pure). */
export function clusterAccess(
  listeners: V1Service | undefined,
  dashboard: V1Service | undefined,
): ClusterAccess {
  const out: ClusterAccess = {};
  const mqtt = pick(listeners, (n, p) => n.startsWith('tcp') || p === 1883);
  const ws = pick(listeners, (n, p) => n.startsWith('ws-') || n === 'ws' || p === 8083);
  const dash = pick(dashboard, (n, p) => n === 'dashboard' || p === 18083);
  if (mqtt) out.mqtt = mqtt;
  if (ws) out.ws = ws;
  if (dash) out.dashboard = dash;
  return out;
}

/** The lines the demo prints: addresses and two paste-able commands (subscribe, publish). */
export function accessLines(a: ClusterAccess, topic = 'demo/hello'): string[] {
  const lines: string[] = [];
  if (a.mqtt) {
    const { host, port } = a.mqtt;
    lines.push(
      `MQTT: mqtt://${host}:${port}${a.ws ? `  (WebSocket: ws://${a.ws.host}:${a.ws.port}/mqtt)` : ''}`,
    );
    lines.push('  subscribe (in one terminal):');
    lines.push(
      `    npx mqtt sub -h ${host} -p ${port} -t '${topic.split('/')[0]}/#' -q 1 -i demo-sub --no-clean -v`,
    );
    lines.push('  publish (in another):');
    lines.push(`    npx mqtt pub -h ${host} -p ${port} -t '${topic}' -q 1 -m "hello at $(date +%T)"`);
  } else {
    lines.push('MQTT: the listeners Service has no address yet');
  }
  if (a.dashboard) {
    lines.push(`dashboard and REST API: http://${a.dashboard.host}:${a.dashboard.port} (admin / public)`);
  }
  return lines;
}

/** Reads the two Services of EMQX `name` in `ns` through the sandbox's kubeconfig and returns the lines. */
export async function accessLinesFor(kubeconfigPath: string, ns: string, name: string): Promise<string[]> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { KubeApi } = await import('./kubelet/api.ts');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const api = new KubeApi(kc);
  const get = (svc: string) =>
    api.get<V1Service>(`/api/v1/namespaces/${ns}/services/${svc}`).catch(() => undefined);
  return accessLines(clusterAccess(await get(`${name}-listeners`), await get(`${name}-dashboard`)));
}

// `npm run access -- [-n NAMESPACE] [NAME] [--kubeconfig FILE]`: prints the lines for a running sandbox (the demo's
// by default: .sandbox/kubeconfig, EMQX default/emqx).
if (import.meta.main) {
  const { parseArgs } = await import('node:util');
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      namespace: { type: 'string', short: 'n', default: 'default' },
      kubeconfig: { type: 'string', default: '.sandbox/kubeconfig' },
    },
  });
  try {
    const lines = await accessLinesFor(values.kubeconfig!, values.namespace!, positionals[0] ?? 'emqx');
    process.stdout.write(`${lines.join('\n')}\n`);
  } catch (e) {
    process.stderr.write(`access: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
