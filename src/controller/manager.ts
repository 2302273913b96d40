// The operator process: informers, one serialised work queue, the reconcilers, leader election, the conversion
// webhook, health and metrics. `startOperator` is what `emqx-operator run` calls.
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import { buildCrds, conversionMergePatch, EMQX_CRD_NAME, type WebhookOptions } from '../api/crds.ts';
import { EmqxClient } from '../emqx/client.ts';
import { X509Certificate } from 'node:crypto';
import { FIELD_MANAGER } from '../api/names.ts';
import { apply, createIfAbsent, mergePatch, mergePatchChanges } from '../k8s/apply.ts';
import { loadKubeConfig } from '../k8s/config.ts';
import { EventRecorder } from '../k8s/events.ts';
import { defaultIdentity, LeaderElector } from '../k8s/leader.ts';
import { KubeClient, statusCodeOf, type KubeObject } from '../k8s/rest.ts';
import { createLogger, type Logger, type LogLevel } from '../observability/logger.ts';
import { defaultRegistry } from '../observability/metrics.ts';
import { startObservabilityServer, type ObservabilityServer } from '../observability/server.ts';
import { createInChildProcess } from '../webhook/cert.ts';
import { PreferredTargets } from './preferred-targets.ts';
import {
  bundleTrusts,
  checkIntervalMs,
  renewBeforeMs,
  renewedCaBundle,
  webhookCertVerdict,
  type WebhookCertMaterial,
} from '../webhook/lifecycle.ts';
import { startWebhookServer, type WebhookServer } from '../webhook/server.ts';
import { ClusterCache, type ChangeSource } from './cache.ts';
import type { EmqxApi, EmqxApiFactory } from './emqx-access.ts';
import { awaitsServingGate } from './pod-facts.ts';
import { WorkQueue } from './queue.ts';
import { RebalanceReconciler } from './rebalance.ts';
import { EmqxReconciler } from './reconciler.ts';

export interface OperatorOptions {
  kubeconfig?: string;
  context?: string;
  /** Watch only these namespaces; default all. */
  namespaces?: string[];
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName?: string;
  identity?: string;
  /** host:port for /healthz, /readyz and /metrics. */
  healthBind: string;
  /** A second listener for /metrics only (e.g. when health and metrics ports differ). */
  metricsBind?: string;
  /** Apply the CRDs at start (for clusters where no one else installs them, e.g. the sandbox). */
  installCrds?: boolean;
  webhook?: {
    bind: string;
    /** How the API server reaches the webhook: an in-cluster Service `ns/name`, or a URL. */
    service?: { namespace: string; name: string };
    url?: string;
  };
  /** Who makes the webhook certificate: the operator (default), or cert-manager (the operator only reads it). */
  webhookCertProvider?: 'operator' | 'cert-manager';
  /** Validity of the webhook certificates the operator makes (default 10 years); renewed with half left. */
  webhookCertValidityMs?: number;
  workers?: number;
  /** Extra workers that only run priority passes (acknowledging never-seen resources, setting a ready pod's
   * readiness gate); default 64. */
  priorityWorkers?: number;
  logLevel?: LogLevel;
  logger?: Logger;
  emqxTimeoutMs?: number;
  notReadyIntervalMs?: number;
  readyIntervalMs?: number;
}

export interface RunningOperator {
  /**
   * Resolves when the operator stopped: stop() was called, or leadership was lost. In the second case every server
   * (health, metrics, webhook) is closed first, so the process can exit and be restarted to campaign again.
   */
  done: Promise<void>;
  stop(): Promise<void>;
  health: ObservabilityServer;
  webhookPort?: number;
}

const queueGauge = defaultRegistry.gauge({
  name: 'emqx_operator_leading',
  help: '1 while this process holds the leader Lease (and reconciles once its caches are synced).',
});

