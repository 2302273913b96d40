// A minimal self-signed X.509 certificate for the conversion webhook, built with node:crypto alone (Node can sign
// and parse certificates but has no API to create one). The DER encoding below covers exactly what a TLS server
// certificate needs: version 3, serial, ECDSA-SHA256 signature, subject = issuer, validity, an EC P-256 key, and the
// basicConstraints / keyUsage / extKeyUsage / subjectAltName extensions.
import { createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n >>= 8;
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const ctx = (n: number, body: Buffer, constructed = true) => tlv((constructed ? 0xa0 : 0x80) | n, body);
const octets = (body: Buffer) => tlv(0x04, body);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));

function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk = [p & 0x7f];
    let v = p >> 7;
    while (v > 0) {
      chunk.unshift((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

export interface SelfSignedCertificate {
  /** PEM certificate (also the CA bundle: it is self-signed). */
  cert: string;
  /** PEM PKCS#8 private key. Keep it in memory or in a Secret; never log it. */
  key: string;
  notAfter: Date;
}

/** Creates a self-signed serving certificate for the given DNS names and IP addresses. */
export function createSelfSignedCertificate(opts: {
  commonName: string;
  hosts: string[];
  days?: number;
  now?: Date;
}): SelfSignedCertificate {
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = new Date(now.getTime() + (opts.days ?? 365) * 86_400_000);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });

  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), utf8(opts.commonName))));
  const sans = opts.hosts.map((h) => {
    const family = isIP(h);
    if (family === 4) return ctx(7, Buffer.from(h.split('.').map(Number)), false);
    if (family === 6) {
      const full = new URL(`http://[${h}]`).hostname.slice(1, -1);
      const groups = expandIPv6(full);
      return ctx(7, Buffer.from(groups.flatMap((g) => [g >> 8, g & 0xff])), false);
    }
    return ctx(2, Buffer.from(h, 'ascii'), false);
  });
  const extensions = ctx(
    3,
    seq(
      extension('2.5.29.19', true, seq()), // basicConstraints: not a CA
      extension('2.5.29.15', true, tlv(0x03, Buffer.from([0x05, 0xa0]))), // keyUsage: digitalSignature, keyEncipherment
      extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
      extension('2.5.29.17', false, seq(...sans)), // subjectAltName
    ),
  );
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const tbs = seq(
    ctx(0, integer(Buffer.from([2]))),
    integer(serial),
    ecdsaWithSha256,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    spki,
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey); // DER-encoded ECDSA signature
  const der = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const cert = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // Parse it back: fails loudly if the encoding above is ever wrong.
  const parsed = new X509Certificate(cert);
  if (!parsed.verify(createPublicKey(key))) throw new Error('self-signed certificate does not verify');
  return { cert, key, notAfter };
}

function expandIPv6(addr: string): number[] {
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const missing = 8 - h.length - t.length;
  return [...h, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...t].map((g) =>
    parseInt(g || '0', 16),
  );
}
