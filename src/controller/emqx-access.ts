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
import { EmqxApiError } from '../emqx/client.ts';
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
}

export interface EmqxCredentials {
  key: string;
  secret: string;
}

/** Makes a client for these targets (tried in order) and credentials. A new client per call. */
export type EmqxApiFactory = (targets: string[], credentials: EmqxCredentials) => EmqxApi;

export const DEFAULT_DASHBOARD_PORT = 18083;

function dashboardPortOf(pod: V1Pod): number {
  for (const c of pod.spec?.containers ?? []) {
    const p = c.ports?.find((port) => port.name === 'dashboard');
    if (p) return p.containerPort;
  }
  return DEFAULT_DASHBOARD_PORT;
}

/** The base URL of a pod's EMQX REST API: its dashboard listener on the pod IP (IPv6 in brackets). */
export function podApiUrl(pod: V1Pod): string {
  const ip = pod.status?.podIP ?? '';
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${dashboardPortOf(pod)}`;
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
  /** Why the API cannot be asked at all, when it cannot. */
  unavailable?: string;
}

export function emqxAccess(pods: readonly V1Pod[], bootstrapSecret: V1Secret | undefined): EmqxAccess {
  const targets = apiTargets(pods);
  const credentials = operatorCredentials(bootstrapSecret);
  return {
    targets,
    ...(credentials && { credentials }),
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
  return factory(targets, access.credentials);
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
