// TLS certificates from Secrets (spec.tls): the pod volumes that carry them, the `ssl_options` the operator writes
// into the node config, the config checks that cannot be CEL rules (they need the parsed HOCON), and the check of
// a Secret's content. Pure.
//
// Each Secret is mounted as a whole directory, never through subPath: the kubelet updates the files of a Secret
// volume in place when the Secret changes (an atomic symlink swap), and EMQX reads certfile/keyfile again for new
// connections, so a renewed certificate is served without a restart and existing connections stay up.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { V1Secret, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { names } from '../api/names.ts';
import type { EMQX } from '../api/types.ts';
import { cloneHocon, isHoconObject, type HoconObject, type HoconValue } from '../hocon/index.ts';
import { dashboardPorts, tlsListeners } from '../emqx/config.ts';

export const TLS_CERT_KEY = 'tls.crt';
export const TLS_KEY_KEY = 'tls.key';
export const CA_CERT_KEY = 'ca.crt';

export const VOLUME_TLS_LISTENERS = 'tls-listeners';
export const VOLUME_TLS_CLIENT_CA = 'tls-client-ca';
export const VOLUME_TLS_DASHBOARD = 'tls-dashboard';
/** `tls-listener-<index in perListener>`. */
export const VOLUME_TLS_LISTENER_PREFIX = 'tls-listener-';

export const TLS_LISTENERS_DIR = '/opt/emqx/etc/certs/operator/listeners';
export const TLS_CLIENT_CA_DIR = '/opt/emqx/etc/certs/operator/client-ca';
export const TLS_DASHBOARD_DIR = '/opt/emqx/etc/certs/operator/dashboard';
export const TLS_LISTENER_DIR_PREFIX = '/opt/emqx/etc/certs/operator/listener';

/** Largest certificate chain the operator reads from a Secret. */
export const MAX_CERT_BYTES = 64 * 1024;

/**
 * The Secret that holds a certificate: the one spec.tls names, or the one cert-manager writes for the Certificate
 * the operator made from an issuerRef. Undefined when spec.tls does not ask for that certificate.
 */
export function tlsSecretName(emqx: EMQX, which: 'listeners' | 'dashboard'): string | undefined {
  const c = emqx.spec.tls?.[which];
  if (!c) return undefined;
  return c.issuerRef ? names.tlsCertificate(emqx, which) : c.secretName;
}

/** Where one listener's own Secret (spec.tls.listeners.perListener) is mounted: `ssl:internal` → `.../ssl-internal`. */
export function listenerCertDir(listener: string): string {
  return `${TLS_LISTENER_DIR_PREFIX}/${listener.replace(':', '-')}`;
}

/** The Secret volumes and mounts spec.tls asks for (none without spec.tls). */
export function tlsVolumes(emqx: EMQX): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  const add = (name: string, secretName: string, dir: string) => {
    volumes.push({ name, secret: { secretName } });
    mounts.push({ name, mountPath: dir, readOnly: true });
  };
  const tls = emqx.spec.tls;
  if (tls?.listeners) {
    const listenersSecret = tlsSecretName(emqx, 'listeners');
    if (listenersSecret) add(VOLUME_TLS_LISTENERS, listenersSecret, TLS_LISTENERS_DIR);
    (tls.listeners.perListener ?? []).forEach((p, i) =>
      add(`${VOLUME_TLS_LISTENER_PREFIX}${i}`, p.secretName, listenerCertDir(p.listener)),
    );
    if (tls.listeners.clientCA)
      add(VOLUME_TLS_CLIENT_CA, tls.listeners.clientCA.secretName, TLS_CLIENT_CA_DIR);
  }
  const dashboardSecret = tlsSecretName(emqx, 'dashboard');
  if (dashboardSecret) add(VOLUME_TLS_DASHBOARD, dashboardSecret, TLS_DASHBOARD_DIR);
  return { volumes, mounts };
}

