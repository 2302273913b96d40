// The three Services: headless (core discovery and Erlang distribution), dashboard, listeners.
//
// Dashboard and listeners Services take the user's template (metadata, spec) and add the operator's selector and
// ports. The operator never writes `clusterIP` or `nodePort` unless the user did: under server-side apply the
// API server keeps the values it allocated, and the Service does not churn.
import type { V1Service, V1ServicePort, V1ServiceSpec } from '@kubernetes/client-node';
import { names, roleLabels } from '../api/names.ts';
import type { Role } from '../api/names.ts';
import type { EMQX, ServiceTemplate } from '../api/types.ts';
import type { HoconObject } from '../hocon/index.ts';
import { dashboardPorts } from '../emqx/config.ts';
import { childMeta, mergeLabels } from './metadata.ts';

export const ERLANG_DIST_PORT = 4370;
export const GEN_RPC_PORT = 5369;

/** `<name>-headless`: cores only, clusterIP None, not-ready addresses published (peers must find booting cores). */
export function headlessService(emqx: EMQX): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(emqx, names.headlessService(emqx), { labels: emqx.metadata.labels }),
    spec: {
      type: 'ClusterIP',
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: roleLabels(emqx, 'core'),
      ports: [
        { name: 'erlang-dist', port: ERLANG_DIST_PORT, protocol: 'TCP', targetPort: ERLANG_DIST_PORT },
        { name: 'gen-rpc', port: GEN_RPC_PORT, protocol: 'TCP', targetPort: GEN_RPC_PORT },
      ],
    },
  };
}

function protocolOf(p: V1ServicePort): string {
  return p.protocol ?? 'TCP';
}

/**
 * The user's ports followed by the operator's ports that clash with none of them. A clash is the same name, or
 * the same port number and protocol: the user's port wins, so a user can pin a nodePort or rename a port.
 */
export function mergeServicePorts(
  operator: V1ServicePort[],
  user: V1ServicePort[] | undefined,
): V1ServicePort[] {
  const mine = user ?? [];
  const kept = operator.filter(
    (o) =>
      !mine.some(
        (u) =>
          (u.name !== undefined && u.name === o.name) ||
          (u.port === o.port && protocolOf(u) === protocolOf(o)),
      ),
  );
  return [...mine.map((p) => ({ ...p })), ...kept.map((p) => ({ ...p }))];
}

function templatedService(
  emqx: EMQX,
  name: string,
  template: ServiceTemplate | undefined,
  selectRole: Role,
  ports: V1ServicePort[],
): V1Service | undefined {
  const userSpec: V1ServiceSpec = structuredClone(template?.spec ?? {});
  const merged = mergeServicePorts(ports, userSpec.ports);
  if (merged.length === 0) return undefined;
  const { selector: _ignored, ports: _merged, ...rest } = userSpec;
  const spec: V1ServiceSpec = { ...rest, selector: roleLabels(emqx, selectRole), ports: merged };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(emqx, name, {
      labels: mergeLabels(emqx.metadata.labels, template?.metadata?.labels ?? {}),
      annotations: template?.metadata?.annotations,
    }),
    spec,
  };
}

/**
 * `<name>-dashboard`: selects core pods (role labels only, so it spans revisions; the on-serving readiness gate
 * decides which pods get traffic). Port `dashboard` (and `dashboard-https` when an HTTPS listener is configured).
 * Undefined when `dashboardServiceTemplate.enabled` is false.
 */
export function dashboardService(emqx: EMQX, conf: HoconObject): V1Service | undefined {
  const template = emqx.spec.dashboardServiceTemplate;
  if (template?.enabled === false) return undefined;
  const dp = dashboardPorts(conf);
  const ports: V1ServicePort[] = [];
  if (dp.http !== undefined)
    ports.push({ name: 'dashboard', port: dp.http, protocol: 'TCP', targetPort: dp.http });
  if (dp.https !== undefined) {
    const name = dp.http !== undefined ? 'dashboard-https' : 'dashboard';
    ports.push({ name, port: dp.https, protocol: 'TCP', targetPort: dp.https });
  }
  return templatedService(emqx, names.dashboardService(emqx), template, 'core', ports);
}

/**
 * `<name>-listeners`: selects `targetRole` pods (the controller passes `replicant` once any replicant is ready,
 * else `core`) and exposes `ports` (listenerPorts of the running config, or configuredListenerPorts of the
 * user's). Undefined when `listenersServiceTemplate.enabled` is false, or when there is no port at all.
 */
export function listenersService(
  emqx: EMQX,
  _conf: HoconObject,
  inputs: { ports: V1ServicePort[]; targetRole: Role },
): V1Service | undefined {
  const template = emqx.spec.listenersServiceTemplate;
  if (template?.enabled === false) return undefined;
  return templatedService(emqx, names.listenersService(emqx), template, inputs.targetRole, inputs.ports);
}
