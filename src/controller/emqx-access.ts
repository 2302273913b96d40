// How the operator reaches one EMQX cluster's REST API, for the EMQX and the Rebalance controllers alike:
//  - where: the dashboard listener of every ready core pod, oldest first (`apiTargets`); a pod's URL is built in
//    one place (`podApiUrl`, IPv6 addresses in brackets);
//  - as whom: the operator's own bootstrap API key, read from the live bootstrap Secret (`operatorCredentials`);
//  - what the cluster can do: edition and version, read once per pass from the node list (`capabilitiesOf`);
//  - failover: a client gets the targets in order and moves on to the next one when a target fails (see
//    src/emqx/client.ts); `connect` returns a new client for every call, so nothing one caller does to its client
//    (a target excluded for a force_leave) changes what another caller talks to;
//  - what an error means: `isAlreadyStarted`, `isNotInCluster` read the typed EmqxApiError, not free text.
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import type { NodeEvacuationStatus } from '../api/types.ts';
import { EmqxApiError, type DsSiteInfo, type DsStorageInfo, type EmqxTlsOptions } from '../emqx/client.ts';
import { BOOTSTRAP_API_KEY_KEY, OPERATOR_API_KEY_NAME } from '../resources/secrets.ts';
import { byAge, compareVersions, containersReady, podRole, type ApiNode } from './pod-facts.ts';

/** The EMQX REST calls the controllers make (implemented by src/emqx/client.ts). */
export interface EmqxApi {
  getNodes(): Promise<ApiNode[]>;
  getNode(node: string): Promise<ApiNode | undefined>;
  getConfigsHocon(): Promise<string>;
  putConfigs(hocon: string, opts: { mode: 'merge' | 'replace'; ignoreReadonly: boolean }): Promise<void>;
  forceLeave(node: string): Promise<void>;
  evacuationStart(node: string, body: Record<string, unknown>): Promise<void>;
  evacuationStop(node: string): Promise<void>;
  globalStatus(): Promise<{
    evacuations?: NodeEvacuationStatus[];
    rebalances?: Array<Record<string, unknown>>;
  }>;
  rebalanceStart(node: string, body: Record<string, unknown>): Promise<void>;
  rebalanceStop(node: string): Promise<void>;
  /** `GET /api/v5/load_rebalance/availability_check` on one node (no auth): true on 200. */
  availabilityCheck(baseUrl: string): Promise<boolean>;
  /** Durable storage (EE, durable sessions on; 404 "Durable storage is disabled" otherwise). */
  dsSites(): Promise<string[]>;
  dsSite(site: string): Promise<DsSiteInfo>;
  dsStorages(): Promise<string[]>;
  dsStorage(db: string): Promise<DsStorageInfo>;
  dsSetReplicas(db: string, sites: string[]): Promise<void>;
}

export interface EmqxCredentials {
  key: string;
  secret: string;
}

/** Makes a client for these targets (tried in order) and credentials. A new client per call. */
export type EmqxApiFactory = (
  targets: string[],
  credentials: EmqxCredentials,
  tls?: EmqxTlsOptions,
) => EmqxApi;

export const DEFAULT_DASHBOARD_PORT = 18083;

const HTTPS_BIND_ENV = 'EMQX_DASHBOARD__LISTENERS__HTTPS__BIND';

/** The dashboard listener the operator calls: the https one whenever the pod has one, else `dashboard`. */
function dashboardOf(pod: V1Pod): { scheme: 'http' | 'https'; port: number } {
  for (const c of pod.spec?.containers ?? []) {
    const httpsBind = c.env?.find((e) => e.name === HTTPS_BIND_ENV)?.value;
    const httpsPort = httpsBind === undefined ? undefined : Number(httpsBind);
    if (httpsPort !== undefined && Number.isInteger(httpsPort) && httpsPort > 0) {
      return { scheme: 'https', port: httpsPort };
    }
    const p = c.ports?.find((port) => port.name === 'dashboard');
    if (p) return { scheme: 'http', port: p.containerPort };
  }
  return { scheme: 'http', port: DEFAULT_DASHBOARD_PORT };
}

/**
 * The base URL of a pod's EMQX REST API: its dashboard listener on the pod IP (IPv6 in brackets), https when the
 * pod serves the dashboard over https (the operator then never calls its http listener with credentials).
 */
export function podApiUrl(pod: V1Pod): string {
  const ip = pod.status?.podIP ?? '';
  const d = dashboardOf(pod);
  return `${d.scheme}://${ip.includes(':') ? `[${ip}]` : ip}:${d.port}`;
}

/** `<hostname>.<subdomain>.<namespace>.svc.<domain>`: the stable DNS name of a StatefulSet pod, if it has one. */
export function podDnsName(pod: V1Pod, clusterDomain: string): string | undefined {
  const host = pod.spec?.hostname ?? pod.metadata?.name;
  const sub = pod.spec?.subdomain;
  if (!host || !sub) return undefined;
  return `${host}.${sub}.${pod.metadata?.namespace ?? 'default'}.svc.${clusterDomain}`;
}

/**
 * How the https dashboards of these pods are verified: `ca` (the dashboard Secret's ca.crt; absent: the system
 * CAs) and, per pod IP, the stable DNS name its certificate must carry. Undefined when no target speaks https.
 */
