// Observe: one immutable snapshot of one EMQX resource's world, built once at the start of a pass. Everything the
// plan decides from is in it — the resource (as stored, with defaults, and the status this operator last wrote),
// its parsed config, its children from the informer cache grouped by role and revision, what the EMQX API says
// (nodes, evacuations, listeners, availability of pods about to serve), what the cluster can do, and how to reach
// it. Reading is all this file does: it never writes to Kubernetes or to EMQX.
import { compareText } from './order.ts';
import type { V1Pod, V1ReplicaSet, V1Secret, V1ServicePort, V1StatefulSet } from '@kubernetes/client-node';
import {
  ANNOTATION_DRAINING,
  ANNOTATION_PAUSED,
  ANNOTATION_TAKEOVER,
  CONDITION_ON_SERVING,
  LABEL_POD_TEMPLATE_HASH,
  names,
  type Role,
} from '../api/names.ts';
import { applyDefaults } from '../api/defaults.ts';
import type { CertificateStatus, EMQX, EMQXNode, EMQXStatus, NodeEvacuationStatus } from '../api/types.ts';
import { listenerPorts, licenseKey, parseEmqxConfig } from '../emqx/config.ts';
import { HoconError, parseHocon, type HoconObject } from '../hocon/index.ts';
import { isNotFound, type KubeClient, type KubeObject } from '../k8s/rest.ts';
import type { Logger } from '../observability/logger.ts';
import { registerSecret } from '../observability/redact.ts';
import { currentHash } from '../resources/index.ts';
import { NODE_COOKIE_KEY, bootstrapApiKeySecretRefs, generateSecretValue } from '../resources/secrets.ts';
import {
  CA_CERT_KEY,
  checkTlsSecret,
  tlsConfigProblem,
  tlsSecretRefs,
  withTlsConfig,
} from '../resources/tls.ts';
import { CERT_MANAGER_API_VERSION, CERT_MANAGER_CERTIFICATE_NAME } from '../resources/certificate.ts';
import { clusterDomainOf } from '../resources/metadata.ts';
import { OWNED_KINDS, type ClusterCache, type OwnedKind } from './cache.ts';
import {
  capabilitiesOf,
  connect,
  decodeSecret,
  emqxAccess,
  podApiUrl,
  type Capabilities,
  type EmqxAccess,
  type EmqxApiFactory,
} from './emqx-access.ts';
import {
  durableSessionsEnabled,
  readDurableStorage,
  replicationFactorOf,
  type DsState,
} from './durable-storage.ts';
import {
  detectForeignWorkloads,
  GO_OPERATOR_LEASE,
  type ForeignWorkload,
  type GoOperatorLeases,
} from './foreign-workloads.ts';
import {
  containersReady,
  isTerminating,
  podCondition,
  podRevision,
  podRole,
  runningPods,
  statusNodes,
  type ApiNode,
} from './pod-facts.ts';

/** One role's pods, split by revision. */
export interface RoleView {
  readonly role: Role;
  /** Replicas the spec asks for. */
  readonly desired: number;
  /** The revision the role should be on (hash of the current pod template). */
  readonly hash: string;
  /** Non-terminating pods of this role. */
  readonly pods: readonly V1Pod[];
  /** Pods on the current revision. */
  readonly updated: readonly V1Pod[];
  /** Pods on an older revision. */
  readonly old: readonly V1Pod[];
  /** Names of pods whose EMQX node runs in the cluster AND whose pod passes its readiness probe. */
  readonly running: ReadonlySet<string>;
}

export type ParsedConfig = { ok: true; conf: HoconObject } | { ok: false; error: string };

export interface Snapshot {
  readonly namespace: string;
  readonly name: string;
  /** The resource as stored, with `status` being the one this operator last wrote (the informer may lag). */
  readonly raw: EMQX;
  /** The resource with defaults applied. */
  readonly emqx: EMQX;
  readonly paused: boolean;
  readonly config: ParsedConfig;
  /** The previous status (what the conditions' transition times and Events are computed against). */
  readonly previousStatus: EMQXStatus | undefined;

