// The entry point of the short-lived process that makes the webhook certificates (see `createInChildProcess` in
// ./cert.ts): reads the options as JSON on stdin, writes the certificates as JSON on stdout, exits. Not imported by
// the operator; started with `node <this file>`.
import { createWebhookCertificates, type CertificateOptions } from './cert.ts';

const MAX_INPUT = 64 * 1024;

let input = '';
for await (const chunk of process.stdin) {
  input += String(chunk);
  if (input.length > MAX_INPUT) throw new Error(`certificate options: more than ${MAX_INPUT} bytes on stdin`);
}
const opts = JSON.parse(input) as CertificateOptions & { now?: string };
const made = await createWebhookCertificates({
  ...opts,
  now: opts.now === undefined ? undefined : new Date(opts.now),
});
process.stdout.write(JSON.stringify({ ...made, notAfter: made.notAfter.toISOString() }));
