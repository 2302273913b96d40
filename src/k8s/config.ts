// Where the operator's Kubernetes credentials come from. Tried in this order (as controller-runtime does):
//   1. an explicit path (the `--kubeconfig` flag): must exist, nothing else is tried;
//   2. $KUBECONFIG (one path or several joined by the platform's path delimiter; existing files are merged, the
//      first file to define a name wins, the first file's current-context wins);
//   3. in-cluster: $KUBERNETES_SERVICE_HOST/$KUBERNETES_SERVICE_PORT plus the mounted service-account token;
//   4. $HOME/.kube/config.
// If nothing works the error lists every source tried and why it was skipped.
//
// The kubeconfig is read here rather than by client-node's KubeConfig, whose module loads every generated API
// class (~80 MiB RSS) the operator never uses. What it resolves is a ./access.ts `KubeAccess`: natively for the
// usual cases (CA, client certificates, tokens, token files, basic auth; the in-cluster token file is re-read as
// it rotates); a user with an exec plugin, an auth provider or impersonation, or a cluster behind a proxy, goes
// through client-node's KubeConfig instead, loaded only for such a kubeconfig.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type * as ClientNodeModule from '@kubernetes/client-node';
import type * as YamlModule from 'yaml';
import { ClientNodeAccess, KubeconfigAccess, type KubeAccess } from './access.ts';

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
  access: KubeAccess;
  source: KubeConfigSource;
  /** The file(s) read, or the service-account directory. */
  from: string;
  /** The context used (in-cluster: `inClusterContext`). */
  context: string;
  /** Every context the file(s) define (in-cluster: just the one). */
  contexts: string[];
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

type Entry = Record<string, unknown>;

/** The named maps of one or more kubeconfig files, file paths made absolute. */
interface Kubeconfig {
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, Entry>;
  currentContext?: string;
}

const FILE_FIELDS: Record<'clusters' | 'users', string[]> = {
  clusters: ['certificate-authority'],
  users: ['client-certificate', 'client-key', 'tokenFile'],
};

// `yaml` only when a kubeconfig file is read (in-cluster needs none); required lazily, synchronously
const requireYaml = () => createRequire(import.meta.url)('yaml') as typeof YamlModule;

function parseFile(file: string): Kubeconfig {
  const text = fs.readFileSync(file, 'utf8');
  let doc: unknown;
  try {
    doc = requireYaml().parse(text);
  } catch (err) {
    throw new Error(`not YAML: ${(err as Error).message}`, { cause: err });
  }
  const obj = (doc && typeof doc === 'object' ? doc : {}) as Entry;
  const dir = path.dirname(path.resolve(file));
  const out: Kubeconfig = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const [list, inner] of [
    ['clusters', 'cluster'],
    ['users', 'user'],
    ['contexts', 'context'],
  ] as const) {
    const items = obj[list] ?? [];
    if (!Array.isArray(items)) throw new Error(`${list} is not a list`);
    for (const item of items as Entry[]) {
      const name = item?.name;
      if (typeof name !== 'string' || name === '') throw new Error(`${list}: an entry has no name`);
      const value = { ...((item[inner] ?? {}) as Entry) };
      for (const field of FILE_FIELDS[list as 'clusters' | 'users'] ?? []) {
        const f = value[field];
        if (typeof f === 'string' && f !== '' && !path.isAbsolute(f)) value[field] = path.join(dir, f);
      }
      if (!out[list].has(name)) out[list].set(name, value);
    }
  }
  const cc = obj['current-context'];
  if (typeof cc === 'string' && cc !== '') out.currentContext = cc;
  return out;
}

