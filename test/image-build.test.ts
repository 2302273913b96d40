// End to end, the program the container image runs: `npm run build` (plain JavaScript, no type stripping) started by
// the image's entry point (bin/entrypoint.sh) in pods of the Helm chart's Deployment. The rest of the suite runs the
// operator from its TypeScript sources, where the entry point's V8 lite mode never applies (type stripping needs
// WebAssembly, which lite mode turns off); this file checks the build itself: it starts in lite mode with the heap
// cap, makes its webhook certificate in the child process (src/webhook/cert-child.js, found next to the built
// cert.js), serves conversions, and brings an EMQX cluster to Ready.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEmqxHandler } from '../sandbox/emqx/index.ts';
import { HELM_NAMESPACE as NS, installArgs, sandboxHelm, type Helm } from '../sandbox/operator-helm.ts';
import { waitReady } from './support/emqx.ts';
import {
  applyMinimalServedAsV2alpha1,
  isReady,
  operatorPods,
  operatorProcesses,
} from './support/helm-operator.ts';
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

describe('the built operator, as the image runs it', () => {
  it('starts in lite mode under the heap cap, makes its webhook certificate in a child process, and runs a cluster', async (t) => {
    await helm(installArgs(['--set', 'replicaCount=1']));
    const pod = await sb.waitFor(
      'the operator pod Ready',
      async () => (await operatorPods(sb)).find(isReady),
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
    const alpha = await applyMinimalServedAsV2alpha1(sb, ns, 'conversion by the built webhook');
    assert.equal(alpha.apiVersion, 'apps.emqx.io/v2alpha1');
    const ready = await waitReady(sb, ns);
    assert.ok((ready.status?.coreNodes?.length ?? 0) > 0);
    await helm(['uninstall', 'emqx-operator', '--namespace', NS, '--wait']);
  });
});