function bindOf(value: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(value);
  if (!m) throw new Error(`bad bind address "${value}" (want host:port)`);
  return { host: m[1] === '' ? '0.0.0.0' : m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

const WEBHOOK_CERT_SECRET = 'emqx-operator-webhook-cert';
/** Default validity of the certificates the operator makes for its webhook. */
export const DEFAULT_WEBHOOK_CERT_VALIDITY_MS = 3650 * 86_400_000;

function webhookSecretRef(ns: string) {
  return { apiVersion: 'v1', kind: 'Secret', namespace: ns, name: WEBHOOK_CERT_SECRET };
}

/** The Secret's certificate, key and CA bundle; a Secret without ca.crt (written before the operator had a CA): its certificate is its own CA. */
function materialOf(secret: V1Secret | undefined): WebhookCertMaterial | undefined {
  if (!secret) return undefined;
  const field = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
  const cert = field('tls.crt');
  return { cert, key: field('tls.key'), caCert: field('ca.crt') || cert };
}

/**
 * The webhook's serving certificate, key and CA bundle, kept in one Secret for every replica (so the CRD's caBundle
 * names the same CAs): `tls.crt`, `tls.key`, `ca.crt`. With `provider: 'operator'` a new one is made when the
 * Secret is missing or unreadable, when it expires within `renewBeforeMs`, and (at start only, `checkHosts`) when
 * it is not valid for the webhook Service's names (renamed, or moved to another namespace); the new ca.crt keeps
 * the previous CA beside the new one while replicas switch. With `provider: 'cert-manager'` the Secret is
 * cert-manager's: it is only read, and waited for.
 */
async function webhookCertificate(
  client: KubeClient,
  ns: string,
  hosts: string[],
  opts: { provider: 'operator' | 'cert-manager'; validityMs: number; checkHosts: boolean },
  log: Logger,
): Promise<WebhookCertMaterial> {
  const ref = webhookSecretRef(ns);
  const live = await client.get<V1Secret & KubeObject>(ref);
  const material = materialOf(live);
  if (opts.provider === 'cert-manager') {
    if (!material?.cert || !material.key)
      throw new Error(`Secret ${ns}/${WEBHOOK_CERT_SECRET} (cert-manager's) has no tls.crt and tls.key yet`);
    return material;
  }
  const now = new Date();
  const verdict = webhookCertVerdict(
    material,
    opts.checkHosts ? hosts : [],
    now,
    renewBeforeMs(opts.validityMs),
  );
  if (!verdict.renew) return material!;
  log.info('issuing a new webhook certificate', { reason: verdict.reason, detail: verdict.detail });
  const fresh = await createInChildProcess({
    commonName: 'emqx-operator-webhook',
    hosts,
    validityMs: opts.validityMs,
  });
  const b64 = (v: string) => Buffer.from(v).toString('base64');
  const caCert = renewedCaBundle(fresh.caCert, material?.caCert, now);
  const data = { 'tls.crt': b64(fresh.cert), 'tls.key': b64(fresh.key), 'ca.crt': b64(caCert) };
  if (!live) {
    const secret: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: WEBHOOK_CERT_SECRET, namespace: ns },
      type: 'kubernetes.io/tls',
      data,
    };
    // another replica may have created it in the meantime: then its certificate is used
    return materialOf((await createIfAbsent(client, secret as never)).object as unknown as V1Secret)!;
  }
  try {
    // Replaced only if nobody changed it since it was read (another replica may be renewing it too).
    const replaced = await client.request<V1Secret & KubeObject>('PUT', await client.path(ref), {
      query: { fieldManager: FIELD_MANAGER },
      body: { ...live, data },
      write: { verb: 'update', kind: 'Secret', namespace: ns, name: WEBHOOK_CERT_SECRET },
    });
    return materialOf(replaced)!;
  } catch (err) {
    if (statusCodeOf(err) !== 409) throw err;
    return materialOf((await client.get<V1Secret & KubeObject>(ref))!)!;
  }
}

/** The CA bundle the API server uses for the conversion webhook now (PEM; empty when none is set). */
async function crdCaBundle(client: KubeClient): Promise<string> {
  const crd = await client.get<
    KubeObject & { spec?: { conversion?: { webhook?: { clientConfig?: { caBundle?: string } } } } }
  >({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    name: EMQX_CRD_NAME,
  });
  const b64 = crd?.spec?.conversion?.webhook?.clientConfig?.caBundle;
  return typeof b64 === 'string' ? Buffer.from(b64, 'base64').toString('utf8') : '';
}

