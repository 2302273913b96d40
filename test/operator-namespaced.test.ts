// End to end (issue 11, finding 10): the namespace-scoped install. The operator runs unchanged with
// `--namespace NS`, as a user bound to exactly deploy/rbac-namespaced.yaml (NS substituted) and nothing
// cluster-wide but its own CRDs: a cluster in NS converges; a cluster in another namespace is not touched.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { example, getEmqx, waitConverged } from './support/emqx.ts';
import { startOperatorProcess, useOperatorSandbox } from './support/operator.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const sb = useOperatorSandbox({ startOperator: false });

describe('operator: namespace-scoped install', () => {
  it('converges a cluster in its namespace with namespaced RBAC only, and ignores other namespaces', async (t) => {
    const ns = await sb.newNamespace(t, 'managed');
    const other = await sb.newNamespace(t, 'other');
    // the sandbox bound the operator user to deploy/rbac.yaml; replace that with the namespaced manifests
    await sb.kubectl(['delete', 'clusterrolebinding', 'emqx-operator']);
    const docs = YAML.parseAllDocuments(
      readFileSync(path.join(ROOT, 'deploy/rbac-namespaced.yaml'), 'utf8'),
    ).map((d) => d.toJSON() as { kind: string; metadata: { namespace?: string }; subjects?: unknown[] });
    for (const d of docs) {
      if (d.metadata.namespace === 'emqx') d.metadata.namespace = ns;
      if (d.kind.endsWith('Binding'))
        d.subjects = [{ kind: 'User', name: sb.sandbox.operatorUser, apiGroup: 'rbac.authorization.k8s.io' }];
    }
    await sb.apply(docs.map((d) => YAML.stringify(d)).join('---\n'));
    // the operator's user can no longer read Secrets across the cluster (kubectl auth can-i exits 1 for "no")
    const canI = (args: string[]) => sb.kubectl(['auth', 'can-i', ...args, '--as', sb.sandbox.operatorUser]);
    await assert.rejects(canI(['list', 'secrets', '-A']));
    await assert.rejects(canI(['list', 'pods', '-n', other]));
    assert.match(await canI(['list', 'secrets', '-n', ns]), /yes/);

    const op = startOperatorProcess(sb.sandbox, { name: 'operator-namespaced', args: ['--namespace', ns] });
    t.after(() => op.stop());
    sb.operator = op;

    await sb.apply([example('minimal.yaml', other)]);
    await sb.apply([example('minimal.yaml', ns)]);
    await waitConverged(sb, ns, { cores: 2, replicants: 0 }, 180_000);
    const untouched = await getEmqx(sb, other);
    assert.equal(untouched?.status, undefined, 'the cluster outside the watched namespace has no status');
    const forbidden = op.logs().filter((l) => /forbidden/i.test(JSON.stringify(l)));
    assert.deepEqual(forbidden, [], 'no request was refused');
  });
});
