// EMQX config rules (not a builder): the parsed view of `spec.config.data` that the builders and the controller read: ports, discovery, secrets that
// must move into Secrets, and the split between config EMQX can change at runtime and config it cannot.
//
// Everything here is pure. Port accessors accept the user's config (spec.config.data) as well as the whole config
// a running node returns from `GET /api/v5/configs` (defaults filled in).
import type { V1ServicePort } from '@kubernetes/client-node';
import { cloneHocon, isHoconObject, parseHocon } from '../hocon/index.ts';
import type { HoconLimits, HoconObject, HoconValue } from '../hocon/index.ts';
import { MAX_CONFIG_DATA_LENGTH } from '../api/schema.ts';
import { fnv1a32 } from '../resources/hash.ts';
import { ConfigFieldError, configIssues, type ConfigCheckOptions } from './config-check.ts';

export const DEFAULT_DASHBOARD_HTTP_PORT = 18083;

/**
 * What parsing spec.config.data may cost: the admission bound on its length, and a resolved config small enough for
 * a ConfigMap (1 MiB) even after substitutions.
 */
export const SPEC_CONFIG_LIMITS: Readonly<Partial<HoconLimits>> = Object.freeze({
  maxBytes: MAX_CONFIG_DATA_LENGTH,
  maxExpandedSize: 2 * 1024 * 1024,
});

/** An `include` directive of spec.config.data, passed on to EMQX in emqx.conf. */
export interface ConfigInclude {
  file: string;
  required: boolean;
}

/**
 * Parses spec.config.data; an absent or blank config is an empty object. Throws HoconError: for text that is not
 * HOCON (with a line and column), and as a ConfigFieldError (naming config paths) for a config the operator would
 * get wrong silently (see configIssues). An unresolved `${?x}` is refused too, since it would drop its field.
 * `include` directives are passed on to EMQX, like the Go operator does: the included files live on the nodes (a
 * mounted volume) where the operator cannot read them, so here they count as empty (listener discovery on a running
 * cluster reads EMQX's own resolved configuration and sees their listeners). Only top-level includes can be passed
 * on (emqx.conf is printed from the parsed config); one inside an object is refused with a message saying so.
 */
export function parseEmqxConfig(data: string | undefined, checks: ConfigCheckOptions = {}): HoconObject {
  return parseWithIncludes(data, checks).conf;
}

/**
 * The top-level includes of spec.config.data, in order (emqx.conf starts with them). The config's checks are the
 * caller's (parseEmqxConfig, with the resource's options): here they are not run again without those options (an
 * https-only dashboard with spec.tls.dashboard would be refused).
 */
export function configIncludes(data: string | undefined): ConfigInclude[] {
  return parseWithIncludes(data, false).includes;
}

function parseWithIncludes(
  data: string | undefined,
  checks: ConfigCheckOptions | false = {},
): { conf: HoconObject; includes: ConfigInclude[] } {
  const includes: ConfigInclude[] = [];
  if (data === undefined || data.trim() === '') return { conf: {}, includes };
  const conf = parseHocon(data, {
    limits: SPEC_CONFIG_LIMITS,
    refuseUnresolvedOptional: true,
    include: (file, { required, path }) => {
      if (path.length > 0)
        throw new Error(
          `only top-level includes are passed on to EMQX; move this one out of ${path.join('.')} (keys written ` +
            'in config.data win over those of included files)',
        );
      includes.push({ file, required });
      return '';
    },
  });
  const issues = checks === false ? [] : configIssues(conf, checks);
  if (issues.length > 0) throw new ConfigFieldError(issues);
  return { conf, includes };
}

