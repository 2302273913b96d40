// End to end, issue 11: the malformed-resource corpus (test/support/corpus.ts) against the running operator while
// one healthy cluster in the same operator keeps converging. Admission entries are refused by the API server
// (the CRD's schema and CEL rules), naming the field; config entries are admitted, and each gets ConfigApplied=False
// (InvalidConfig) with exactly the message `render` gives, on that resource alone, with nothing built for it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { CORPUS, corpusResource } from './support/corpus.ts';
import { example, getEmqx, patchEmqx, waitConverged } from './support/emqx.ts';
import { KUBECTL } from './support/sandbox.ts';
import { useOperatorSandbox } from './support/operator.ts';

const sb = useOperatorSandbox();

function kubectl(args: string[], input: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBECTL, ['--kubeconfig', sb.sandbox.kubeconfigPath, ...args], { stdio: 'pipe' });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.end(input);
  });
}

describe('corpus: malformed resources beside a healthy cluster', () => {
  it('refuses each exactly as expected, and the healthy cluster converges and follows a change', async (t) => {
    const healthy = await sb.newNamespace(t, 'healthy');
    const bad = await sb.newNamespace(t, 'corpus');
    await sb.apply([example('minimal.yaml', healthy)]);

    // admission: the API server refuses, naming the field
    for (const entry of CORPUS.filter((e) => e.outcome === 'admission')) {
      const r = await kubectl(
        ['apply', '--server-side', '--dry-run=server', '--validate=strict', '-f', '-'],
        JSON.stringify(corpusResource(entry, bad)),
      );
      assert.notEqual(r.code, 0, `${entry.name} was admitted`);
      assert.ok(r.stderr.includes(entry.path!), `${entry.name}: ${entry.path} not named in: ${r.stderr}`);
    }

    // config: admitted, then refused on that resource alone
    const configEntries = CORPUS.filter((e) => e.outcome === 'config');
    await sb.apply(configEntries.map((e) => corpusResource(e, bad)));
    await waitConverged(sb, healthy, { cores: 2, replicants: 0 }, 180_000);

    const pending = new Set(configEntries.map((e) => e.name));
    await sb.waitFor(
      'ConfigApplied=False (InvalidConfig) with the expected message on every corpus resource',
      async () => {
        for (const entry of configEntries) {
          if (!pending.has(entry.name)) continue;
          const e = await getEmqx(sb, bad, entry.name);
          const c = e?.status?.conditions?.find((k) => k.type === 'ConfigApplied');
          if (!c || c.status !== 'False') continue;
          assert.equal(c.reason, 'InvalidConfig', entry.name);
          assert.equal(c.message, `spec.config.data: ${entry.message}`, entry.name);
          const ready = e!.status!.conditions!.find((k) => k.type === 'Ready');
          assert.equal(ready?.status, 'False', `${entry.name}: not Ready`);
          pending.delete(entry.name);
        }
        return pending.size === 0;
      },
      180_000,
    );
    // nothing was built from a refused config
    const sets = JSON.parse(await sb.kubectl(['get', 'statefulsets,configmaps', '-n', bad, '-o', 'json']));
    assert.deepEqual(
      sets.items
        .map((o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`)
        .filter((n: string) => !n.endsWith('kube-root-ca.crt')),
      [],
    );

    // the healthy cluster still follows its spec
    await patchEmqx(sb, healthy, { spec: { coreTemplate: { spec: { replicas: 3 } } } });
    await waitConverged(sb, healthy, { cores: 3, replicants: 0 }, 180_000);
  });
});