/** Waits until the API server serves both custom resources (a CRD is usable only once Established). */
async function waitForCrds(client: KubeClient, log: Logger, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const kind of ['EMQX', 'Rebalance']) {
    for (;;) {
      try {
        await client.resource('apps.emqx.io/v2beta1', kind);
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`the API server does not serve ${kind} yet: ${(err as Error).message}`, {
            cause: err,
          });
        log.debug('waiting for CRD', { kind });
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const log = opts.logger ?? createLogger({ level: opts.logLevel ?? 'info' });
  const { access, source, from } = loadKubeConfig({ kubeconfig: opts.kubeconfig, context: opts.context });
  const client = new KubeClient(access);
  log.info('starting', {
    kubeconfig: source,
    from,
    namespaces: opts.namespaces?.join(',') ?? '(all)',
    server: client.server,
  });

  let leading = false;
  // False once this process stopped doing its job (leadership lost, controllers that would not start): /healthz
  // then fails, so a process that somehow lingers is restarted by its liveness probe.
  let healthy = true;
  let unhealthyReason = '';
  let stopping = false;
  // Exported from the start: a standby says 0 (without a sample, "no replica leads" could not be alerted on).
  queueGauge.set({}, 0);
  let cacheSynced = false;
  // Ready = able to do this replica's part: its conversion webhook serves (every replica's job: the webhook Service
  // sends the API server to Ready pods only) and, on the leader, the caches are synced.
  let webhookServing = !opts.webhook;
  const health = await startObservabilityServer({
    ...bindOf(opts.healthBind),
    logger: log,
    healthy: () => ({ ok: healthy, reason: unhealthyReason }),
    ready: () =>
      !webhookServing
        ? { ok: false, reason: 'conversion webhook not serving yet' }
        : { ok: !opts.leaderElect || !leading || cacheSynced, reason: 'cache not synced' },
  });
  const metrics = opts.metricsBind
    ? await startObservabilityServer({ ...bindOf(opts.metricsBind), logger: log })
    : undefined;

  // Conversion webhook (every replica serves it, leader or not).
  let webhook: WebhookServer | undefined;
  let webhookOptions: WebhookOptions | undefined;
  let webhookHosts: string[] = [];
  let served: WebhookCertMaterial | undefined;
  let webhookCertTimer: ReturnType<typeof setTimeout> | undefined;
  let webhookCertStopped = false;
  const certProvider = opts.webhookCertProvider ?? 'operator';
  const certValidityMs = opts.webhookCertValidityMs ?? DEFAULT_WEBHOOK_CERT_VALIDITY_MS;
  // With cert-manager, its CA injector owns the caBundle: the operator never writes one.
  const webhookOptionsFor = (caCert: string): WebhookOptions => {
    const caBundle = certProvider === 'cert-manager' ? undefined : Buffer.from(caCert).toString('base64');
    const where = opts.webhook!.service
      ? { service: { ...opts.webhook!.service, path: '/convert', port: 443 } }
      : { url: (opts.webhook!.url ?? `https://127.0.0.1:${webhook!.port}`) + '/convert' };
    return { ...where, ...(caBundle !== undefined && { caBundle }) };
  };
  const webhookCertOpts = (checkHosts: boolean) => ({
    provider: certProvider,
    validityMs: certValidityMs,
    checkHosts,
  });
  // At start: the Secret's certificate (made or renewed when needed); cert-manager's is waited for.
  const firstWebhookCertificate = async (hosts: string[]): Promise<WebhookCertMaterial> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await webhookCertificate(client, opts.leaseNamespace, hosts, webhookCertOpts(true), log);
      } catch (err) {
        if (certProvider !== 'cert-manager' || stopping) throw err;
        if (attempt % 10 === 0)
          log.info('waiting for the webhook certificate', { error: (err as Error).message });
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  };
  // Later, every checkIntervalMs: renew what expires, register a changed CA bundle (leader), and serve a new
  // certificate once the caBundle the API server uses trusts it (checked before this pass registers anything, so
  // the API server has had a whole interval to pick a registered bundle up).
  const checkWebhookCertificate = async () => {
    if (!webhook || !served) return;
    const material = await webhookCertificate(
      client,
      opts.leaseNamespace,
      webhookHosts,
      webhookCertOpts(false),
      log,
    );
    const bundle = await crdCaBundle(client);
    const trusted = bundleTrusts(bundle, material.cert);
    if (certProvider === 'operator' && leading && bundle !== material.caCert) {
      const w = webhookOptionsFor(material.caCert);
      await mergePatch(
        client,
        { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: EMQX_CRD_NAME },
        conversionMergePatch(w),
      );
      webhookOptions = w;
      log.info('conversion webhook CA bundle updated on the CRD');
    }
    if (material.cert !== served.cert && !trusted) {
      log.info("webhook certificate in the Secret not served yet: the CRD's caBundle does not trust it", {
        serial: new X509Certificate(material.cert).serialNumber.toLowerCase(),
      });
    }
    if (material.cert !== served.cert && trusted) {
      webhook.setCertificate(material.cert, material.key);
      served = material;
      log.info('webhook serves a renewed certificate', {
        notAfter: new Date(new X509Certificate(material.cert).validTo).toISOString(),
      });
    }
  };
  // The operator's own certificates live certValidityMs; with cert-manager, what the served one has left (checked
  // more often as its end nears, so a renewal cert-manager makes late is still picked up in time).
  const certificateSpanMs = () => {
    if (certProvider === 'operator' || !served) return certValidityMs;
    try {
      return new X509Certificate(served.cert).validToDate.getTime() - Date.now();
    } catch {
      return certValidityMs;
    }
  };
  const scheduleWebhookCertCheck = () => {
    webhookCertTimer = setTimeout(() => {
      void checkWebhookCertificate()
        .catch((err: unknown) =>
          log.warn('webhook certificate check failed; retried at the next check', {
            error: (err as Error).message,
          }),
        )
        .finally(() => {
          if (!stopping && !webhookCertStopped) scheduleWebhookCertCheck();
        });
    }, checkIntervalMs(certificateSpanMs()));
    webhookCertTimer.unref();
  };
  if (opts.webhook) {
    const hosts = ['127.0.0.1', 'localhost'];
    if (opts.webhook.service) {
      const { name, namespace } = opts.webhook.service;
      hosts.push(`${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`);
    }
    webhookHosts = hosts;
    const material = await firstWebhookCertificate(hosts);
    served = material;
    webhook = await startWebhookServer({ ...bindOf(opts.webhook.bind), ...material, logger: log });
    webhookServing = true;
    webhookOptions = webhookOptionsFor(material.caCert);
    scheduleWebhookCertCheck();
  }

  // $POD_NAME (the Deployment sets it) plus a random suffix, as `run --help` says; the host name outside a pod.
  const identity = opts.identity ?? defaultIdentity();
  const events = new EventRecorder(client, { logger: log, reportingInstance: identity });
  // A new EMQX client for every caller (nothing one caller does to its targets changes another's). Per key, the
  // target that answered last is tried first next time, so one slow or dead core costs one timeout, not one per
  // pass.
  const preferredTargets = new PreferredTargets();
  const emqxApiFactory: EmqxApiFactory = (targets, creds, tls) => {
    const id = `${creds.key}:${creds.secret.length}:${creds.secret.slice(0, 4)}`;
    const c = new EmqxClient({
      targets: preferredTargets.order(id, targets),
      apiKey: creds.key,
      apiSecret: creds.secret,
      timeoutMs: opts.emqxTimeoutMs,
      logger: log,
      ...(tls && { tls }),
    });
    preferredTargets.remember(id, c);
    return c as unknown as EmqxApi;
  };

  let cache: ClusterCache | undefined;
  let queue: WorkQueue | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  // Points the CRD's conversion webhook at this process: its certificate, and its URL outside a cluster. A failure
  // does not stop reconciling (v2beta1 needs no conversion; a leader that never started its controllers would hold
  // the lease and do nothing): it is logged and retried with back-off while this process leads.
  let webhookRetry: ReturnType<typeof setTimeout> | undefined;
  const registerConversionWebhook = async (w: WebhookOptions, attempt = 0): Promise<void> => {
    try {
      const ref = {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        name: EMQX_CRD_NAME,
      } as const;
      const patch = conversionMergePatch(w, { keepCaBundle: certProvider === 'cert-manager' });
      // a restarted operator behind the same Service finds its registration in place: no write
      const crd = await client.get(ref);
      if (crd && !mergePatchChanges(crd, patch)) {
        log.info('conversion webhook already registered on the CRD');
        return;
      }
      await mergePatch(client, ref, patch);
      log.info(
        'conversion webhook registered on the CRD',
        w.url ? { url: w.url } : { service: `${w.service?.namespace}/${w.service?.name}` },
      );
    } catch (err) {
      const retryInMs = Math.min(1000 * 2 ** attempt, 60_000);
      log.error('conversion webhook registration failed; v2alpha1 requests fail until it succeeds', {
        error: (err as Error).message,
        retryInMs,
      });
      webhookRetry = setTimeout(() => {
        if (leading) void registerConversionWebhook(w, attempt + 1);
      }, retryInMs);
      webhookRetry.unref();
    }
  };

  const startControllers = async () => {
    // This replica holds the Lease from here on: say so at once (the CRD check and webhook registration below
    // take API round trips; a failure there gives the Lease up, which sets the gauge back to 0).
    queueGauge.set({}, 1);
    if (opts.installCrds) {
      for (const crd of buildCrds(webhookOptions ? { webhook: webhookOptions } : {}))
        await apply(client, crd as never);
      log.info('CRDs applied', { conversionWebhook: Boolean(webhookOptions) });
      await waitForCrds(client, log);
    } else {
      const crd = await client.get({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        name: EMQX_CRD_NAME,
      });
      if (!crd) {
        throw new Error(
          `CustomResourceDefinition ${EMQX_CRD_NAME} is not installed: apply deploy/crds/ (kubectl apply --server-side -f deploy/crds/) or run with --install-crds`,
        );
      }
      if (webhookOptions) await registerConversionWebhook(webhookOptions);
    }
    leading = true;
    cache = new ClusterCache(client, {
      ...(opts.namespaces && { namespaces: opts.namespaces }),
      logger: log,
    });
    const emqx = new EmqxReconciler({
      client,
      cache,
      events,
      log,
      emqxApiFactory,
      notReadyIntervalMs: opts.notReadyIntervalMs,
      readyIntervalMs: opts.readyIntervalMs,
    });
    const rebalance = new RebalanceReconciler({ client, cache, events, log, emqxApiFactory });
    const q = new WorkQueue(
      async (key) => {
        const [kind, ns, name] = key.split('/') as [string, string, string];
        const outcome =
          kind === 'EMQX' ? await emqx.reconcile(ns, name) : await rebalance.reconcile(ns, name);
        q.forget(key);
        // the pass's own answer replaces an earlier look: an event-driven pass re-arms the safety-net timer
        if (outcome.requeueAfterMs !== undefined) q.requeueAfter(key, outcome.requeueAfterMs);
      },
      {
        name: 'emqx',
        workers: opts.workers ?? 4,
        // acknowledging a never-seen resource is one status write, a readiness-gate pass a pod status patch and
        // a status write: a burst of them gets workers of its own
        priorityWorkers: opts.priorityWorkers ?? 64,
        logger: log,
      },
    );
    queue = q;
    // Priority (ahead of the line, on the extra workers too): a never-seen resource (its acknowledgement), and a
    // resource whose pod passed its readiness probe but waits for its `on-serving` gate (the pod takes no traffic
    // until a pass sets it; behind a burst of other clusters' first passes that wait was most of the time to Ready).
    const enqueue = (kind: 'EMQX' | 'Rebalance', ns: string, name: string, source?: ChangeSource) =>
      q.add(`${kind}/${ns}/${name}`, {
        priority:
          kind === 'EMQX' &&
          (emqx.neverSeen(ns, name) || (source?.kind === 'Pod' && awaitsServingGate(source.object as V1Pod))),
      });
    cache.onChange((kind, key, source) => {
      const [ns, name] = key.split('/') as [string, string];
      enqueue(kind, ns, name, source);
    });
    await cache.start();
    cacheSynced = true;
    for (const e of cache.emqxList()) enqueue('EMQX', e.metadata.namespace!, e.metadata.name!);
    for (const r of cache.rebalanceList()) q.add(`Rebalance/${r.metadata.namespace}/${r.metadata.name}`);
    log.info('controllers started', { emqx: cache.emqxList().length });
  };

  const stopControllers = async () => {
    leading = false;
    clearTimeout(webhookRetry);
    queueGauge.set({}, 0);
    await queue?.shutdown();
    await cache?.stop();
  };

  let elector: LeaderElector | undefined;
  if (opts.leaderElect) {
    elector = new LeaderElector(client, {
      namespace: opts.leaseNamespace,
      name: opts.leaseName ?? 'emqx-operator-leader',
      identity,
      logger: log,
      onStartedLeading: async () => {
        log.info('became leader', { identity });
        try {
          await startControllers();
        } catch (err) {
          // A leader that cannot reconcile must not keep the lease: give it up and exit, so another replica (or a
          // restarted one) takes over.
          log.error('cannot start the controllers: giving up leadership', { error: (err as Error).message });
          void elector?.stop();
        }
      },
      onStoppedLeading: () => {
        if (stopping) return; // stop() shuts everything down itself
        healthy = false;
        unhealthyReason = 'leadership lost; the process exits to campaign again';
        log.warn('lost leadership: stopping', { identity });
        // A replica that stopped leading never campaigns again in this process: close everything so the process
        // exits (run returns 1) and is restarted, and campaigns afresh.
        void shutdown().then(resolveDone, (err: unknown) => {
          log.error('shutdown after lost leadership failed', { error: (err as Error).message });
          resolveDone();
        });
      },
    });
    void elector.run();
  } else {
    await startControllers();
  }

  const shutdown = async () => {
    await stopControllers();
    await events.close();
    webhookCertStopped = true;
    clearTimeout(webhookCertTimer);
    await webhook?.close();
    await metrics?.close();
    await health.close();
  };

  const stop = async () => {
    stopping = true;
    log.info('shutting down');
    if (elector) await elector.stop();
    await shutdown();
    resolveDone();
  };
  return { done, stop, health, ...(webhook && { webhookPort: webhook.port }) };
}
