// TLS helpers shared by the e2e files: the Secret a certificate is stored in, MQTT.js clients over TLS that are
// all closed after the file, and certificate serial numbers (peer and PEM) in one spelling.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { after } from 'node:test';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { WebhookCertificates } from '../../src/webhook/cert.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The `data` of a `kubernetes.io/tls` Secret holding `c` (certificate, key and the CA that signed it). */
export function tlsSecretData(c: WebhookCertificates): Record<string, string> {
  return { 'tls.crt': b64(c.cert), 'tls.key': b64(c.key), 'ca.crt': b64(c.caCert) };
}

/** A `kubernetes.io/tls` Secret `name` holding `c`; `metadata` adds labels, annotations or a namespace. */
export function tlsSecret(name: string, c: WebhookCertificates, metadata: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, ...metadata },
    type: 'kubernetes.io/tls',
    data: tlsSecretData(c),
  };
}

/**
 * `connect(url, opts)` resolves once the MQTT client is connected (no reconnects, 5 s to connect) and rejects on
 * its first error; every client made is ended after the calling test file. Call at module level.
 */
export function mqttConnector(): (url: string, opts: IClientOptions) => Promise<MqttClient> {
  const clients: MqttClient[] = [];
  after(() => {
    for (const c of clients) c.end(true);
  });
  return async (url, opts) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    clients.push(c);
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', (e) => {
        c.end(true);
        reject(e);
      });
    });
    return c;
  };
}

/** The serial number of the certificate a connected TLS client was shown (lower-case hex). */
export const serialOf = (c: MqttClient): string =>
  (c as unknown as { stream: TLSSocket }).stream.getPeerCertificate().serialNumber.toLowerCase();

/** The serial number of a PEM certificate, spelled as `serialOf` spells it. */
export const serial = (pem: string): string => new X509Certificate(pem).serialNumber.toLowerCase();
