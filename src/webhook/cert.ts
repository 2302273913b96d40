// Certificates for the conversion webhook: a private CA and a serving certificate it signs, built with
// @peculiar/x509 (https://github.com/PeculiarVentures/x509) on Node's WebCrypto (keys and signatures come from
// OpenSSL; the library only writes the ASN.1). The API server trusts the CA (the CRD's caBundle); the webhook
// serves the leaf. The CA's private key is used once and dropped: a renewal makes a new CA and a new leaf.
//
// The library (and the Reflect polyfill it needs) is loaded on first use only. The operator does not load it at
// all: it calls `createInChildProcess`, which runs `createWebhookCertificates` in a short-lived `node` process
// (./cert-child.ts), so the library, WebCrypto and the ~20 MiB they keep never enter the long-running process
// (see docs/engineering.md, "Libraries").
import { execFile } from 'node:child_process';
import { KeyObject, X509Certificate, randomBytes } from 'node:crypto';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';

export interface WebhookCertificates {
  /** PEM CA certificate: the caBundle clients verify the serving certificate with. */
  caCert: string;
  /** PEM serving certificate, signed by the CA. */
  cert: string;
  /** PEM PKCS#8 private key of the serving certificate. Keep it in memory or in a Secret; never log it. */
  key: string;
  notAfter: Date;
}

export interface CertificateOptions {
  /** Subject CN of the serving certificate; the CA is `<commonName> CA`. */
  commonName: string;
  /** DNS names and IP addresses (v4 or v6) the serving certificate is valid for. */
  hosts: string[];
  /** Validity in days from `now` (default 365). */
  days?: number;
  /** Validity in milliseconds from `now`; wins over `days` (short-lived certificates in tests). */
  validityMs?: number;
  now?: Date;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

let x509Module: Promise<typeof X509> | undefined;
function loadX509(): Promise<typeof X509> {
  x509Module ??= import('reflect-metadata').then(() => import('@peculiar/x509'));
  return x509Module;
}

/** A positive 128-bit serial in hex (RFC 5280: at most 20 octets, positive). */
function serial(): string {
  const b = randomBytes(16);
  b[0]! &= 0x7f;
  b[0]! |= 0x01; // no leading zero octet to strip
  return b.toString('hex');
}

/** Creates a CA and a serving certificate signed by it for the given DNS names and IP addresses. */
export async function createWebhookCertificates(opts: CertificateOptions): Promise<WebhookCertificates> {
  if (opts.hosts.length === 0) throw new Error('certificate: at least one host name or address is needed');
  const x509 = await loadX509();
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - 5 * 60_000); // tolerate clocks a little behind
  const notAfter = new Date(now.getTime() + (opts.validityMs ?? (opts.days ?? 365) * 86_400_000));
  const subtle = globalThis.crypto.subtle;

  const caKeys = await subtle.generateKey(EC, false, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [`${opts.commonName} CA`] }],
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const keys = await subtle.generateKey(EC, true, ['sign', 'verify']);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: [{ CN: [opts.commonName] }],
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        opts.hosts.map((h) => (isIP(h) ? { type: 'ip', value: h } : { type: 'dns', value: h })),
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const result: WebhookCertificates = {
    caCert: ca.toString('pem') + '\n',
    cert: leaf.toString('pem') + '\n',
    key: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    notAfter,
  };
  // Parse both back with node:crypto (OpenSSL): fails loudly if anything above is ever wrong.
  const parsedCa = new X509Certificate(result.caCert);
  const parsedLeaf = new X509Certificate(result.cert);
  if (!parsedCa.ca || !parsedLeaf.checkIssued(parsedCa) || !parsedLeaf.verify(parsedCa.publicKey))
    throw new Error('webhook certificate: the serving certificate does not verify against its CA');
  if (!parsedLeaf.checkPrivateKey(KeyObject.from(keys.privateKey)))
    throw new Error('webhook certificate: the private key does not match the serving certificate');
  return result;
}

/** How long the certificate process may take, and how much it may print, before it is given up. */
const CHILD_TIMEOUT_MS = 60_000;
const CHILD_MAX_OUTPUT = 64 * 1024;

/**
 * `createWebhookCertificates` in a separate, short-lived `node` process (the same binary, ./cert-child next to this
 * module, .ts in development and .js in the build): the long-running operator never loads the X.509 library. The
 * options go in on stdin and the certificates come back on stdout (a pipe: the key is never in an argument, a file
 * or a log). Rejects with the child's own error message (the last stderr line naming an error) if it fails, and
 * after 60 s.
 */
export function createInChildProcess(opts: CertificateOptions): Promise<WebhookCertificates> {
  const self = fileURLToPath(import.meta.url);
  const entry = fileURLToPath(new URL(`./cert-child${extname(self)}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--max-semi-space-size=2', '--max-old-space-size=64', entry],
      {
        timeout: CHILD_TIMEOUT_MS,
        maxBuffer: CHILD_MAX_OUTPUT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      },
      (err, stdout, stderr) => {
        if (err) {
          const why =
            stderr
              .trim()
              .split('\n')
              .findLast((l) => /error/i.test(l)) ?? err.message;
          reject(new Error(`webhook certificate: the certificate process failed: ${why.slice(0, 500)}`));
          return;
        }
        try {
          const made = JSON.parse(stdout) as Omit<WebhookCertificates, 'notAfter'> & { notAfter: string };
          resolve({ ...made, notAfter: new Date(made.notAfter) });
        } catch {
          reject(new Error(`webhook certificate: the certificate process printed no certificates`));
        }
      },
    );
    child.stdin!.end(JSON.stringify({ ...opts, now: opts.now?.toISOString() }));
  });
}
