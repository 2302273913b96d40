// `emqx-operator run`: the operator process.
import { startOperator } from '../../controller/manager.ts';
import { KubeConfigError } from '../../k8s/config.ts';
import { createLogger, parseLogLevel, type LogLevel } from '../../observability/logger.ts';
import { parseFlags, runCommand, type Command } from '../args.ts';

const HELP = `Usage: emqx-operator run [options]

Runs the EMQX operator against a Kubernetes cluster.

Options:
  --kubeconfig FILE                  kubeconfig to use (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)
  --context NAME                     kubeconfig context
  --namespace NS[,NS...]             watch only these namespaces (default: all); several operator
                                     Deployments can share a cluster, each with its own namespaces
                                     (docs/sharding.md)
  --leader-elect                     campaign for a Lease so only one replica acts
  --leader-election-id NAME          name of the Lease (default emqx-operator-leader); each shard its own
  --leader-election-namespace NS     namespace of the Lease and the webhook certificate Secret
                                     (default: $POD_NAMESPACE, else emqx-operator-system)
  --identity ID                      leader-election identity (default: $POD_NAME or hostname, plus a random suffix)
  --health-bind-address HOST:PORT    /healthz, /readyz and /metrics (default 127.0.0.1:8081; port 0 = any)
  --metrics-bind-address HOST:PORT   an extra listener for /metrics
  --webhook-bind-address HOST:PORT   serve the v2alpha1 conversion webhook here (HTTPS)
  --webhook-service NS/NAME          the Service the API server uses to reach the webhook
  --webhook-url URL                  or a URL the API server uses (default with no Service: https://127.0.0.1:<port>)
  --webhook-cert-provider WHO        who makes the webhook certificate Secret: operator (default; renewed with half
                                     of its validity left, re-issued when the Service name or namespace
                                     changes) or cert-manager (the operator only reads the Secret, serves each
                                     renewal, and leaves the CRD's caBundle to cert-manager's CA injector)
  --webhook-cert-validity DURATION   validity of the certificates the operator makes (default 3650d; e.g. 90d, 12h)
  --install-crds                     apply the CRDs at start (as leader)
  --workers N                        parallel reconciles across resources (default 4; one resource is never
                                     reconciled twice at once)
  --ready-interval DURATION          safety-net re-check of a Ready cluster (default 30s; e.g. 500ms, 10s, 2m)
  --not-ready-interval DURATION      re-check of a cluster that is not Ready yet (default 5s)
  --emqx-timeout DURATION            timeout of one EMQX REST API request (default 5s)
  --log-level LEVEL                  debug, info, warn or error (default info)
  -h, --help                         this help
`;

/** `500ms`, `10s`, `1.5m`, `12h`, `90d` → milliseconds; undefined when it is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Math.round(Number(m[1]) * unit);
}

function logLevel(flag: string | undefined, env: string | undefined): LogLevel {
  try {
    return parseLogLevel(flag ?? env);
  } catch (err) {
    throw new Error(`${flag !== undefined ? '--log-level' : 'LOG_LEVEL'}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export interface RunArgs {
  help: boolean;
  kubeconfig?: string;
  context?: string;
  /** Watched namespaces; undefined = all. */
  namespaces?: string[];
  leaderElect: boolean;
  leaseName?: string;
  leaseNamespace: string;
  identity?: string;
  healthBind: string;
  metricsBind?: string;
  webhook?: { bind: string; service?: { namespace: string; name: string }; url?: string };
  installCrds: boolean;
  webhookCertProvider?: 'operator' | 'cert-manager';
  webhookCertValidityMs?: number;
  workers?: number;
  readyIntervalMs?: number;
  notReadyIntervalMs?: number;
  emqxTimeoutMs?: number;
  logLevel: LogLevel;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Parses the command line; throws with a message naming the flag on bad input. */
