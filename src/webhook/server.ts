// The conversion webhook: serves `POST /convert` (ConversionReview v1) over HTTPS so the API server can store
// v2alpha1 EMQX resources as v2beta1 and serve them back in either version.
import type { ServerResponse } from 'node:http';
import https from 'node:https';
import { convertReview } from '../api/conversion.ts';
import type { Logger } from '../observability/logger.ts';
import { defaultRegistry } from '../observability/metrics.ts';

const conversions = defaultRegistry.counter({
  name: 'emqx_operator_conversions_total',
  help: 'ConversionReview requests served, by result.',
  labelNames: ['result'],
});

export interface WebhookServer {
  port: number;
  /** Serves another certificate to new connections from now on (a renewal); established ones are kept. */
  setCertificate(cert: string, key: string): void;
  close(): Promise<void>;
}

/**
 * Largest ConversionReview body accepted. A review carries the objects of one request (a list converts them all at
 * once); an EMQX object is at most ~1.5 MiB in etcd, most are a few KiB.
 */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Time a client has to send its headers, and its whole request. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

function reply(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' }).end(text);
}

export async function startWebhookServer(opts: {
  host: string;
  port: number;
  cert: string;
  key: string;
  logger: Logger;
  /** Default DEFAULT_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
}): Promise<WebhookServer> {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const server = https.createServer(
    {
      cert: opts.cert,
      key: opts.key,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    },
    (req, res) => {
      if (req.method !== 'POST' || !req.url?.startsWith('/convert')) {
        res.writeHead(404).end();
        return;
      }
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') {
        conversions.inc({ result: 'error' });
        reply(res, 415, 'a ConversionReview must be sent as application/json');
        req.destroy();
        return;
      }
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBody) {
        conversions.inc({ result: 'error' });
        reply(res, 413, `request body larger than ${maxBody} bytes`);
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      req.on('data', (c: Buffer) => {
        if (refused) return;
        size += c.length;
        if (size > maxBody) {
          // chunked or lying about its length: stop reading, answer, drop the connection
          refused = true;
          chunks.length = 0;
          conversions.inc({ result: 'error' });
          opts.logger.warn('ConversionReview body too large', { limit: maxBody });
          res.once('finish', () => req.destroy());
          reply(res, 413, `request body larger than ${maxBody} bytes`);
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (refused) return;
        try {
          const review = convertReview(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          conversions.inc({ result: review.response?.result?.status === 'Success' ? 'success' : 'failure' });
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(review));
        } catch (err) {
          conversions.inc({ result: 'error' });
          opts.logger.warn('bad ConversionReview', { error: (err as Error).message.slice(0, 200) });
          reply(res, 400, (err as Error).message.slice(0, 1024));
        }
      });
      req.on('error', () => {});
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    setCertificate: (cert, key) =>
      server.setSecureContext({
        cert,
        key,
      }),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
