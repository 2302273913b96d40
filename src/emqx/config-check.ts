// Refuses spec.config.data that the operator would otherwise get wrong silently: a dashboard it cannot reach, ports
// that are not ports or that clash, settings the operator overrides, a cookie or licence it would ignore. Each issue
// names the config path and says what to write instead. Pure.
import type { HoconObject, HoconValue } from '../hocon/index.ts';
import { HoconError, isHoconObject } from '../hocon/index.ts';
import { isSensitivePath } from '../hocon/sensitive.ts';
import { DEFAULT_DASHBOARD_HTTP_PORT, bindPort, get, withBuiltinListeners } from './config.ts';

export interface ConfigIssue {
  /** Dotted config path, e.g. `dashboard.listeners.http.bind`. */
  path: string;
  message: string;
}

/**
 * A config the parser accepted but the operator refuses. A HoconError (so every caller that handles bad HOCON
 * handles it) whose message names the config path instead of a line: `dashboard.listeners.http.bind: …`.
 */
export class ConfigFieldError extends HoconError {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    const text = issues.map(formatIssue).join('; ');
    super(text, 0, 0);
    this.name = 'ConfigFieldError';
    this.message = text;
    this.issues = issues;
  }
}

/**
 * `path: message`; for a sensitive path `path (value not shown): message`, a shape the shared redaction (which masks
 * the word after `cookie:` or `password:`) leaves readable in conditions and Events.
 */
export function formatIssue(i: ConfigIssue): string {
  const sensitive = isSensitivePath(i.path.replace(/\[\d+\]/g, '').split('.'));
  return `${i.path}${sensitive ? ' (value not shown)' : ''}: ${i.message}`;
}

/** Settings the operator sets itself on every pod (env), which the config cannot change. */
const OPERATOR_OWNED: Array<{ path: string[]; why: string }> = [
  { path: ['node', 'name'], why: 'the operator names each node after its pod (EMQX_HOST)' },
  { path: ['node', 'data_dir'], why: 'the operator mounts the data volume at data (EMQX_NODE__DATA_DIR)' },
  { path: ['node', 'role'], why: 'the role follows coreTemplate / replicantTemplate (EMQX_NODE__ROLE)' },
  {
    path: ['api_key', 'bootstrap_file'],
    why: 'the operator mounts its own bootstrap file; add keys with spec.bootstrapAPIKeys',
  },
  { path: ['cluster', 'dns', 'name'], why: 'the operator points DNS discovery at its headless Service' },
  { path: ['cluster', 'dns', 'record_type'], why: 'the operator uses SRV records of its headless Service' },
  ...['service_name', 'address_type', 'namespace', 'suffix'].map((k) => ({
    path: ['cluster', 'k8s', k],
    why: 'the operator sets k8s discovery to its own headless Service',
  })),
];

const SUPPORTED_DISCOVERY = ['dns', 'k8s'];

function off(v: HoconValue | undefined): boolean {
  return v === false || v === 'false';
}

function isDisabled(l: HoconObject): boolean {
  return off(l.enable) || off(l.enabled);
}

/** `1883`, `"0.0.0.0:1883"`, `":1883"`, `"[::]:1883"`: the host part of a bind, or '' when there is none. */
function bindHost(bind: HoconValue): string | undefined {
  if (typeof bind !== 'string') return '';
  const m = /^(.*):\d+$/.exec(bind.trim());
  return m ? m[1] : '';
}

const ALL_INTERFACES = new Set(['', '0.0.0.0', '::', '[::]']);

function show(v: HoconValue): string {
  return typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
}

interface Bound {
  path: string;
  port: number;
  protocol: 'TCP' | 'UDP';
}