function objectAt(conf: HoconObject, path: readonly string[]): HoconObject {
  let cur = conf;
  for (const key of path) {
    const next = Object.prototype.hasOwnProperty.call(cur, key) ? cur[key] : undefined;
    if (isHoconObject(next)) {
      cur = next;
    } else {
      const created: HoconObject = {};
      Object.defineProperty(cur, key, {
        value: created,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      cur = created;
    }
  }
  return cur;
}

function setAll(target: HoconObject, values: Record<string, HoconValue>): void {
  for (const [k, v] of Object.entries(values)) target[k] = v;
}

/**
 * The config with the `ssl_options` file paths of spec.tls written in: certfile and keyfile of every enabled ssl
 * and wss listener (and cacertfile, verify and fail_if_no_peer_cert with a client CA), and of the dashboard's
 * https listener. What spec.tls sets wins over the same keys in spec.config.data. Returns `conf` itself when
 * spec.tls is absent.
 */
export function withTlsConfig(emqx: EMQX, conf: HoconObject): HoconObject {
  const tls = emqx.spec.tls;
  if (!tls?.listeners && !tls?.dashboard) return conf;
  const out = cloneHocon(conf);
  if (tls.listeners) {
    const own = new Map(
      (tls.listeners.perListener ?? []).map((p) => [p.listener, listenerCertDir(p.listener)]),
    );
    const fallback = tlsSecretName(emqx, 'listeners') ? TLS_LISTENERS_DIR : undefined;
    for (const l of tlsListeners(conf)) {
      const dir = own.get(`${l.type}:${l.name}`) ?? fallback;
      const ssl: Record<string, HoconValue> = {};
      if (dir) {
        ssl.certfile = `${dir}/${TLS_CERT_KEY}`;
        ssl.keyfile = `${dir}/${TLS_KEY_KEY}`;
      }
      if (tls.listeners.clientCA) {
        ssl.cacertfile = `${TLS_CLIENT_CA_DIR}/${CA_CERT_KEY}`;
        ssl.verify = 'verify_peer';
        ssl.fail_if_no_peer_cert = tls.listeners.clientCA.required ?? true;
      }
      if (Object.keys(ssl).length > 0)
        setAll(objectAt(out, ['listeners', l.type, l.name, 'ssl_options']), ssl);
    }
  }
  if (tls.dashboard && dashboardPorts(conf).https !== undefined) {
    setAll(objectAt(out, ['dashboard', 'listeners', 'https', 'ssl_options']), {
      certfile: `${TLS_DASHBOARD_DIR}/${TLS_CERT_KEY}`,
      keyfile: `${TLS_DASHBOARD_DIR}/${TLS_KEY_KEY}`,
    });
  }
  return out;
}

/** What is wrong between spec.tls and the config (`field: reason`), or undefined. */
export function tlsConfigProblem(emqx: EMQX, conf: HoconObject): string | undefined {
  const tls = emqx.spec.tls;
  if (tls?.listeners && tlsListeners(conf).length === 0) {
    return 'spec.tls.listeners: spec.config.data enables no ssl or wss listener to use the certificate';
  }
  if (tls?.listeners?.perListener) {
    const enabled = new Set(tlsListeners(conf).map((l) => `${l.type}:${l.name}`));
    const i = tls.listeners.perListener.findIndex((p) => !enabled.has(p.listener));
    if (i >= 0) {
      const name = tls.listeners.perListener[i]!.listener;
      return `spec.tls.listeners.perListener[${i}].listener: spec.config.data has no enabled listener "${name}" (enabled: ${[...enabled].join(', ')})`;
    }
  }
  if (tls?.dashboard && dashboardPorts(conf).https === undefined) {
    return 'spec.tls.dashboard: spec.config.data has no dashboard.listeners.https with a bind port';
  }
  return undefined;
}

/** One Secret spec.tls names. */
export interface TlsSecretRef {
  /** `listeners` (the default), `dashboard`, `clientCA`, or a listener (`ssl:internal`) with its own Secret. */
  name: string;
  /** The field that names it (in messages). */
  field: string;
  secretName: string;
  /** The keys it must hold. */
  keys: string[];
  /** Written by cert-manager for the Certificate the operator made (spec.tls.<which>.issuerRef). */
  issued?: boolean;
}

/** The Secrets spec.tls names, with the field that names each and the keys it must hold. */
export function tlsSecretRefs(emqx: EMQX): TlsSecretRef[] {
  const tls = emqx.spec.tls;
  const out: TlsSecretRef[] = [];
  const cert = (which: 'listeners' | 'dashboard') => {
    const secretName = tlsSecretName(emqx, which);
    if (!secretName) return;
    const issued = tls?.[which]?.issuerRef !== undefined;
    out.push({
      name: which,
      field: issued ? `spec.tls.${which}.issuerRef` : `spec.tls.${which}.secretName`,
      secretName,
      keys: [TLS_CERT_KEY, TLS_KEY_KEY],
      ...(issued && { issued }),
    });
  };
  if (tls?.listeners) {
    cert('listeners');
    (tls.listeners.perListener ?? []).forEach((p, i) =>
      out.push({
        name: p.listener,
        field: `spec.tls.listeners.perListener[${i}].secretName`,
        secretName: p.secretName,
        keys: [TLS_CERT_KEY, TLS_KEY_KEY],
      }),
    );
    if (tls.listeners.clientCA) {
      out.push({
        name: 'clientCA',
        field: 'spec.tls.listeners.clientCA.secretName',
        secretName: tls.listeners.clientCA.secretName,
        keys: [CA_CERT_KEY],
      });
    }
  }
  cert('dashboard');
  return out;
}

/** The public facts of a certificate (never the key). */
export interface CertificateFacts {
  serial: string;
  notAfter: string;
  subject: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, leaf first. Throws on a bundle that holds none or a malformed one. */
export function parsePemChain(pem: string): X509Certificate[] {
  if (pem.length > MAX_CERT_BYTES) throw new Error(`larger than ${MAX_CERT_BYTES} bytes`);
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error('holds no PEM certificate');
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new Error(`certificate ${i + 1} is malformed (${(err as Error).message})`, { cause: err });
    }
  });
}

