// Where the operator's Kubernetes credentials come from. Tried in this order (as controller-runtime does):
//   1. an explicit path (the `--kubeconfig` flag): must exist, nothing else is tried;
//   2. $KUBECONFIG (one path or several joined by the platform's path delimiter; existing files are merged, the
//      first file's current-context wins);
//   3. in-cluster: $KUBERNETES_SERVICE_HOST/$KUBERNETES_SERVICE_PORT plus the mounted service-account token;
//   4. $HOME/.kube/config.
// If nothing works the error lists every source tried and why it was skipped.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** Explicit kubeconfig path (`--kubeconfig`). */
  kubeconfig?: string;
  /** Context to use instead of the file's current-context. */
  context?: string;
  /** For tests: environment (default process.env), home dir, and the service-account directory. */
  env?: NodeJS.ProcessEnv;
  home?: string;
  serviceAccountDir?: string;
}

export type KubeConfigSource = 'flag' | 'KUBECONFIG' | 'in-cluster' | 'home';

export interface LoadedKubeConfig {
  kc: KubeConfig;
  source: KubeConfigSource;
  /** The file(s) read, or the service-account directory. */
  from: string;
  /** The namespace of the current context (in-cluster: the pod's namespace), if any. */
  namespace?: string;
}

export class KubeConfigError extends Error {
  readonly tried: string[];
  constructor(message: string, tried: string[]) {
    super(message);
    this.name = 'KubeConfigError';
    this.tried = tried;
  }
}

function loadFile(file: string, context: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return finish(kc, context, file);
}

function finish(kc: KubeConfig, context: string | undefined, from: string): KubeConfig {
  if (context) {
    if (!kc.getContextObject(context)) throw new Error(`${from}: context "${context}" not found`);
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentContext()) throw new Error(`${from}: no current-context set`);
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new Error(`${from}: current context "${kc.getCurrentContext()}" names no known cluster`);
  if (!cluster.server) throw new Error(`${from}: cluster "${cluster.name}" has no server`);
  return kc;
}

function namespaceOf(kc: KubeConfig): string | undefined {
  return kc.getContextObject(kc.getCurrentContext())?.namespace || undefined;
}

export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): LoadedKubeConfig {
  const env = opts.env ?? process.env;
  const tried: string[] = [];

  if (opts.kubeconfig) {
    const file = path.resolve(opts.kubeconfig);
    if (!fs.existsSync(file)) {
      throw new KubeConfigError(`kubeconfig: --kubeconfig ${file} does not exist`, [
        `--kubeconfig ${file}: missing`,
      ]);
    }
    try {
      const kc = loadFile(file, opts.context);
      return { kc, source: 'flag', from: file, namespace: namespaceOf(kc) };
    } catch (err) {
      throw new KubeConfigError(`kubeconfig: --kubeconfig ${file}: ${(err as Error).message}`, [
        `--kubeconfig ${file}: ${(err as Error).message}`,
      ]);
    }
  }

  const fromEnv = env.KUBECONFIG;
  if (fromEnv) {
    const files = fromEnv.split(path.delimiter).filter((f) => f !== '');
    const existing = files.filter((f) => fs.existsSync(f));
    if (existing.length === 0) {
      tried.push(`KUBECONFIG=${fromEnv}: no such file`);
    } else {
      try {
        const kc = new KubeConfig();
        kc.loadFromFile(existing[0]!);
        for (const f of existing.slice(1)) {
          const more = new KubeConfig();
          more.loadFromFile(f);
          kc.mergeConfig(more, true);
        }
        finish(kc, opts.context, `KUBECONFIG=${existing.join(path.delimiter)}`);
        return { kc, source: 'KUBECONFIG', from: existing.join(path.delimiter), namespace: namespaceOf(kc) };
      } catch (err) {
        throw new KubeConfigError(`kubeconfig: KUBECONFIG: ${(err as Error).message}`, [
          ...tried,
          `KUBECONFIG=${fromEnv}: ${(err as Error).message}`,
        ]);
      }
    }
  } else {
    tried.push('KUBECONFIG: not set');
  }

  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const saDir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenFile = path.join(saDir, 'token');
  if (!host || !port) {
    tried.push('in-cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT not set');
  } else if (!fs.existsSync(tokenFile)) {
    tried.push(`in-cluster: ${tokenFile} missing`);
  } else {
    const kc = new KubeConfig();
    const nsFile = path.join(saDir, 'namespace');
    const namespace = fs.existsSync(nsFile) ? fs.readFileSync(nsFile, 'utf8').trim() : undefined;
    const caFile = path.join(saDir, 'ca.crt');
    const serverHost = net.isIPv6(host) ? `[${host}]` : host;
    kc.loadFromOptions({
      clusters: [
        {
          name: 'inCluster',
          server: `https://${serverHost}:${port}`,
          caFile: fs.existsSync(caFile) ? caFile : undefined,
          skipTLSVerify: false,
        },
      ],
      // the tokenFile auth provider re-reads the (rotated) projected token
      users: [{ name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile } } }],
      contexts: [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser', namespace }],
      currentContext: 'inClusterContext',
    });
    return { kc, source: 'in-cluster', from: saDir, namespace };
  }

  const home = opts.home ?? env.HOME ?? os.homedir();
  const homeFile = path.join(home, '.kube', 'config');
  if (!fs.existsSync(homeFile)) {
    tried.push(`${homeFile}: missing`);
  } else {
    try {
      const kc = loadFile(homeFile, opts.context);
      return { kc, source: 'home', from: homeFile, namespace: namespaceOf(kc) };
    } catch (err) {
      tried.push(`${homeFile}: ${(err as Error).message}`);
    }
  }

  throw new KubeConfigError(
    `kubeconfig: no Kubernetes configuration found; tried --kubeconfig (not given), ${tried.join('; ')}`,
    tried,
  );
}
