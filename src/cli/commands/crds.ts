// `emqx-operator crds`: prints the CustomResourceDefinitions as a multi-document YAML stream, or writes them to
// deploy/crds with --write.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CrdOptions } from '../../api/crds.ts';
import { crdFiles, DEFAULT_WEBHOOK_SERVICE } from '../../api/crds.ts';
import { parseFlags, runCommand, type Command } from '../args.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
export const DEFAULT_OUT_DIR = path.join(REPO_ROOT, 'deploy/crds');

const HELP = `Usage: emqx-operator crds [options]

Prints the apps.emqx.io CustomResourceDefinitions (EMQX, Rebalance) as YAML.

The EMQX CRD serves v2alpha1 through the operator's conversion webhook, by default the in-cluster Service
${DEFAULT_WEBHOOK_SERVICE.namespace}/${DEFAULT_WEBHOOK_SERVICE.name}:${DEFAULT_WEBHOOK_SERVICE.port}${DEFAULT_WEBHOOK_SERVICE.path}.

Options:
  --write                     write deploy/crds/<name>.yaml instead of printing
  --out-dir DIR               directory for --write (default: deploy/crds of this repository)
  --webhook-service NS/NAME   conversion webhook Service (default: ${DEFAULT_WEBHOOK_SERVICE.namespace}/${DEFAULT_WEBHOOK_SERVICE.name})
  --webhook-port PORT         conversion webhook Service port (default: ${DEFAULT_WEBHOOK_SERVICE.port})
  --webhook-path PATH         conversion webhook path (default: ${DEFAULT_WEBHOOK_SERVICE.path})
  --webhook-url URL           conversion webhook URL (https://...) instead of a Service
  --ca-bundle-file FILE       PEM CA bundle that signs the webhook's certificate
  --no-conversion             no webhook: v2alpha1 is listed but not served
  -h, --help                  this help

Large CRDs exceed kubectl's client-side apply annotation limit: apply with \`kubectl apply --server-side\`.`;

/** Parses the command line into CRD options; throws with a message on bad input. */
export function parseCrdArgs(args: string[]): {
  options: CrdOptions;
  write: boolean;
  outDir: string;
  help: boolean;
} {
  const { values } = parseFlags(args, {
    write: { type: 'boolean', default: false },
    'out-dir': { type: 'string' },
    'webhook-service': { type: 'string' },
    'webhook-port': { type: 'string' },
    'webhook-path': { type: 'string' },
    'webhook-url': { type: 'string' },
    'ca-bundle-file': { type: 'string' },
    'no-conversion': { type: 'boolean', default: false },
  });
  const write = values.write === true;
  const outDir = values['out-dir'] ? path.resolve(values['out-dir']) : DEFAULT_OUT_DIR;
  const help = values.help === true;
  const webhookFlags = [
    'webhook-service',
    'webhook-port',
    'webhook-path',
    'webhook-url',
    'ca-bundle-file',
  ] as const;
  if (values['no-conversion']) {
    const clash = webhookFlags.find((f) => values[f] !== undefined);
    if (clash) throw new Error(`--no-conversion cannot be combined with --${clash}`);
    return { options: {}, write, outDir, help };
  }
  const url = values['webhook-url'];
  if (url !== undefined) {
    const clash = (['webhook-service', 'webhook-port', 'webhook-path'] as const).find(
      (f) => values[f] !== undefined,
    );
    if (clash) throw new Error(`--webhook-url cannot be combined with --${clash}`);
    if (!url.startsWith('https://')) throw new Error(`--webhook-url must start with https://, not ${url}`);
  }
  const service = { ...DEFAULT_WEBHOOK_SERVICE };
  if (values['webhook-service'] !== undefined) {
    const m = /^([a-z0-9-]+)\/([a-z0-9-]+)$/.exec(values['webhook-service']);
    if (!m) throw new Error(`--webhook-service must be NAMESPACE/NAME, not ${values['webhook-service']}`);
    service.namespace = m[1];
    service.name = m[2];
  }
  if (values['webhook-port'] !== undefined) {
    const port = Number(values['webhook-port']);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`--webhook-port must be a port number, not ${values['webhook-port']}`);
    }
    service.port = port;
  }
  if (values['webhook-path'] !== undefined) {
    if (!values['webhook-path'].startsWith('/')) throw new Error('--webhook-path must start with /');
    service.path = values['webhook-path'];
  }
  let caBundle: string | undefined;
  if (values['ca-bundle-file'] !== undefined) {
    const pem = readFileSync(values['ca-bundle-file'], 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error(`--ca-bundle-file ${values['ca-bundle-file']}: no PEM certificate in the file`);
    }
    caBundle = Buffer.from(pem).toString('base64');
  }
  const webhook = url !== undefined ? { url, caBundle } : { service, caBundle };
  if (caBundle === undefined) delete webhook.caBundle;
  return { options: { webhook }, write, outDir, help };
}

export const command: Command = {
  run: (args) =>
    runCommand(
      'emqx-operator crds',
      HELP,
      () => parseCrdArgs(args),
      async (parsed) => {
        const files = crdFiles(parsed.options);
        if (parsed.write) {
          mkdirSync(parsed.outDir, { recursive: true });
          for (const [name, content] of Object.entries(files)) {
            const target = path.join(parsed.outDir, name);
            writeFileSync(target, content);
            process.stdout.write(`wrote ${path.relative(process.cwd(), target) || target}\n`);
          }
        } else {
          process.stdout.write(Object.values(files).join('---\n'));
        }
        return 0;
      },
    ),
};