export function dashboardTls(
  pods: readonly V1Pod[],
  clusterDomain: string,
  ca: string | undefined,
): EmqxTlsOptions | undefined {
  const https = pods.filter((p) => p.status?.podIP && dashboardOf(p).scheme === 'https');
  if (https.length === 0) return undefined;
  const serverNames: Record<string, string> = {};
  for (const p of https) {
    const name = podDnsName(p, clusterDomain);
    if (name) serverNames[p.status!.podIP!] = name;
  }
  return { ...(ca !== undefined && { ca }), serverNames };
}

/** Base URLs of the ready core pods, oldest first: where the cluster's API is asked. */
export function apiTargets(pods: readonly V1Pod[]): string[] {
  return pods
    .filter((p) => podRole(p) === 'core' && containersReady(p) && p.status?.podIP)
    .sort(byAge)
    .map(podApiUrl);
}

export function decodeSecret(secret: V1Secret | undefined, key: string): string | undefined {
  const v = secret?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/** The operator's API key from the live bootstrap Secret (`emqx-operator-controller:<secret>` line). */
export function operatorCredentials(bootstrapSecret: V1Secret | undefined): EmqxCredentials | undefined {
  const text = decodeSecret(bootstrapSecret, BOOTSTRAP_API_KEY_KEY);
  const line = text?.split('\n').find((l) => l.startsWith(`${OPERATOR_API_KEY_NAME}:`));
  if (!line) return undefined;
  return { key: OPERATOR_API_KEY_NAME, secret: line.slice(OPERATOR_API_KEY_NAME.length + 1).trim() };
}

/** What the running cluster can do, from its edition and version. */
export interface Capabilities {
  edition?: string;
  version?: string;
  /** Node evacuation and load rebalancing: Enterprise from 5.0.3 on (the operator's rule). */
  evacuation: boolean;
}

/** Node evacuation and rebalancing exist on Enterprise editions from 5.0.3 on. */
export function supportsEvacuation(node: Pick<ApiNode, 'edition' | 'version'> | undefined): boolean {
  if (!node?.edition || !node.version) return false;
  return node.edition === 'Enterprise' && compareVersions(node.version, '5.0.3') >= 0;
}

/** Capabilities of the cluster, read from its first running node (all nodes of a cluster share an edition). */
export function capabilitiesOf(
  nodes: ReadonlyArray<Pick<ApiNode, 'edition' | 'version' | 'node_status'>> | undefined,
): Capabilities {
  const sample = nodes?.find((n) => n.node_status === 'running');
  return {
    ...(sample?.edition !== undefined && { edition: sample.edition }),
    ...(sample?.version !== undefined && { version: sample.version }),
    evacuation: supportsEvacuation(sample),
  };
}

/** Where and as whom to reach one cluster's API; `api` is undefined when there is no target or no key. */
export interface EmqxAccess {
  targets: string[];
  credentials?: EmqxCredentials;
  /** How https targets are verified (see dashboardTls). */
  tls?: EmqxTlsOptions;
  /** Why the API cannot be asked at all, when it cannot. */
  unavailable?: string;
}

export function emqxAccess(
  pods: readonly V1Pod[],
  bootstrapSecret: V1Secret | undefined,
  dashboard: { clusterDomain: string; ca?: string } = { clusterDomain: 'cluster.local' },
): EmqxAccess {
  const targets = apiTargets(pods);
  const credentials = operatorCredentials(bootstrapSecret);
  const tls = dashboardTls(pods, dashboard.clusterDomain, dashboard.ca);
  return {
    targets,
    ...(credentials && { credentials }),
    ...(tls && { tls }),
    ...(targets.length === 0
      ? { unavailable: 'no ready core pod to ask' }
      : !credentials && { unavailable: 'operator API key not found' }),
  };
}

/**
 * A client for the access's targets (minus `exclude`, the API URL of a node that must not be asked, e.g. the node
 * being told to leave: EMQX refuses a force_leave of itself). Undefined when no target or no key is left.
 */
export function connect(factory: EmqxApiFactory, access: EmqxAccess, exclude?: string): EmqxApi | undefined {
  const targets = exclude === undefined ? access.targets : access.targets.filter((t) => t !== exclude);
  if (targets.length === 0 || !access.credentials) return undefined;
  return factory(targets, access.credentials, access.tls);
}

/** The `message` of an EMQX error body (`{"code":…,"message":…}`), or '' when `err` is not an EMQX answer. */
function bodyMessage(err: unknown): string {
  if (!(err instanceof EmqxApiError)) return '';
  const m = (err.body as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m : typeof err.body === 'string' ? err.body : '';
}

/** EMQX refused to start an evacuation or rebalance because one already runs on that node (400 already_started). */
export function isAlreadyStarted(err: unknown): boolean {
  return err instanceof EmqxApiError && err.status === 400 && bodyMessage(err).includes('already_started');
}

/**
 * EMQX refused a force_leave because the node is not (or no longer) in the cluster: 400 `node_not_in_cluster`
 * (what EMQX answers, though its swagger says 404), or 404.
 */
export function isNotInCluster(err: unknown): boolean {
  if (!(err instanceof EmqxApiError)) return false;
  return (
    err.status === 404 || (err.status === 400 && /node_not_in_cluster|not found/i.test(bodyMessage(err)))
  );
}

/** The durable storage API answered that durable storage is disabled (404 `Durable storage is disabled`). */
export function isDsDisabled(err: unknown): boolean {
  return (
    err instanceof EmqxApiError && err.status === 404 && /durable storage is disabled/i.test(bodyMessage(err))
  );
}