/** Every enabled listener and gateway listener with a bind, invalid binds reported. */
function listenerBinds(conf: HoconObject, issues: ConfigIssue[]): Bound[] {
  const out: Bound[] = [];
  const visit = (base: string[], listeners: HoconValue | undefined, udpTypes: string[]) => {
    if (!isHoconObject(listeners)) return;
    for (const type of Object.keys(listeners).sort()) {
      const byName = listeners[type];
      if (!isHoconObject(byName)) continue;
      for (const name of Object.keys(byName).sort()) {
        const l = byName[name];
        if (!isHoconObject(l) || isDisabled(l) || l.bind === undefined) continue;
        const path = [...base, type, name, 'bind'].join('.');
        const port = bindPort(l.bind);
        if (port === undefined) {
          issues.push({
            path,
            message: `${show(l.bind)} is not a port: write a port 1-65535 or "0.0.0.0:PORT" (or set enable = false)`,
          });
          continue;
        }
        out.push({ path, port, protocol: udpTypes.includes(type) ? 'UDP' : 'TCP' });
      }
    }
  };
  visit(['listeners'], get(conf, ['listeners']), ['quic']);
  const gateways = get(conf, ['gateway']);
  if (isHoconObject(gateways)) {
    for (const proto of Object.keys(gateways).sort()) {
      const gw = gateways[proto];
      if (!isHoconObject(gw) || isDisabled(gw)) continue;
      visit(['gateway', proto, 'listeners'], gw.listeners, ['udp', 'dtls']);
    }
  }
  return out;
}

/**
 * Keys whose string values are secrets EMQX reads from its config. spec.config.data goes into a ConfigMap (readable
 * under the default `view` role), so such values are refused there; node.cookie and license.key are the two the
 * operator moves into Secrets itself.
 */
const SECRET_LEAF_KEYS = new Set(['password', 'default_password', 'secret', 'secret_access_key']);

function secretHint(path: string): string {
  if (path === 'dashboard.default_password')
    return 'set EMQX_DASHBOARD__DEFAULT_PASSWORD in coreTemplate.spec.env and replicantTemplate.spec.env with valueFrom.secretKeyRef';
  return (
    'set it through the EMQX dashboard or REST API once the cluster runs, or, where EMQX accepts a file for this ' +
    'field, mount a Secret (extraVolumes / extraVolumeMounts) and write "file:///path/to/it"'
  );
}

/** Secret strings anywhere in the config (except the two the operator moves into Secrets). */
function secretValues(conf: HoconObject, issues: ConfigIssue[]): void {
  const stack: Array<{ v: HoconValue; path: string }> = [{ v: conf, path: '' }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push({ v: item, path: `${path}[${i}]` }));
    } else if (isHoconObject(v)) {
      for (const k of Object.keys(v)) {
        const child = v[k]!;
        const p = path ? `${path}.${k}` : k;
        if (
          SECRET_LEAF_KEYS.has(k) &&
          typeof child === 'string' &&
          child !== '' &&
          child !== '******' &&
          !child.startsWith('file://')
        ) {
          issues.push({
            path: p,
            message: `a secret in spec.config.data would be stored in plaintext in a ConfigMap: ${secretHint(p)}`,
          });
        } else {
          stack.push({ v: child, path: p });
        }
      }
    }
  }
}

/** What of the rest of the spec the config checks depend on. */
export interface ConfigCheckOptions {
  /**
   * spec.tls.dashboard is set: the operator can call an https dashboard and verify it against that Secret's CA, so
   * the dashboard may serve https only.
   */
  dashboardTls?: boolean;
}

