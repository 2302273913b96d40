// `emqx-operator run`: the operator process.
import { parseArgs } from 'node:util';
import { startOperator } from '../../controller/manager.ts';
import { KubeConfigError } from '../../k8s/config.ts';
import { createLogger, parseLogLevel } from '../../observability/logger.ts';
import type { Command } from '../main.ts';

const HELP = `Usage: emqx-operator run [options]

Runs the EMQX operator against a Kubernetes cluster.

Options:
  --kubeconfig FILE                  kubeconfig to use (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)
  --context NAME                     kubeconfig context
  --namespace NS                     watch only this namespace (default: all)
  --leader-elect                     campaign for a Lease so only one replica acts
  --leader-election-namespace NS     namespace of the Lease and the webhook certificate Secret
                                     (default: $POD_NAMESPACE, else emqx-operator-system)
  --identity ID                      leader-election identity (default: $POD_NAME or hostname, plus a random suffix)
  --health-bind-address HOST:PORT    /healthz, /readyz and /metrics (default 127.0.0.1:8081; port 0 = any)
  --metrics-bind-address HOST:PORT   an extra listener for /metrics
  --webhook-bind-address HOST:PORT   serve the v2alpha1 conversion webhook here (HTTPS)
  --webhook-service NS/NAME          the Service the API server uses to reach the webhook
  --webhook-url URL                  or a URL the API server uses (default with no Service: https://127.0.0.1:<port>)
  --install-crds                     apply the CRDs at start (as leader)
  --workers N                        parallel reconciles across resources (default 4; one resource is never
                                     reconciled twice at once)
  --ready-interval DURATION          safety-net re-check of a Ready cluster (default 30s; e.g. 500ms, 10s, 2m)
  --not-ready-interval DURATION      re-check of a cluster that is not Ready yet (default 5s)
  --emqx-timeout DURATION            timeout of one EMQX REST API request (default 5s)
  --log-level LEVEL                  debug, info, warn or error (default info)
  -h, --help                         this help
`;

/** `500ms`, `10s`, `1.5m` → milliseconds; undefined when it is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm']);
}

export const command: Command = {
  summary: 'run the operator against a Kubernetes cluster',
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        strict: true,
        options: {
          kubeconfig: { type: 'string' },
          context: { type: 'string' },
          namespace: { type: 'string' },
          'leader-elect': { type: 'boolean', default: false },
          'leader-election-namespace': { type: 'string' },
          identity: { type: 'string' },
          'health-bind-address': { type: 'string', default: '127.0.0.1:8081' },
          'metrics-bind-address': { type: 'string' },
          'webhook-bind-address': { type: 'string' },
          'webhook-service': { type: 'string' },
          'webhook-url': { type: 'string' },
          'install-crds': { type: 'boolean', default: false },
          workers: { type: 'string' },
          'ready-interval': { type: 'string' },
          'not-ready-interval': { type: 'string' },
          'emqx-timeout': { type: 'string' },
          'log-level': { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      }));
    } catch (err) {
      process.stderr.write(`emqx-operator run: ${(err as Error).message}\n\n${HELP}`);
      return 1;
    }
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const log = createLogger({ level: parseLogLevel(values['log-level'] ?? process.env.LOG_LEVEL) });
    let webhookService: { namespace: string; name: string } | undefined;
    if (values['webhook-service']) {
      const [namespace, name] = values['webhook-service'].split('/');
      if (!namespace || !name) {
        process.stderr.write('emqx-operator run: --webhook-service must be NAMESPACE/NAME\n');
        return 1;
      }
      webhookService = { namespace, name };
    }
    const workers = values.workers ? Number(values.workers) : undefined;
    if (workers !== undefined && (!Number.isInteger(workers) || workers < 1)) {
      process.stderr.write('emqx-operator run: --workers must be a positive integer\n');
      return 1;
    }
    const durations: Record<string, number | undefined> = {};
    for (const flag of ['ready-interval', 'not-ready-interval', 'emqx-timeout'] as const) {
      const v = values[flag];
      if (v === undefined) continue;
      const ms = parseDuration(v);
      if (ms === undefined || ms <= 0) {
        process.stderr.write(
          `emqx-operator run: --${flag} must be a positive duration (e.g. 500ms, 10s, 2m)\n`,
        );
        return 1;
      }
      durations[flag] = ms;
    }
    try {
      const op = await startOperator({
        kubeconfig: values.kubeconfig,
        context: values.context,
        namespace: values.namespace,
        leaderElect: values['leader-elect'],
        leaseNamespace:
          values['leader-election-namespace'] ?? process.env.POD_NAMESPACE ?? 'emqx-operator-system',
        identity: values.identity,
        healthBind: values['health-bind-address'],
        metricsBind: values['metrics-bind-address'],
        installCrds: values['install-crds'],
        ...(values['webhook-bind-address'] && {
          webhook: {
            bind: values['webhook-bind-address'],
            service: webhookService,
            url: values['webhook-url'],
          },
        }),
        workers,
        readyIntervalMs: durations['ready-interval'],
        notReadyIntervalMs: durations['not-ready-interval'],
        emqxTimeoutMs: durations['emqx-timeout'],
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
        // Leadership lost: every server is closed; should anything still hold the event loop, exit anyway so the
        // pod restarts and campaigns again.
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
  },
};
