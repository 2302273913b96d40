// The conversion webhook: serves `POST /convert` (ConversionReview v1) over HTTPS so the API server can store
// v2alpha1 EMQX resources as v2beta1 and serve them back in either version.
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
  close(): Promise<void>;
}

export async function startWebhookServer(opts: {
  host: string;
  port: number;
  cert: string;
  key: string;
  logger: Logger;
}): Promise<WebhookServer> {
  const server = https.createServer({ cert: opts.cert, key: opts.key }, (req, res) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/convert')) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const review = convertReview(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        conversions.inc({ result: review.response?.result?.status === 'Success' ? 'success' : 'failure' });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(review));
      } catch (err) {
        conversions.inc({ result: 'error' });
        opts.logger.warn('bad ConversionReview', { error: (err as Error).message });
        res.writeHead(400, { 'content-type': 'text/plain' }).end((err as Error).message);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
