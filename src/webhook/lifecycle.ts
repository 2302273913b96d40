// The conversion webhook certificate over time: when to issue a new one, which CAs the API server must trust while
// replicas switch, and when a replica may start serving a certificate it finds in the Secret. Pure.
//
// Renewal makes a new CA and a new leaf (the old CA's key was never kept). So that no conversion fails while the
// replicas switch one by one, the Secret's ca.crt holds the new CA followed by the previous one (while it is still
// valid); the CRD's caBundle carries both, and a replica starts serving a new leaf only once the caBundle the API
// server uses trusts its CA.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

/** What the Secret holds (PEM). */
export interface WebhookCertMaterial {
  cert: string;
  key: string;
  caCert: string;
}

export type CertVerdict =
  | { renew: false; notAfter: Date }
  | { renew: true; reason: 'missing' | 'unreadable' | 'expiring' | 'hosts'; detail: string };

/**
 * Whether the webhook needs a new certificate: none yet, unreadable, expiring within `renewBeforeMs`, or not valid
 * for one of `hosts` (the webhook Service was renamed or moved to another namespace).
 */
export function webhookCertVerdict(
  material: WebhookCertMaterial | undefined,
  hosts: readonly string[],
  now: Date,
  renewBeforeMs: number,
): CertVerdict {
  if (!material?.cert || !material.key)
    return { renew: true, reason: 'missing', detail: 'no certificate yet' };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(material.cert);
  } catch (err) {
    return { renew: true, reason: 'unreadable', detail: (err as Error).message };
  }
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() - now.getTime() <= renewBeforeMs) {
    return { renew: true, reason: 'expiring', detail: `valid until ${notAfter.toISOString()}` };
  }
  const uncovered = hosts.filter((h) => (isIP(h) ? !leaf.checkIP(h) : !leaf.checkHost(h)));
  if (uncovered.length > 0) {
    return { renew: true, reason: 'hosts', detail: `not valid for ${uncovered.join(', ')}` };
  }
  return { renew: false, notAfter };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle (unparseable blocks are left out). */
export function pemCertificates(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const block of pem.match(PEM_CERT) ?? []) {
    try {
      out.push(new X509Certificate(block));
    } catch {
      // not a certificate the API server could use either
    }
  }
  return out;
}

/** ca.crt after a renewal: the new CA, then the previous bundle's CAs that are still valid (at most 2 in all). */
export function renewedCaBundle(newCa: string, previous: string | undefined, now: Date): string {
  const fresh = new X509Certificate(newCa);
  const kept = pemCertificates(previous ?? '')
    .filter((c) => c.fingerprint256 !== fresh.fingerprint256 && new Date(c.validTo) > now)
    .slice(0, 1);
  return [fresh, ...kept].map((c) => c.toString().trim()).join('\n') + '\n';
}

/** True when `bundle` (PEM) holds a CA that issued `cert`: the API server, trusting the bundle, accepts it. */
export function bundleTrusts(bundle: string, cert: string): boolean {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    return false;
  }
  return pemCertificates(bundle).some(
    (ca) => ca.fingerprint256 === leaf.fingerprint256 || (leaf.checkIssued(ca) && leaf.verify(ca.publicKey)),
  );
}

/**
 * How often a replica looks at the Secret again: a tenth of the validity, at most an hour, at least a second. A
 * renewal reaches every replica within three checks (renewed; the leader registers the CA bundle; the replicas
 * serve it once the API server trusts it), well inside the half left at renewal.
 */
export function checkIntervalMs(validityMs: number): number {
  return Math.max(1000, Math.min(3_600_000, Math.floor(validityMs / 10)));
}

/** Renew once half of the validity is left. */
export function renewBeforeMs(validityMs: number): number {
  return Math.floor(validityMs / 2);
}