function merge(into: Kubeconfig, more: Kubeconfig): void {
  for (const key of ['clusters', 'users', 'contexts'] as const) {
    for (const [name, v] of more[key]) if (!into[key].has(name)) into[key].set(name, v);
  }
  into.currentContext ??= more.currentContext;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function bytes(file: unknown, data: unknown, what: string): Buffer | undefined {
  const f = str(file);
  if (f) {
    try {
      return fs.readFileSync(f);
    } catch (err) {
      throw new Error(`${what} ${f}: ${(err as Error).message}`, { cause: err });
    }
  }
  const d = str(data);
  return d ? Buffer.from(d, 'base64') : undefined;
}

/** Fields the native access handles; a user or cluster with anything else goes through client-node. */
const NATIVE_USER = new Set([
  'client-certificate',
  'client-certificate-data',
  'client-key',
  'client-key-data',
  'token',
  'tokenFile',
  'username',
  'password',
]);
const NATIVE_CLUSTER = new Set([
  'server',
  'certificate-authority',
  'certificate-authority-data',
  'insecure-skip-tls-verify',
  'tls-server-name',
  'extensions',
  'disable-compression',
]);

function access(
  cfg: Kubeconfig,
  contextName: string,
  from: string,
): { access: KubeAccess; namespace?: string } {
  const context = cfg.contexts.get(contextName);
  if (!context) throw new Error(`${from}: context "${contextName}" not found`);
  const clusterName = str(context.cluster) ?? '';
  const cluster = cfg.clusters.get(clusterName);
  if (!cluster) throw new Error(`${from}: current context "${contextName}" names no known cluster`);
  const server = str(cluster.server);
  if (!server) throw new Error(`${from}: cluster "${clusterName}" has no server`);
  const user = cfg.users.get(str(context.user) ?? '') ?? {};
  const namespace = str(context.namespace);
  const native =
    Object.keys(user).every((k) => NATIVE_USER.has(k)) &&
    Object.keys(cluster).every((k) => NATIVE_CLUSTER.has(k));
  if (!native) return { access: clientNodeAccess(clusterName, cluster, user, namespace), namespace };
  try {
    return {
      access: new KubeconfigAccess({
        server,
        ca: bytes(
          cluster['certificate-authority'],
          cluster['certificate-authority-data'],
          'certificate-authority',
        ),
        insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
        tlsServerName: str(cluster['tls-server-name']),
        cert: bytes(user['client-certificate'], user['client-certificate-data'], 'client-certificate'),
        key: bytes(user['client-key'], user['client-key-data'], 'client-key'),
        // files are read again as they rotate (KubeconfigAccess)
        caFile: str(cluster['certificate-authority']),
        certFile: str(user['client-certificate']),
        keyFile: str(user['client-key']),
        token: str(user.token),
        tokenFile: str(user.tokenFile),
        username: str(user.username),
        password: typeof user.password === 'string' ? user.password : undefined,
      }),
      namespace,
    };
  } catch (err) {
    throw new Error(`${from}: context "${contextName}": ${(err as Error).message}`, { cause: err });
  }
}

/** client-node's KubeConfig for the one resolved context (file paths already absolute), loaded only now. */
function clientNodeAccess(clusterName: string, cluster: Entry, user: Entry, namespace?: string): KubeAccess {
  // client-node is ESM without top-level await, so require() loads it synchronously (Node 24)
  const { KubeConfig } = createRequire(import.meta.url)('@kubernetes/client-node') as typeof ClientNodeModule;
  const kc = new KubeConfig();
  kc.loadFromString(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: clusterName, cluster }],
      users: [{ name: 'user', user }],
      contexts: [{ name: 'context', context: { cluster: clusterName, user: 'user', namespace } }],
      'current-context': 'context',
    }),
  );
  return new ClientNodeAccess(kc);
}

function loadFiles(files: string[], context: string | undefined, from: string) {
  const cfg = parseFile(files[0]!);
  for (const f of files.slice(1)) merge(cfg, parseFile(f));
  if (context && !cfg.contexts.has(context)) throw new Error(`${from}: context "${context}" not found`);
  const name = context ?? cfg.currentContext;
  if (!name) throw new Error(`${from}: no current-context set`);
  return { ...access(cfg, name, from), context: name, contexts: [...cfg.contexts.keys()] };
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
      return { ...loadFiles([file], opts.context, file), source: 'flag', from: file };
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
      const from = existing.join(path.delimiter);
      try {
        return { ...loadFiles(existing, opts.context, `KUBECONFIG=${from}`), source: 'KUBECONFIG', from };
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
    const nsFile = path.join(saDir, 'namespace');
    const namespace = fs.existsSync(nsFile) ? fs.readFileSync(nsFile, 'utf8').trim() || undefined : undefined;
    const caFile = path.join(saDir, 'ca.crt');
    const serverHost = net.isIPv6(host) ? `[${host}]` : host;
    try {
      // the token file is re-read as it rotates (bound service-account tokens expire), the CA file too
      const hasCa = fs.existsSync(caFile);
      const access = new KubeconfigAccess({
        server: `https://${serverHost}:${port}`,
        ca: hasCa ? fs.readFileSync(caFile) : undefined,
        ...(hasCa && { caFile }),
        tokenFile,
      });
      return {
        access,
        source: 'in-cluster',
        from: saDir,
        context: 'inClusterContext',
        contexts: ['inClusterContext'],
        namespace,
      };
    } catch (err) {
      throw new KubeConfigError(`kubeconfig: in-cluster: ${(err as Error).message}`, [
        ...tried,
        `in-cluster: ${(err as Error).message}`,
      ]);
    }
  }

  const home = opts.home ?? env.HOME ?? os.homedir();
  const homeFile = path.join(home, '.kube', 'config');
  if (!fs.existsSync(homeFile)) {
    tried.push(`${homeFile}: missing`);
  } else {
    try {
      return { ...loadFiles([homeFile], opts.context, homeFile), source: 'home', from: homeFile };
    } catch (err) {
      tried.push(`${homeFile}: ${(err as Error).message}`);
    }
  }

  throw new KubeConfigError(
    `kubeconfig: no Kubernetes configuration found; tried --kubeconfig (not given), ${tried.join('; ')}`,
    tried,
  );
}