function decode(secret: V1Secret, key: string): string | undefined {
  const v = secret.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/**
 * Checks a TLS Secret: the keys present, the certificate chain parses, the private key parses and matches the
 * leaf. Returns the leaf's public facts or a reason naming the Secret and the key (never the key's content).
 */
export function checkTlsSecret(
  ref: { field: string; secretName: string; keys: string[] },
  secret: V1Secret | undefined,
): { ok: true; facts?: CertificateFacts } | { ok: false; error: string } {
  const where = `${ref.field}: Secret "${ref.secretName}"`;
  if (!secret) return { ok: false, error: `${where} not found` };
  const missing = ref.keys.filter((k) => !secret.data?.[k]);
  if (missing.length > 0) return { ok: false, error: `${where} has no ${missing.join(', ')}` };
  const pemKey = ref.keys.includes(TLS_CERT_KEY) ? TLS_CERT_KEY : CA_CERT_KEY;
  let chain: X509Certificate[];
  try {
    chain = parsePemChain(decode(secret, pemKey)!);
  } catch (err) {
    return { ok: false, error: `${where}: ${pemKey} ${(err as Error).message}` };
  }
  if (!ref.keys.includes(TLS_KEY_KEY)) return { ok: true };
  const leaf = chain[0];
  try {
    const key = createPrivateKey({ key: decode(secret, TLS_KEY_KEY)!, format: 'pem' });
    if (!leaf.checkPrivateKey(key)) {
      return {
        ok: false,
        error: `${where}: ${TLS_KEY_KEY} does not match the certificate in ${TLS_CERT_KEY}`,
      };
    }
  } catch {
    // The parser's message may quote the input: say only that it failed.
    return { ok: false, error: `${where}: ${TLS_KEY_KEY} is not a PEM private key` };
  }
  return {
    ok: true,
    facts: {
      serial: leaf.serialNumber.toLowerCase(),
      notAfter: new Date(leaf.validTo).toISOString(),
      subject: leaf.subject,
    },
  };
}
