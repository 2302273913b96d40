// End to end (issue 14): namespace sharding. Two operator processes share one cluster, each started with its own
// `--namespace` list and its own leader Lease (`--leader-election-id`); only the first serves the conversion webhook.
// Each converges the clusters of its namespaces and never writes to the other's; neither takes the other's Lease;
// the CRD's conversion webhook stays the first one's (the second never patches the CRD); a v2alpha1 read, which
// goes through that webhook, works for the second shard's resources too.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { example, getEmqx, waitConverged } from './support/emqx.ts';
import {
  kubeWrites,
  OPERATOR_NAMESPACE,
  startOperatorProcess,
  useOperatorSandbox,
} from './support/operator.ts';

const sb = useOperatorSandbox({ startOperator: false });

interface LeaseLike {
  spec?: { holderIdentity?: string };
}

describe('operator: namespace sharding (two operators, one cluster)', () => {
  it('each shard reconciles only its namespaces, holds its own Lease and leaves the CRD to the webhook shard', async (t) => {
    const a1 = await sb.newNamespace(t, 'shard-a1');
    const a2 = await sb.newNamespace(t, 'shard-a2');
    const b1 = await sb.newNamespace(t, 'shard-b1');
    const none = await sb.newNamespace(t, 'unsharded');

    // deploy/rbac.yaml grants the Lease by name (emqx-operator-leader): a shard's own Lease name is granted the same
    // way (docs/sharding.md)
    await sb.apply([
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'emqx-operator-shards', namespace: OPERATOR_NAMESPACE },
        rules: [
          {
            apiGroups: ['coordination.k8s.io'],
            resources: ['leases'],
            resourceNames: ['emqx-operator-shard-a', 'emqx-operator-shard-b'],
            verbs: ['get', 'update'],
          },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'emqx-operator-shards', namespace: OPERATOR_NAMESPACE },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'emqx-operator-shards' },
        subjects: [{ kind: 'User', name: sb.sandbox.operatorUser, apiGroup: 'rbac.authorization.k8s.io' }],
      },
    ]);
    const shardA = startOperatorProcess(sb.sandbox, {
      name: 'operator-shard-a',
      args: ['--namespace', `${a1},${a2}`, '--leader-election-id', 'emqx-operator-shard-a'],
    });
    t.after(() => shardA.stop());
    const shardB = startOperatorProcess(sb.sandbox, {
      name: 'operator-shard-b',
      args: ['--namespace', b1, '--leader-election-id', 'emqx-operator-shard-b'],
      webhook: false,
    });
    t.after(() => shardB.stop());
    sb.operator = shardA;

    for (const ns of [a1, a2, b1, none]) await sb.apply([example('minimal.yaml', ns)]);
    await Promise.all([a1, a2, b1].map((ns) => waitConverged(sb, ns, { cores: 2, replicants: 0 }, 240_000)));

    // every object of a cluster was written by the shard that owns its namespace (the operator logs each apply)
    const applied = (op: typeof shardA) =>
      new Set(
        op
          .logs()
          .filter((l) => l.msg === 'applying' && typeof l.emqx === 'string')
          .map((l) => (l.emqx as string).split('/')[0]),
      );
    assert.deepEqual(
      [...applied(shardA)].sort(),
      [a1, a2].sort(),
      'shard A applied objects in its namespaces only',
    );
    assert.deepEqual([...applied(shardB)], [b1], 'shard B applied objects in its namespace only');
    assert.equal((await getEmqx(sb, none))?.status, undefined, 'a namespace no shard watches is left alone');

    // two Leases, each held by its own shard
    const lease = async (name: string) =>
      (await sb.api.get(
        `/apis/coordination.k8s.io/v1/namespaces/${OPERATOR_NAMESPACE}/leases/${name}`,
      )) as LeaseLike;
    assert.equal((await lease('emqx-operator-shard-a')).spec?.holderIdentity, 'operator-shard-a');
    assert.equal((await lease('emqx-operator-shard-b')).spec?.holderIdentity, 'operator-shard-b');

    // the cluster-scoped CRD: shard B never wrote it; its conversion webhook is shard A's, and serves shard B's
    // namespace too (a v2alpha1 read is converted by it)
    const writesB = await kubeWrites(shardB);
    const crdWrites = Object.entries(writesB).filter(([k]) => /CustomResourceDefinition/.test(k));
    assert.deepEqual(crdWrites, [], 'shard B wrote nothing cluster-scoped');
    const webhookPort = shardA.logs().find((l) => l.msg === 'operator running')?.webhookPort;
    const crd = (await sb.api.get(
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/emqxes.apps.emqx.io',
    )) as { spec: { conversion?: { webhook?: { clientConfig?: { url?: string } } } } };
    assert.equal(crd.spec.conversion?.webhook?.clientConfig?.url, `https://127.0.0.1:${webhookPort}/convert`);
    const old = (await sb.api.get(`/apis/apps.emqx.io/v2alpha1/namespaces/${b1}/emqxes/emqx`)) as {
      apiVersion: string;
    };
    assert.equal(old.apiVersion, 'apps.emqx.io/v2alpha1');

    const forbidden = [...shardA.logs(), ...shardB.logs()].filter((l) =>
      /forbidden|conflict/i.test(JSON.stringify(l)),
    );
    assert.deepEqual(forbidden, [], 'no request was refused and no write conflicted');
  });
});
