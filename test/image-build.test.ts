// End to end, the program the container image runs: `npm run build` (plain JavaScript, no type stripping) started by
// the image's entry point (bin/entrypoint.sh) in pods of the Helm chart's Deployment. The rest of the suite runs the
// operator from its TypeScript sources, where the entry point's V8 lite mode never applies (type stripping needs
// WebAssembly, which lite mode turns off); this file checks the build itself: it starts in lite mode with the heap
// cap, makes its webhook certificate in the child process (src/webhook/cert-child.js, found next to the built
// cert.js), serves conversions, and brings an EMQX cluster to Ready.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEmqxHandler } from '../sandbox/emqx/index.ts';
import { HELM_NAMESPACE as NS, installArgs, sandboxHelm, type Helm } from '../sandbox/operator-helm.ts';
import { example, waitReady } from './support/emqx.ts';
import { useSandbox } from './support/sandbox.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
// Inside the repository, so that the build finds the dependencies in node_modules as the image finds its own.
const BUILD = path.join(ROOT, '.sandbox', `image-build-${process.pid}`);
mkdirSync(path.dirname(BUILD), { recursive: true });
execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.ts'), '--out', BUILD], { stdio: 'pipe' });
// The sandbox's image handler runs this directory as the image's /app (sandbox/operator-build.ts).
process.env.EMQX_SANDBOX_OPERATOR_BUILD = BUILD;
after(() => rmSync(BUILD, { recursive: true, force: true }));

const sb = useSandbox({ handlers: [createEmqxHandler({ timeScale: 10 })] });
let helm: Helm;

before(async () => {
  await sb.started();
  helm = await sandboxHelm(sb.sandbox, (l) => process.stderr.write(l + '\n'));
});

/** The node processes running a bin/emqx-operator.js: command line and working directory (the image's /app). */
function operatorProcesses(): Array<{ cmd: string[]; cwd: string }> {
  const found: Array<{ cmd: string[]; cwd: string }> = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (path.basename(cmd[0] ?? '') === 'node' && cmd.some((a) => a.endsWith('bin/emqx-operator.js')))
        found.push({ cmd, cwd: readlinkSync(`/proc/${d}/cwd`) });
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

describe('the built operator, as the image runs it', () => {
  it('starts in lite mode under the heap cap, makes its webhook certificate in a child process, and runs a cluster', async (t) => {
    await helm(installArgs(['--set', 'replicaCount=1']));
    const pod = await sb.waitFor(
      'the operator pod Ready',
      async () => {
        const list = (await sb.api.get(
          `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent('app.kubernetes.io/name=emqx-operator')}`,
        )) as { items: any[] };
        return list.items.find((p) =>
          p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'),
        );
      },
      120_000,
      500,
    );
    const env = pod.spec.containers[0].env as Array<{ name: string; value?: string }>;
    assert.equal(env.find((e) => e.name === 'EMQX_OPERATOR_LITE_MODE')?.value, 'true');

    // The program is the build's, with the entry point's flags: lite mode and half the chart's 256Mi limit.
    // (A source tree would run src/cli/main.ts and never get --lite-mode.)
    const procs = operatorProcesses().filter((p) => p.cwd === BUILD);
    assert.equal(procs.length, 1, `one operator process in ${BUILD}: ${JSON.stringify(operatorProcesses())}`);
    const cmd = procs[0]!.cmd;
    t.diagnostic(cmd.join(' '));
    assert.ok(cmd.includes('--lite-mode'), cmd.join(' '));
    assert.ok(cmd.includes('--max-old-space-size=128'), cmd.join(' '));

    // The webhook certificate, made on this first start by src/webhook/cert-child.js.
    const secret = (await sb.api.get(`/api/v1/namespaces/${NS}/secrets/emqx-operator-webhook-cert`)) as any;
    const certPem = Buffer.from(secret.data['tls.crt'], 'base64').toString('utf8');
    assert.match(certPem, /BEGIN CERTIFICATE/);
    const { X509Certificate } = await import('node:crypto');
    assert.match(
      new X509Certificate(certPem).subjectAltName ?? '',
      /emqx-operator-webhook\.emqx-operator-system\.svc/,
    );

    // Conversions through the webhook Service, and a cluster brought to Ready by the built program.
    const ns = await sb.newNamespace(t);
    await sb.apply(example('minimal.yaml', ns));
    const alpha = await sb.waitFor(
      'the EMQX resource served as v2alpha1 (conversion by the built webhook)',
      async () => (await sb.api.get(`/apis/apps.emqx.io/v2alpha1/namespaces/${ns}/emqxes/emqx`)) as any,
      60_000,
      500,
    );
    assert.equal(alpha.apiVersion, 'apps.emqx.io/v2alpha1');
    const ready = await waitReady(sb, ns);
    assert.ok((ready.status?.coreNodes?.length ?? 0) > 0);
    await helm(['uninstall', 'emqx-operator', '--namespace', NS, '--wait']);
  });
});