/** The value at `path` (own keys only), or undefined when a step is missing or not an object. */
export function get(conf: HoconObject, path: readonly string[]): HoconValue | undefined {
  let cur: HoconValue | undefined = conf;
  for (const key of path) {
    if (!isHoconObject(cur) || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function getObject(conf: HoconObject, path: readonly string[]): HoconObject | undefined {
  const v = get(conf, path);
  return isHoconObject(v) ? v : undefined;
}

function getString(conf: HoconObject, path: readonly string[]): string | undefined {
  const v = get(conf, path);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The port of a `bind` value: `18083`, `"18083"`, `"0.0.0.0:18083"`, `":18083"`, `"[::]:18083"`. Undefined when
 * it is not a port (or is 0, which EMQX reads as "disabled").
 */
export function bindPort(bind: HoconValue | undefined): number | undefined {
  let port: number | undefined;
  if (typeof bind === 'number') port = bind;
  else if (typeof bind === 'string') {
    const m = /^(?:(?:\[[0-9A-Fa-f:.]*\]|[^:[\]]*):)?(\d{1,5})$/.exec(bind.trim());
    if (m) port = Number(m[1]);
  }
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return port;
}

/** A listener is off when either spelling of its switch (`enable`, `enabled`) is false. */
function isEnabled(obj: HoconObject): boolean {
  return obj.enable !== false && obj.enabled !== false && obj.enable !== 'false' && obj.enabled !== 'false';
}

export interface DashboardPorts {
  /** The HTTP listener's port; undefined when it is disabled (`enable = false` or `bind = 0`). */
  http?: number;
  /** The HTTPS listener's port; only when `dashboard.listeners.https.bind` is set to a port and not disabled. */
  https?: number;
}

/** The dashboard listener ports (HTTP 18083 unless configured otherwise; HTTPS only when configured). */
export function dashboardPorts(conf: HoconObject): DashboardPorts {
  const out: DashboardPorts = {};
  const http = getObject(conf, ['dashboard', 'listeners', 'http']);
  if (!http) out.http = DEFAULT_DASHBOARD_HTTP_PORT;
  else if (isEnabled(http)) {
    if (http.bind === undefined) out.http = DEFAULT_DASHBOARD_HTTP_PORT;
    else {
      const p = bindPort(http.bind);
      if (p !== undefined) out.http = p;
    }
  }
  const https = getObject(conf, ['dashboard', 'listeners', 'https']);
  if (https && isEnabled(https)) {
    const p = bindPort(https.bind);
    if (p !== undefined) out.https = p;
  }
  return out;
}

/** The dashboard HTTP port (default 18083), or undefined when HTTP is disabled. */
export function dashboardHttpPort(conf: HoconObject): number | undefined {
  return dashboardPorts(conf).http;
}

/** The dashboard HTTPS port when an HTTPS listener is configured and enabled. */
export function dashboardHttpsPort(conf: HoconObject): number | undefined {
  return dashboardPorts(conf).https;
}

// ---------------------------------------------------------------------------------------------------------------
// Listener discovery
// ---------------------------------------------------------------------------------------------------------------

const PORT_NAME_MAX = 15;
/** Service port names are DNS-1123 labels: up to 63 characters (the 15-character limit is for container ports). */
const SERVICE_PORT_NAME_MAX = 63;

function isValidPortName(name: string): boolean {
  return (
    name.length >= 1 &&
    name.length <= PORT_NAME_MAX &&
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name) &&
    !name.includes('--') &&
    /[a-z]/.test(name)
  );
}

function isValidServicePortName(name: string): boolean {
  return name.length <= SERVICE_PORT_NAME_MAX && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name);
}

/**
 * A valid Service port name (a DNS-1123 label of at most 63 characters) for `raw`: listener names such as
 * `lwm2m-udp-default` are kept whole, as the Go operator keeps them, so that tools and Ingresses referring to the
 * port by name keep working. Names that are not valid labels are cleaned, and cut and suffixed with a hash like
 * portName when needed.
 */
export function servicePortName(raw: string): string {
  if (isValidServicePortName(raw)) return raw;
  return cleanedWithHash(raw, SERVICE_PORT_NAME_MAX);
}

/**
 * `raw` lowercased, with runs of other characters than `[a-z0-9-]` made one `-`, cut to leave room for `-` and 4
 * hex digits of a hash of `raw` (so two different raw names practically never meet), then suffixed with them.
 */
function cleanedWithHash(raw: string, max: number): string {
  const cleaned = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  const suffix = fnv1a32(new TextEncoder().encode(raw)).toString(16).padStart(8, '0').slice(0, 4);
  const head = cleaned.slice(0, max - 5).replace(/-$/, '') || 'p';
  return `${head}-${suffix}`;
}

/**
 * A valid Kubernetes port name (IANA_SVC_NAME: at most 15 characters of `[a-z0-9-]`, at least one letter, no
 * leading, trailing or double `-`) for `raw`. Valid names are kept; others are lowercased and cleaned, and if that
 * is not enough (too long, or it changed and might now clash), cut and suffixed with 4 hex digits of a hash of the
 * raw name, so the result is deterministic and two different raw names practically never meet.
 */
export function portName(raw: string): string {
  if (isValidPortName(raw)) return raw;
  const name = cleanedWithHash(raw, PORT_NAME_MAX);
  return /[a-z]/.test(name) ? name : `p${name.slice(1)}`;
}

function sortedEntries(obj: HoconObject): [string, HoconValue][] {
  return Object.keys(obj)
    .sort()
    .map((k) => [k, obj[k]]);
}

/**
 * The listener ports of a config, following the Go operator's discovery rules:
 * - every enabled `listeners.<type>.<name>` with a `bind` gives port `<type>-<name>`; `quic` listeners are UDP;
 * - every enabled `gateway.<proto>.listeners.<type>.<name>` gives `<proto>-<type>-<name>`; `udp`/`dtls` are UDP
 *   (a gateway that is itself disabled contributes nothing);
 * - `enable = false` and `enabled = false` both disable;
 * - names are made valid Service port names (see servicePortName: whole up to 63 characters) and unique; a
 *   second listener on the same port and
 *   protocol is dropped;
 * - when nothing is found, the four EMQX defaults: tcp 1883, ssl 8883, ws 8083, wss 8084.
 *
 * Meant for the whole config of a running node (`GET /api/v5/configs`), which lists the default listeners. For the
 * user's config alone use configuredListenerPorts, which assumes EMQX's built-in listeners first.
 */
export function listenerPorts(conf: HoconObject): V1ServicePort[] {
  const found: { raw: string; port: number; protocol: 'TCP' | 'UDP' }[] = [];
  const listeners = getObject(conf, ['listeners']);
  if (listeners) {
    for (const [type, byName] of sortedEntries(listeners)) {
      if (!isHoconObject(byName)) continue;
      for (const [name, l] of sortedEntries(byName)) {
        if (!isHoconObject(l) || !isEnabled(l)) continue;
        const port = bindPort(l.bind);
        if (port === undefined) continue;
        found.push({ raw: `${type}-${name}`, port, protocol: type === 'quic' ? 'UDP' : 'TCP' });
      }
    }
  }
  const gateways = getObject(conf, ['gateway']);
  if (gateways) {
    for (const [proto, gw] of sortedEntries(gateways)) {
      if (!isHoconObject(gw) || !isEnabled(gw) || !isHoconObject(gw.listeners)) continue;
      for (const [type, byName] of sortedEntries(gw.listeners)) {
        if (!isHoconObject(byName)) continue;
        for (const [name, l] of sortedEntries(byName)) {
          if (!isHoconObject(l) || !isEnabled(l)) continue;
          const port = bindPort(l.bind);
          if (port === undefined) continue;
          const udp = type === 'udp' || type === 'dtls';
          found.push({ raw: `${proto}-${type}-${name}`, port, protocol: udp ? 'UDP' : 'TCP' });
        }
      }
    }
  }
  if (found.length === 0) return defaultListenerPorts();

  const out: V1ServicePort[] = [];
  const names = new Set<string>();
  const ports = new Set<string>();
  for (const f of found) {
    const key = `${f.port}/${f.protocol}`;
    if (ports.has(key)) continue;
    let name = servicePortName(f.raw);
    if (names.has(name)) name = servicePortName(`${f.raw}#${f.port}/${f.protocol}`);
    if (names.has(name)) continue;
    names.add(name);
    ports.add(key);
    out.push({ name, port: f.port, protocol: f.protocol, targetPort: f.port });
  }
  return out;
}

/** The four listeners EMQX starts when its config names none. */
export function defaultListenerPorts(): V1ServicePort[] {
  return [
    { name: 'tcp-default', port: 1883, protocol: 'TCP', targetPort: 1883 },
    { name: 'ssl-default', port: 8883, protocol: 'TCP', targetPort: 8883 },
    { name: 'ws-default', port: 8083, protocol: 'TCP', targetPort: 8083 },
    { name: 'wss-default', port: 8084, protocol: 'TCP', targetPort: 8084 },
  ];
}

/** EMQX's built-in listeners, which exist unless the config disables or rebinds them. */
function builtinListeners(): HoconObject {
  return {
    listeners: {
      tcp: { default: { bind: '0.0.0.0:1883' } },
      ssl: { default: { bind: '0.0.0.0:8883' } },
      ws: { default: { bind: '0.0.0.0:8083' } },
      wss: { default: { bind: '0.0.0.0:8084' } },
    },
  };
}

/**
 * The listener ports a node started from this (user) config will open: EMQX's four built-in listeners, as
 * changed or disabled by the config, plus the config's own listeners and gateways. Use this before the cluster
 * runs; afterwards prefer listenerPorts over the node's `GET /api/v5/configs`, which also sees listeners added
 * through the dashboard.
 */
export function configuredListenerPorts(conf: HoconObject): V1ServicePort[] {
  return listenerPorts(withBuiltinListeners(conf));
}

/** The config over EMQX's four built-in listeners (what a node started from it listens on). */
export function withBuiltinListeners(conf: HoconObject): HoconObject {
  return mergeObjects(builtinListeners(), conf);
}

function mergeObjects(base: HoconObject, over: HoconObject): HoconObject {
  const out = cloneHocon(base);
  for (const key of Object.keys(over)) {
    const b = out[key];
    const o = over[key];
    if (isHoconObject(b) && isHoconObject(o)) {
      Object.defineProperty(out, key, {
        value: mergeObjects(b, o),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      Object.defineProperty(out, key, {
        value: cloneHocon(o),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Discovery and secrets
// ---------------------------------------------------------------------------------------------------------------

/**
 * The discovery strategy the operator configures on the pods: `k8s` when the config asks for it (the pods then
 * get the k8s-discovery env and a ServiceAccount allowed to read Endpoints), otherwise `dns` (SRV records of the
 * headless Service). Other values in the config (manual, static, etcd, singleton) are overridden by `dns`: the
 * operator needs nodes named after their pods.
 */
export function discoveryStrategy(conf: HoconObject): 'dns' | 'k8s' {
  return getString(conf, ['cluster', 'discovery_strategy']) === 'k8s' ? 'k8s' : 'dns';
}

/** `cluster.k8s.apiserver` when the config sets it. */
export function k8sApiServer(conf: HoconObject): string | undefined {
  return getString(conf, ['cluster', 'k8s', 'apiserver']);
}

/** `node.cookie` when the config sets it (it then goes into the cookie Secret, never the ConfigMap). */
export function nodeCookie(conf: HoconObject): string | undefined {
  return getString(conf, ['node', 'cookie']);
}

/** `license.key` when the config sets it (it then goes into the licence Secret, never the ConfigMap). */
export function licenseKey(conf: HoconObject): string | undefined {
  return getString(conf, ['license', 'key']);
}

/** The config with `node.cookie` and `license.key` removed (what may be written to a ConfigMap). */
export function withoutSecrets(conf: HoconObject): HoconObject {
  const out = cloneHocon(conf);
  deleteAndPrune(out, ['node', 'cookie']);
  deleteAndPrune(out, ['license', 'key']);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Restart-required vs hot config
// ---------------------------------------------------------------------------------------------------------------

/** Roots EMQX reads only at boot (the API refuses or ignores them), besides `cluster` and dashboard binds. */
const RESTART_ROOTS = ['node', 'rpc', 'durable_sessions', 'durable_storage'] as const;
/** Keys of a dashboard listener that decide whether and where it listens. */
const DASHBOARD_LISTENER_KEYS = ['bind', 'enable', 'enabled'] as const;

/** Deletes `path` from `obj` (in place) and removes the objects the deletion left empty. */
function deleteAndPrune(obj: HoconObject, path: readonly string[]): void {
  const [head, ...rest] = path;
  if (head === undefined || !Object.prototype.hasOwnProperty.call(obj, head)) return;
  if (rest.length === 0) {
    delete obj[head];
    return;
  }
  const child = obj[head];
  if (!isHoconObject(child)) return;
  deleteAndPrune(child, rest);
  if (Object.keys(child).length === 0) delete obj[head];
}

function setOwnValue(obj: HoconObject, key: string, value: HoconValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The part of the config EMQX cannot change at runtime: the roots `node` (without `node.cookie`, which lives in
 * its Secret), `rpc`, `durable_sessions`, `durable_storage`, `cluster` except `cluster.links`, and the `bind` /
 * `enable` of each dashboard listener. Its hash is a pod-template annotation, so changing any of it rolls the
 * pods; nothing else does.
 */
export function restartRequiredConfig(conf: HoconObject): HoconObject {
  const out: HoconObject = {};
  for (const root of RESTART_ROOTS) {
    if (Object.prototype.hasOwnProperty.call(conf, root)) setOwnValue(out, root, cloneHocon(conf[root]));
  }
  deleteAndPrune(out, ['node', 'cookie']);
  const cluster = conf.cluster;
  if (cluster !== undefined) {
    if (isHoconObject(cluster)) {
      const c = cloneHocon(cluster);
      delete c.links;
      if (Object.keys(c).length > 0) out.cluster = c;
    } else {
      out.cluster = cloneHocon(cluster);
    }
  }
  const listeners = getObject(conf, ['dashboard', 'listeners']);
  if (listeners) {
    const picked: HoconObject = {};
    for (const [name, l] of sortedEntries(listeners)) {
      if (!isHoconObject(l)) continue;
      const keep: HoconObject = {};
      for (const k of DASHBOARD_LISTENER_KEYS) if (l[k] !== undefined) keep[k] = cloneHocon(l[k]);
      if (Object.keys(keep).length > 0) setOwnValue(picked, name, keep);
    }
    if (Object.keys(picked).length > 0) out.dashboard = { listeners: picked };
  }
  return out;
}

/**
 * The config with everything restartRequiredConfig covers stripped, ready for `PUT /api/v5/configs` (text/plain
 * after printing). It still holds `license.key` when set: send it to EMQX, never to a log.
 */
export function hotConfig(conf: HoconObject): HoconObject {
  const out = cloneHocon(conf);
  for (const root of RESTART_ROOTS) delete out[root];
  const cluster = out.cluster;
  if (cluster !== undefined) {
    if (isHoconObject(cluster) && cluster.links !== undefined) out.cluster = { links: cluster.links };
    else delete out.cluster;
  }
  const listeners = getObject(out, ['dashboard', 'listeners']);
  if (listeners) {
    for (const name of Object.keys(listeners)) {
      for (const k of DASHBOARD_LISTENER_KEYS) deleteAndPrune(out, ['dashboard', 'listeners', name, k]);
    }
  }
  return out;
}

/**
 * The enabled `ssl` and `wss` listeners a node started from this (user) config will run, EMQX's built-in
 * `ssl.default` and `wss.default` included unless the config disables them or binds them to 0.
 */
export function tlsListeners(conf: HoconObject): Array<{ type: 'ssl' | 'wss'; name: string }> {
  const merged = mergeObjects(builtinListeners(), conf);
  const out: Array<{ type: 'ssl' | 'wss'; name: string }> = [];
  for (const type of ['ssl', 'wss'] as const) {
    const byName = getObject(merged, ['listeners', type]);
    if (!byName) continue;
    for (const [name, l] of sortedEntries(byName)) {
      if (!isHoconObject(l) || !isEnabled(l) || bindPort(l.bind) === undefined) continue;
      out.push({ type, name });
    }
  }
  return out;
}