  /** Every child the cache holds for this resource, by kind then name. */
  readonly children: ReadonlyMap<OwnedKind, ReadonlyMap<string, KubeObject>>;
  readonly statefulSets: readonly V1StatefulSet[];
  readonly replicaSets: readonly V1ReplicaSet[];
  /** All pods, terminating ones included. */
  readonly pods: readonly V1Pod[];
  readonly core: RoleView;
  readonly replicant: RoleView;
  /** StatefulSets and ReplicaSets this operator did not create (the Go operator's): see ./foreign-workloads.ts. */
  readonly foreignWorkloads: readonly ForeignWorkload[];
  /** The user asked to take those over (annotation apps.emqx.io/takeover: "true"). */
  readonly takeover: boolean;
  /** The Go operator's Leases, read only while a takeover has foreign workloads to take over. */
  readonly goOperatorLeases?: GoOperatorLeases;

  /** Secret values: the live ones, or fresh ones to use where none exists yet (generated here, not in the plan). */
  readonly secrets: {
    readonly cookie: string;
    readonly cookieExists: boolean;
    readonly operatorSecret: string;
    /** The cookie Secret is gone and `cookie` is the value this operator read from it before (ObserveDeps.remembered). */
    readonly cookieRestored?: boolean;
    /** The bootstrap API-key Secret was not found (cache, then API server): `operatorSecret` is a new value. */
    readonly operatorSecretGenerated?: boolean;
    /** The bootstrap API-key Secret is gone and `operatorSecret` is the key read from it before. */
    readonly operatorSecretRestored?: boolean;
    /** Contents of the Secrets spec.bootstrapAPIKeys refers to (by Secret name, then key). */
    readonly userSecrets: Readonly<Record<string, Record<string, string>>>;
    /**
     * Key Secrets (cookie, bootstrap API keys) this pass did not find: not in the cache, and not on the API server
     * either or not read there (readsKeySecretsFromServer). The plan creates them create-only (Plan.createOnly).
     */
    readonly missing?: readonly string[];
  };

  /** How the EMQX API is reached (targets, credentials). */
  readonly access: EmqxAccess;
  /** `GET /api/v5/nodes`, when an EMQX API answered. */
  readonly nodes?: readonly ApiNode[];
  /** Why the node list is missing. */
  readonly apiError?: string;
  readonly coreNodes?: readonly EMQXNode[];
  readonly replicantNodes?: readonly EMQXNode[];
  /** Evacuations in progress (editions that have them, when global_status answered). */
  readonly evacuations?: readonly NodeEvacuationStatus[];
  readonly capabilities: Capabilities;
  /** Listener ports of the running cluster (`GET /api/v5/configs`), when it answered. */
  readonly listenerPorts?: readonly V1ServicePort[];
  /** Availability check of pods about to start serving (pod name → accepts connections), editions that have it. */
  readonly availability: ReadonlyMap<string, boolean>;
  /** The Secrets spec.tls names, as read in this pass (public facts only); undefined without spec.tls. */
  readonly tls?: TlsObservation;
  /** Durable storage, when the config turns durable sessions on (durable-storage.ts). */
  readonly ds?: DsState;
  /**
   * cert-manager Certificates the operator made for an issuerRef the spec no longer sets, by name (prune.ts). Read
   * only while the Secret cert-manager issued from one is still cached and the spec does not name it; undefined when
   * not read, empty when read and none is left.
   */
  readonly staleCertificates?: ReadonlyMap<string, KubeObject>;
}

export interface TlsObservation {
  /** The first Secret that is missing or unusable, naming the field and the Secret. */
  readonly error?: string;
  readonly certificates: CertificateStatus[];
  /** The dashboard Secret's ca.crt (public), to verify the https dashboard with. */
  readonly dashboardCa?: string;
  /** The cert-manager Certificates spec.tls issuerRefs ask for, as they are now, by name (absent: not created). */
  readonly liveCertificates?: ReadonlyMap<string, KubeObject>;
  /** True when an issuerRef is set and the API server does not serve cert-manager's Certificate kind. */
  readonly certificateKindUnserved?: boolean;
}