/** The problems of a parsed spec.config.data, in a stable order; empty when the operator can run it as written. */
export function configIssues(conf: HoconObject, opts: ConfigCheckOptions = {}): ConfigIssue[] {
  const issues: ConfigIssue[] = [];

  if (Object.prototype.hasOwnProperty.call(conf, 'licence')) {
    issues.push({
      path: 'licence',
      message:
        'EMQX has no "licence" setting (did you mean license?); its value would be stored in plaintext in a ' +
        'ConfigMap',
    });
  }
  const license = get(conf, ['license']);
  if (license !== undefined && !isHoconObject(license)) {
    issues.push({
      path: 'license',
      message:
        'must be an object: write license { key = "…" } (the operator moves license.key into a Secret)',
    });
  }
  secretValues(conf, issues);

  // secrets the operator moves into Secrets must be strings, or it would silently generate / drop them
  for (const path of [
    ['node', 'cookie'],
    ['license', 'key'],
  ]) {
    const v = get(conf, path);
    if (v !== undefined && (typeof v !== 'string' || v === '')) {
      issues.push({
        path: path.join('.'),
        message: 'must be a non-empty quoted string (e.g. "…")',
      });
    }
  }

  for (const { path, why } of OPERATOR_OWNED) {
    if (get(conf, path) !== undefined)
      issues.push({ path: path.join('.'), message: `is set by the operator and cannot be changed: ${why}` });
  }

  const strategy = get(conf, ['cluster', 'discovery_strategy']);
  if (strategy !== undefined && !(typeof strategy === 'string' && SUPPORTED_DISCOVERY.includes(strategy))) {
    issues.push({
      path: 'cluster.discovery_strategy',
      message: `${show(strategy)} is not supported: the operator forms the cluster with dns (the default) or k8s`,
    });
  }

  // the dashboard HTTP listener carries the operator's API calls and the pods' probes
  const http = get(conf, ['dashboard', 'listeners', 'http']);
  let dashboard: Bound | undefined = {
    path: 'dashboard.listeners.http.bind',
    port: DEFAULT_DASHBOARD_HTTP_PORT,
    protocol: 'TCP',
  };
  if (http !== undefined && !isHoconObject(http)) {
    issues.push({ path: 'dashboard.listeners.http', message: 'must be an object' });
    dashboard = undefined;
  } else if (http && isDisabled(http)) {
    // https only: the operator calls the API over https, verified against spec.tls.dashboard's CA; without that
    // Secret it has nothing to verify the dashboard's certificate against, so it needs the http listener
    const httpsListener = get(conf, ['dashboard', 'listeners', 'https']);
    const httpsBound =
      isHoconObject(httpsListener) && !isDisabled(httpsListener) && httpsListener.bind !== undefined;
    if (!(opts.dashboardTls && httpsBound))
      issues.push({
        path: 'dashboard.listeners.http.enable',
        message: httpsBound
          ? 'the dashboard HTTP listener may be turned off only when spec.tls.dashboard is set: the operator calls ' +
            "the EMQX API over https only when it can verify the dashboard certificate against that Secret's CA " +
            '(set spec.tls.dashboard, or keep the HTTP listener enabled)'
          : 'the dashboard HTTP listener must stay enabled: the operator calls the EMQX API and the probes check ' +
            'the node over it (or serve https only: set dashboard.listeners.https.bind and spec.tls.dashboard)',
      });
    dashboard = undefined;
  } else if (http && http.bind !== undefined) {
    const port = bindPort(http.bind);
    const host = bindHost(http.bind);
    if (port === undefined) {
      issues.push({
        path: 'dashboard.listeners.http.bind',
        message: `${show(http.bind)} is not a port: write a port 1-65535 or "0.0.0.0:PORT" (0 would disable the listener the operator needs)`,
      });
      dashboard = undefined;
    } else if (host === undefined || !ALL_INTERFACES.has(host)) {
      issues.push({
        path: 'dashboard.listeners.http.bind',
        message: `${show(http.bind)} listens on one address only: the operator and the probes reach the node at its pod IP; write ${port} or "0.0.0.0:${port}"`,
      });
    } else {
      dashboard.port = port;
    }
  }
  const https = get(conf, ['dashboard', 'listeners', 'https']);
  let dashboardHttps: Bound | undefined;
  if (isHoconObject(https) && !isDisabled(https) && https.bind !== undefined) {
    const port = bindPort(https.bind);
    if (port === undefined)
      issues.push({
        path: 'dashboard.listeners.https.bind',
        message: `${show(https.bind)} is not a port: write a port 1-65535 or "0.0.0.0:PORT" (or set enable = false)`,
      });
    else dashboardHttps = { path: 'dashboard.listeners.https.bind', port, protocol: 'TCP' };
  }

  // listeners: ports in range, and no two on the same port (EMQX would fail to start the second); the built-in
  // listeners the config leaves alone count, so a dashboard on 1883 clashes with tcp.default
  const listeners = listenerBinds(withBuiltinListeners(conf), issues);
  const seen = new Map<string, string>();
  for (const b of [
    ...listeners,
    ...(dashboard ? [dashboard] : []),
    ...(dashboardHttps ? [dashboardHttps] : []),
  ]) {
    const key = `${b.port}/${b.protocol}`;
    const other = seen.get(key);
    if (other !== undefined) {
      issues.push({
        path: b.path,
        message: `port ${b.port} is already used by ${other}; give each listener its own port`,
      });
    } else {
      seen.set(key, b.path.replace(/\.bind$/, ''));
    }
  }
  return issues;
}