export function parseRunArgs(args: string[], env: NodeJS.ProcessEnv = process.env): RunArgs {
  const { values } = parseFlags(args, {
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    namespace: { type: 'string' },
    'leader-elect': { type: 'boolean', default: false },
    'leader-election-namespace': { type: 'string' },
    'leader-election-id': { type: 'string' },
    identity: { type: 'string' },
    'health-bind-address': { type: 'string', default: '127.0.0.1:8081' },
    'metrics-bind-address': { type: 'string' },
    'webhook-bind-address': { type: 'string' },
    'webhook-service': { type: 'string' },
    'webhook-url': { type: 'string' },
    'install-crds': { type: 'boolean', default: false },
    'webhook-cert-provider': { type: 'string' },
    'webhook-cert-validity': { type: 'string' },
    workers: { type: 'string' },
    'ready-interval': { type: 'string' },
    'not-ready-interval': { type: 'string' },
    'emqx-timeout': { type: 'string' },
    'log-level': { type: 'string' },
  });
  let webhookService: { namespace: string; name: string } | undefined;
  if (values['webhook-service'] !== undefined) {
    const [namespace, name, ...more] = values['webhook-service'].split('/');
    if (!namespace || !name || more.length > 0) throw new Error('--webhook-service must be NAMESPACE/NAME');
    webhookService = { namespace, name };
  }
  let namespaces: string[] | undefined;
  if (values.namespace !== undefined) {
    namespaces = [...new Set(values.namespace.split(',').map((n) => n.trim()))];
    const bad = namespaces.find((n) => !DNS_LABEL.test(n));
    if (bad !== undefined)
      throw new Error(
        `--namespace: "${bad}" is not a namespace name (lower-case letters, digits and '-', at most 63)`,
      );
  }
  const leaseName = values['leader-election-id'];
  if (leaseName !== undefined && !DNS_SUBDOMAIN.test(leaseName))
    throw new Error(`--leader-election-id: "${leaseName}" is not a valid Lease name`);
  const workers = values.workers !== undefined ? Number(values.workers) : undefined;
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1)) {
    throw new Error(`--workers must be a positive integer, not "${values.workers}"`);
  }
  const provider = values['webhook-cert-provider'];
  if (provider !== undefined && provider !== 'operator' && provider !== 'cert-manager') {
    throw new Error(`--webhook-cert-provider must be operator or cert-manager, not "${provider}"`);
  }
  const duration = (
    flag: 'ready-interval' | 'not-ready-interval' | 'emqx-timeout' | 'webhook-cert-validity',
  ) => {
    const v = values[flag];
    if (v === undefined) return undefined;
    const ms = parseDuration(v);
    if (ms === undefined || ms <= 0) {
      throw new Error(`--${flag} must be a positive duration (e.g. 500ms, 10s, 2m), not "${v}"`);
    }
    return ms;
  };
  return {
    help: values.help,
    kubeconfig: values.kubeconfig,
    context: values.context,
    ...(namespaces && { namespaces }),
    leaderElect: values['leader-elect'],
    ...(leaseName !== undefined && { leaseName }),
    leaseNamespace: values['leader-election-namespace'] ?? env.POD_NAMESPACE ?? 'emqx-operator-system',
    identity: values.identity,
    healthBind: values['health-bind-address'],
    metricsBind: values['metrics-bind-address'],
    ...(values['webhook-bind-address'] !== undefined && {
      webhook: { bind: values['webhook-bind-address'], service: webhookService, url: values['webhook-url'] },
    }),
    installCrds: values['install-crds'],
    ...(provider !== undefined && { webhookCertProvider: provider }),
    webhookCertValidityMs: duration('webhook-cert-validity'),
    workers,
    readyIntervalMs: duration('ready-interval'),
    notReadyIntervalMs: duration('not-ready-interval'),
    emqxTimeoutMs: duration('emqx-timeout'),
    logLevel: logLevel(values['log-level'], env.LOG_LEVEL),
  };
}

export const command: Command = {
  run: (args) => runCommand('emqx-operator run', HELP, () => parseRunArgs(args), runOperator),
};

async function runOperator(opts: RunArgs): Promise<number> {
  const log = createLogger({ level: opts.logLevel });
  try {
    const op = await startOperator({
      kubeconfig: opts.kubeconfig,
      context: opts.context,
      ...(opts.namespaces && { namespaces: opts.namespaces }),
      leaderElect: opts.leaderElect,
      ...(opts.leaseName !== undefined && { leaseName: opts.leaseName }),
      leaseNamespace: opts.leaseNamespace,
      identity: opts.identity,
      healthBind: opts.healthBind,
      metricsBind: opts.metricsBind,
      installCrds: opts.installCrds,
      ...(opts.webhook && { webhook: opts.webhook }),
      ...(opts.webhookCertProvider && { webhookCertProvider: opts.webhookCertProvider }),
      webhookCertValidityMs: opts.webhookCertValidityMs,
      workers: opts.workers,
      readyIntervalMs: opts.readyIntervalMs,
      notReadyIntervalMs: opts.notReadyIntervalMs,
      emqxTimeoutMs: opts.emqxTimeoutMs,
      logger: log,
    });
    log.info('operator running', { health: op.health.url, webhookPort: op.webhookPort });
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('signal received', { signal });
      void op.stop();
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    await op.done;
    if (!stopping) {
      // Leadership lost: every server is closed; should anything still hold the event loop, exit anyway so the pod
      // restarts and campaigns again.
      setTimeout(() => process.exit(1), 5000).unref();
    }
    return stopping ? 0 : 1;
  } catch (err) {
    if (err instanceof KubeConfigError) {
      process.stderr.write(`emqx-operator run: ${err.message}\n  tried: ${err.tried.join(', ')}\n`);
    } else {
      log.error('operator failed', { error: (err as Error).message });
    }
    return 1;
  }
}