/** cert-manager's Certificate of spec.tls.<which>: the live object, or an error when the API lacks the kind. */
async function readCertificate(
  client: KubeClient,
  emqx: EMQX,
  which: 'listeners' | 'dashboard',
): Promise<{ live?: KubeObject; error?: string; unserved?: boolean }> {
  const name = names.tlsCertificate(emqx, which);
  try {
    await client.resource(CERT_MANAGER_API_VERSION, 'Certificate');
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes('does not serve')) throw err;
    return {
      unserved: true,
      error: `spec.tls.${which}.issuerRef: the API server does not serve cert-manager's Certificate (${CERT_MANAGER_API_VERSION}); install cert-manager or name a Secret in spec.tls.${which}.secretName`,
    };
  }
  const live = await client.get({
    apiVersion: CERT_MANAGER_API_VERSION,
    kind: 'Certificate',
    namespace: emqx.metadata.namespace,
    name,
  });
  return live ? { live } : {};
}

/**
 * The Certificates of an issuerRef the spec no longer sets, read only while the Secret cert-manager issued from one
 * (`cert-manager.io/certificate-name`, instance labels so the cache holds it) is still there and spec.tls does not
 * name it: no call at all for a resource that never used an issuerRef or whose leftovers are gone.
 */
async function observeStaleCertificates(
  client: KubeClient,
  emqx: EMQX,
  cachedSecret: (name: string) => V1Secret | undefined,
): Promise<Map<string, KubeObject> | undefined> {
  const named = new Set(tlsSecretRefs(emqx).map((r) => r.secretName));
  let out: Map<string, KubeObject> | undefined;
  for (const which of ['listeners', 'dashboard'] as const) {
    if (emqx.spec.tls?.[which]?.issuerRef) continue;
    const name = names.tlsCertificate(emqx, which);
    const issued = cachedSecret(name);
    if (named.has(name) || issued?.metadata?.annotations?.[CERT_MANAGER_CERTIFICATE_NAME] !== name) continue;
    out ??= new Map();
    try {
      await client.resource(CERT_MANAGER_API_VERSION, 'Certificate');
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('does not serve')) throw err;
      continue; // cert-manager is gone: no Certificate is left, its Secret may go
    }
    const live = await client.get({
      apiVersion: CERT_MANAGER_API_VERSION,
      kind: 'Certificate',
      namespace: emqx.metadata.namespace,
      name,
    });
    if (live) out.set(name, live);
  }
  return out;
}

/** Why cert-manager has not written the Secret yet, from the Certificate's Ready condition (when it says). */
function issuanceNote(cert: KubeObject | undefined): string {
  const conditions = (cert as { status?: { conditions?: Array<Record<string, string>> } } | undefined)?.status
    ?.conditions;
  const ready = conditions?.find((c) => c.type === 'Ready');
  if (!ready || ready.status === 'True') return '';
  return ` (Certificate Ready=${ready.status}: ${ready.reason ?? ''}${ready.message ? `, ${ready.message.slice(0, 300)}` : ''})`;
}

/** Reads and checks the Secrets spec.tls names. Key material stays in this function. */
async function observeTls(client: KubeClient, emqx: EMQX): Promise<TlsObservation> {
  const certificates: CertificateStatus[] = [];
  let error: string | undefined;
  let dashboardCa: string | undefined;
  const liveCertificates = new Map<string, KubeObject>();
  let unserved = false;
  for (const which of ['listeners', 'dashboard'] as const) {
    if (!emqx.spec.tls?.[which]?.issuerRef) continue;
    const read = await readCertificate(client, emqx, which);
    if (read.error !== undefined) error ??= read.error;
    if (read.unserved) unserved = true;
    if (read.live) liveCertificates.set(names.tlsCertificate(emqx, which), read.live);
  }
  for (const ref of tlsSecretRefs(emqx)) {
    let secret: V1Secret | undefined;
    try {
      secret = await client.get<V1Secret & KubeObject>({
        apiVersion: 'v1',
        kind: 'Secret',
        namespace: emqx.metadata.namespace,
        name: ref.secretName,
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const checked = checkTlsSecret(ref, secret);
    if (ref.name === 'dashboard') dashboardCa = decodeSecret(secret, CA_CERT_KEY);
    if (!checked.ok && ref.issued && !secret) {
      error ??= `${ref.field}: waiting for cert-manager to issue Certificate "${ref.secretName}" into Secret "${ref.secretName}"${issuanceNote(liveCertificates.get(ref.secretName))}`;
    } else if (!checked.ok) error ??= checked.error;
    else if (checked.facts && ref.name !== 'clientCA') {
      certificates.push({
        name: ref.name,
        secretName: ref.secretName,
        serial: checked.facts.serial,
        notAfter: checked.facts.notAfter,
      });
    }
  }
  return {
    ...(error !== undefined && { error }),
    certificates,
    ...(dashboardCa !== undefined && { dashboardCa }),
    ...(liveCertificates.size > 0 && { liveCertificates }),
    ...(unserved && { certificateKindUnserved: true }),
  };
}

/** Errors observe met and reports: the plan turns them into Events and status; they never stop a pass. */
export interface ObserveWarning {
  reason: string;
  message: string;
}

export interface ObserveDeps {
  cache: ClusterCache;
  client: KubeClient;
  emqxApiFactory: EmqxApiFactory;
  log: Logger;
  /**
   * Key values this operator process read from this resource's Secrets in earlier passes (same resource uid): a
   * Secret deleted since is created again with them, which undoes the deletion instead of changing the value.
   */
  remembered?: { cookie?: string; operatorSecret?: string };
  /**
   * A create-only write of a key Secret this operator did not see was refused (it exists): read key Secrets the
   * cache does not hold from the API server, even on a cluster with nothing else yet (readsKeySecretsFromServer).
   */
  verifyKeySecrets?: boolean;
}

/**
 * Whether observe asks the API server for a key Secret (cookie, bootstrap API keys) the cache does not hold. Not on a
 * new cluster (nothing of it in the cache, no earlier refusal): there the Secret is planned with a fresh value and
 * written create-only (Plan.createOnly), which the API server refuses when a Secret of that name exists after all
 * (made by a user before the resource, or by an earlier pass the informer has not delivered yet); the next pass then
 * reads it (`verify`), so such a Secret is never overwritten, and it saves a new cluster two GETs that answer 404.
 * Once anything of the cluster is cached, a missing Secret is read before anything is decided: the missing-cookie
 * hold (plan.ts) must see a Secret put back by hand without the operator's labels.
 */
export function readsKeySecretsFromServer(f: {
  paused: boolean;
  verify: boolean;
  cachedChildren: number;
}): boolean {
  if (f.paused) return false;
  return f.verify || f.cachedChildren > 0;
}

function roleDesired(emqx: EMQX, role: Role): number {
  return role === 'core'
    ? (emqx.spec.coreTemplate?.spec?.replicas ?? 0)
    : (emqx.spec.replicantTemplate?.spec?.replicas ?? 0);
}

/** The revision hash the role should be on: from the config when it parsed, else from the newest set. */
export function wantedHash(
  emqx: EMQX,
  config: ParsedConfig,
  role: Role,
  sets: ReadonlyArray<V1StatefulSet | V1ReplicaSet>,
): string {
  const hasTemplate = role === 'core' || emqx.spec.replicantTemplate !== undefined;
  if (config.ok && hasTemplate) return currentHash(emqx, config.conf, role);
  const newest = [...sets].sort((a, b) =>
    compareText(String(b.metadata?.creationTimestamp ?? ''), String(a.metadata?.creationTimestamp ?? '')),
  )[0];
  return newest?.spec?.template?.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH] ?? '';
}

/** Splits a role's pods by revision; `running` are the pods whose node runs in the cluster. */
export function roleView(
  emqx: EMQX,
  role: Role,
  hash: string,
  pods: readonly V1Pod[],
  running: ReadonlySet<string>,
): RoleView {
  const mine = pods.filter((p) => podRole(p) === role && !isTerminating(p));
  return {
    role,
    desired: roleDesired(emqx, role),
    hash,
    pods: mine,
    updated: mine.filter((p) => podRevision(p) === hash),
    old: mine.filter((p) => podRevision(p) !== hash),
    // A node counts once EMQX reports it running AND its pod passes its readiness probe, i.e. it can serve.
    running: new Set(
      mine.filter((p) => running.has(p.metadata!.name!) && containersReady(p)).map((p) => p.metadata!.name!),
    ),
  };
}

/** A pod that would start serving now if its node accepts connections (the availability check asks that). */
export function awaitsAvailability(pod: V1Pod, running: ReadonlySet<string>): boolean {
  return (
    !pod.metadata?.annotations?.[ANNOTATION_DRAINING] &&
    containersReady(pod) &&
    podCondition(pod, CONDITION_ON_SERVING)?.status !== 'True' &&
    running.has(pod.metadata!.name!)
  );
}

function childrenOf(cache: ClusterCache, namespace: string, name: string) {
  const out = new Map<OwnedKind, Map<string, KubeObject>>();
  for (const kind of Object.keys(OWNED_KINDS) as OwnedKind[]) {
    out.set(
      kind,
      new Map(cache.ownedBy<KubeObject>(kind, namespace, name).map((o) => [o.metadata!.name!, o])),
    );
  }
  return out;
}

/** GET one Secret (undefined when it does not exist). */
async function liveSecret(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<V1Secret | undefined> {
  return (
    (await client.get<V1Secret & KubeObject>({ apiVersion: 'v1', kind: 'Secret', namespace, name })) ??
    undefined
  );
}

async function readUserSecrets(
  client: KubeClient,
  emqx: EMQX,
): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const ref of bootstrapApiKeySecretRefs(emqx)) {
    if (out[ref.secretName]) continue;
    try {
      const s = await client.get<V1Secret & KubeObject>({
        apiVersion: 'v1',
        kind: 'Secret',
        namespace: emqx.metadata.namespace,
        name: ref.secretName,
      });
      if (!s) continue;
      out[ref.secretName] = Object.fromEntries(
        Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return out;
}

/**
 * Builds the snapshot. `raw` is the resource as stored, with the status this operator last wrote. Errors from
 * the EMQX API are part of the snapshot (apiError, missing fields) and returned as warnings; a Kubernetes read
 * that fails throws.
 */
export async function observe(
  deps: ObserveDeps,
  raw: EMQX,
): Promise<{ snapshot: Snapshot; warnings: ObserveWarning[] }> {
  const namespace = raw.metadata.namespace!;
  const name = raw.metadata.name!;
  const warnings: ObserveWarning[] = [];
  const emqx = applyDefaults(raw);
  const paused = raw.metadata.annotations?.[ANNOTATION_PAUSED] === 'true';
  let config: ParsedConfig;
  try {
    const parsed = parseEmqxConfig(emqx.spec.config?.data, {
      dashboardTls: emqx.spec.tls?.dashboard !== undefined,
    });
    const problem = tlsConfigProblem(emqx, parsed);
    config = problem ? { ok: false, error: problem } : { ok: true, conf: withTlsConfig(emqx, parsed) };
  } catch (err) {
    if (!(err instanceof HoconError)) throw err;
    config = { ok: false, error: `spec.config.data: ${err.message}` };
  }
  const children = childrenOf(deps.cache, namespace, name);
  const list = <T>(kind: OwnedKind) => [...children.get(kind)!.values()] as T[];
  const statefulSets = list<V1StatefulSet>('StatefulSet');
  const replicaSets = list<V1ReplicaSet>('ReplicaSet');
  const pods = list<V1Pod>('Pod');
  const secret = (n: string) => children.get('Secret')!.get(n) as V1Secret | undefined;
  const foreignWorkloads = foreignWorkloadsOf(statefulSets, replicaSets);
  const takeover = raw.metadata.annotations?.[ANNOTATION_TAKEOVER] === 'true';
  const goOperatorLeases =
    takeover && !paused && foreignWorkloads.length > 0 ? await readGoOperatorLeases(deps.client) : undefined;

  // Secrets: the live values win; fresh ones are drawn here so that the plan stays pure. A Secret the cache does
  // not hold (deleted, the informer lags, or put back by hand without the operator's labels) is read from the API
  // server before anything is generated (a new cookie under running pods would split the cluster, plan.ts), except
  // on a new cluster, where the fresh Secret is written create-only instead (readsKeySecretsFromServer).
  const readLive = readsKeySecretsFromServer({
    paused,
    verify: deps.verifyKeySecrets === true,
    cachedChildren: [...children.values()].reduce((n, m) => n + m.size, 0),
  });
  const keySecret = async (n: string) =>
    secret(n) ?? (readLive ? await liveSecret(deps.client, namespace, n) : undefined);
  // both at once: each read is a round trip
  const keyNames = [names.nodeCookieSecret(emqx), names.bootstrapApiKeySecret(emqx)] as const;
  const keySecrets = await Promise.all(keyNames.map(keySecret));
  const [cookieSecret, bootstrap] = keySecrets;
  const liveCookie = decodeSecret(cookieSecret, NODE_COOKIE_KEY);
  const tls = emqx.spec.tls && !paused ? await observeTls(deps.client, emqx) : undefined;
  const staleCertificates = paused ? undefined : await observeStaleCertificates(deps.client, emqx, secret);
  const access = emqxAccess(pods, bootstrap, {
    clusterDomain: clusterDomainOf(emqx),
    ...(tls?.dashboardCa !== undefined && { ca: tls.dashboardCa }),
  });
  const writing = !paused && config.ok;
  const rememberedCookie = liveCookie === undefined ? deps.remembered?.cookie : undefined;
  const rememberedKey = bootstrap ? undefined : deps.remembered?.operatorSecret;
  const secrets = {
    cookie: liveCookie ?? rememberedCookie ?? generateSecretValue(),
    cookieExists: liveCookie !== undefined || rememberedCookie !== undefined,
    ...(rememberedCookie !== undefined && { cookieRestored: true }),
    operatorSecret: access.credentials?.secret ?? rememberedKey ?? generateSecretValue(),
    ...(!bootstrap &&
      (rememberedKey !== undefined ? { operatorSecretRestored: true } : { operatorSecretGenerated: true })),
    userSecrets: writing ? await readUserSecrets(deps.client, emqx) : {},
    missing: keyNames.filter((_, i) => keySecrets[i] === undefined),
  };
  registerSecret(secrets.cookie);
  registerSecret(secrets.operatorSecret);
  for (const s of Object.values(secrets.userSecrets)) for (const v of Object.values(s)) registerSecret(v);
  if (config.ok) registerSecret(licenseKey(config.conf));

  // The EMQX API, through any ready core (oldest first, falling back to the next).
  const api = paused ? undefined : connect(deps.emqxApiFactory, access);
  let nodes: ApiNode[] | undefined;
  let apiError = paused ? undefined : access.unavailable;
  if (api) {
    try {
      nodes = await api.getNodes();
    } catch (err) {
      apiError = (err as Error).message;
      deps.log.warn('EMQX API unreachable', { error: apiError, targets: access.targets.length });
      warnings.push({ reason: 'FailedToGetNodeStatuses', message: `EMQX API: ${apiError}` });
    }
  }
  const capabilities = capabilitiesOf(nodes);
  let evacuations: NodeEvacuationStatus[] | undefined;
  let ports: V1ServicePort[] | undefined;
  if (api && nodes) {
    if (capabilities.evacuation) {
      try {
        evacuations = (await api.globalStatus()).evacuations ?? [];
      } catch (err) {
        deps.log.warn('cannot read evacuation status', { error: (err as Error).message });
      }
    }
    if (writing) {
      try {
        ports = listenerPorts(parseHocon(await api.getConfigsHocon()));
      } catch (err) {
        deps.log.warn('cannot read listeners from EMQX', { error: (err as Error).message });
      }
    }
  }

  // Durable storage: sites and replica sets, when the config turns durable sessions on.
  let ds: DsState | undefined;
  if (config.ok && durableSessionsEnabled(config.conf)) {
    const rf = replicationFactorOf(config.conf);
    ds = { active: true, replicationFactor: rf.factor, factorExplicit: rf.explicit };
    if (api && nodes) {
      try {
        const obs = await readDurableStorage(api);
        ds = obs === 'disabled' ? { ...ds, active: false } : { ...ds, observed: obs };
      } catch (err) {
        ds = { ...ds, error: (err as Error).message };
        deps.log.warn('cannot read durable storage state', { error: ds.error });
      }
    } else {
      ds = { ...ds, error: apiError ?? 'EMQX API not reachable' };
    }
  }

  // No API: a pod whose /status probe passes stands in for a running node.
  const running = nodes
    ? runningPods(nodes, pods)
    : new Set(pods.filter(containersReady).map((p) => p.metadata!.name!));
  const core = roleView(emqx, 'core', wantedHash(emqx, config, 'core', statefulSets), pods, running);
  const replicant = roleView(
    emqx,
    'replicant',
    wantedHash(emqx, config, 'replicant', replicaSets),
    pods,
    running,
  );

  // Pods about to serve pass the availability check first, on editions that have one.
  const availability = new Map<string, boolean>();
  if (api && capabilities.evacuation) {
    for (const view of [core, replicant]) {
      for (const pod of view.pods) {
        if (!awaitsAvailability(pod, view.running)) continue;
        let ok: boolean;
        try {
          ok = await api.availabilityCheck(podApiUrl(pod));
        } catch {
          ok = false;
        }
        availability.set(pod.metadata!.name!, ok);
      }
    }
  }

  const snapshot: Snapshot = {
    namespace,
    name,
    raw,
    emqx,
    paused,
    config,
    previousStatus: raw.status,
    children,
    statefulSets,
    replicaSets,
    pods,
    core,
    replicant,
    foreignWorkloads,
    takeover,
    ...(goOperatorLeases && { goOperatorLeases }),
    secrets,
    access,
    ...(nodes && {
      nodes,
      coreNodes: statusNodes(nodes, pods, 'core'),
      replicantNodes: statusNodes(nodes, pods, 'replicant'),
    }),
    ...(apiError !== undefined && !nodes && { apiError }),
    ...(evacuations && { evacuations }),
    capabilities,
    ...(ports && { listenerPorts: ports }),
    availability,
    ...(tls && { tls }),
    ...(ds && { ds }),
    ...(staleCertificates && { staleCertificates }),
  };
  return { snapshot: Object.freeze(snapshot), warnings };
}

interface LeaseObject extends KubeObject {
  spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}

/** The Go operator's leader-election Leases in every namespace (a list by name; its namespace is not known). */
async function readGoOperatorLeases(client: KubeClient): Promise<GoOperatorLeases> {
  try {
    const list = await client.list<LeaseObject>('coordination.k8s.io/v1', 'Lease', {
      fieldSelector: `metadata.name=${GO_OPERATOR_LEASE}`,
      limit: 50,
    });
    return {
      ok: true,
      leases: list.items.map((l) => ({
        namespace: l.metadata?.namespace ?? '',
        ...(l.spec?.holderIdentity && { holder: l.spec.holderIdentity }),
        ...(l.spec?.renewTime && { renewTime: String(l.spec.renewTime) }),
        ...(l.spec?.leaseDurationSeconds !== undefined && { durationSeconds: l.spec.leaseDurationSeconds }),
      })),
    };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** The workloads among the resource's sets that this operator did not create. */
export function foreignWorkloadsOf(
  statefulSets: readonly V1StatefulSet[],
  replicaSets: readonly V1ReplicaSet[],
): ForeignWorkload[] {
  return detectForeignWorkloads([
    ...statefulSets.map((o) => ({ ...o, kind: 'StatefulSet' })),
    ...replicaSets.map((o) => ({ ...o, kind: 'ReplicaSet' })),
  ]);
}

/** The live child of `kind` named `name`, if the cache holds it. */
export function liveChild<T>(s: Snapshot, kind: OwnedKind, name: string): T | undefined {
  return s.children.get(kind)?.get(name) as T | undefined;
}
