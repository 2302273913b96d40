// deploy/rbac.yaml and deploy/rbac-namespaced.yaml grant exactly what the code calls (the e2e tests run the
// operator bound to them, which proves they are enough; this file pins that they are no more).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '..');

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
}

const load = (file: string): Doc[] =>
  YAML.parseAllDocuments(readFileSync(path.join(ROOT, 'deploy', file), 'utf8')).map((d) => d.toJSON() as Doc);

/** `group/resource: verbs` lines, one per resource. */
function grants(rules: Rule[]): string[] {
  return rules
    .flatMap((r) =>
      r.apiGroups.flatMap((g) =>
        r.resources.map(
          (res) =>
            `${g || 'core'}/${res}${r.resourceNames ? `[${r.resourceNames.join(',')}]` : ''}: ${r.verbs.join(',')}`,
        ),
      ),
    )
    .sort();
}

describe('RBAC manifests', () => {
  const cluster = load('rbac.yaml');
  const clusterRole = cluster.find((d) => d.kind === 'ClusterRole')!;

  it('grant no wildcard, no update except finalizers, the Lease and the webhook certificate Secret (by name)', () => {
    for (const doc of [...cluster, ...load('rbac-namespaced.yaml')]) {
      for (const r of doc.rules ?? []) {
        const where = `${doc.kind} ${doc.metadata.name}: ${r.resources.join(',')}`;
        assert.ok(!r.verbs.includes('*') && !r.resources.includes('*') && !r.apiGroups.includes('*'), where);
        if (r.verbs.includes('update'))
          assert.ok(
            r.resources.every(
              (x) =>
                x.endsWith('/finalizers') ||
                x === 'leases' ||
                (x === 'secrets' && r.resourceNames?.join() === 'emqx-operator-webhook-cert'),
            ),
            where,
          );
        // PVCs: deleted only when a takeover retires a Go operator's StatefulSet and the spec says whenScaled: Delete;
        // Secrets: only the licence Secret of a resource whose config no longer sets a licence key (prune.ts)
      }
    }
  });

  it('the ClusterRole holds exactly the verbs the code calls', () => {
    assert.deepEqual(grants(clusterRole.rules!), [
      'apiextensions.k8s.io/customresourcedefinitions[emqxes.apps.emqx.io,rebalances.apps.emqx.io]: get,patch',
      'apps.emqx.io/emqxes/finalizers: update',
      'apps.emqx.io/emqxes/status: patch',
      'apps.emqx.io/emqxes: list,watch',
      'apps.emqx.io/rebalances/finalizers: update',
      'apps.emqx.io/rebalances/status: patch',
      'apps.emqx.io/rebalances: list,watch,patch',
      'apps/replicasets/scale: patch',
      'apps/replicasets: list,watch,create,patch,delete',
      'apps/statefulsets/scale: patch',
      'apps/statefulsets: list,watch,create,patch,delete',
      'cert-manager.io/certificates: get,create,patch,delete',
      'coordination.k8s.io/leases: list',
      'core/configmaps: list,watch,create,patch',
      'core/endpoints: get,list,watch',
      'core/events: create,patch',
      'core/persistentvolumeclaims: list,watch,delete',
      'core/pods/status: patch',
      'core/pods: list,watch,patch,delete',
      'core/secrets: get,list,watch,create,patch,delete',
      'core/serviceaccounts: list,watch,create,patch,delete',
      'core/services: list,watch,create,patch,delete',
      'events.k8s.io/events: create,patch',
      'policy/poddisruptionbudgets: list,watch,create,patch,delete',
      'rbac.authorization.k8s.io/rolebindings: list,watch,create,patch,delete',
      'rbac.authorization.k8s.io/roles: list,watch,create,patch,delete',
    ]);
  });

  it('Lease and webhook certificate rights live in a Role of the operator namespace, by name', () => {
    const role = cluster.find((d) => d.kind === 'Role')!;
    assert.equal(role.metadata.namespace, 'emqx-operator-system');
    assert.deepEqual(grants(role.rules!), [
      'coordination.k8s.io/leases: create',
      'coordination.k8s.io/leases[emqx-operator-leader]: get,update',
      'core/secrets: create',
      'core/secrets[emqx-operator-webhook-cert]: get,update',
    ]);
  });

  it('the namespaced install: the same rules in a Role, only the CRD rule and the Lease list cluster-wide', () => {
    const docs = load('rbac-namespaced.yaml');
    const crds = docs.find((d) => d.kind === 'ClusterRole')!;
    assert.deepEqual(grants(crds.rules!), [
      'apiextensions.k8s.io/customresourcedefinitions[emqxes.apps.emqx.io,rebalances.apps.emqx.io]: get,patch',
      'coordination.k8s.io/leases: list',
    ]);
    const managed = docs.find((d) => d.kind === 'Role' && d.metadata.namespace === 'emqx')!;
    assert.deepEqual(
      grants(managed.rules!),
      grants(clusterRole.rules!).filter(
        (g) => !g.startsWith('apiextensions') && g !== 'coordination.k8s.io/leases: list',
      ),
    );
    const own = docs.find((d) => d.kind === 'Role' && d.metadata.namespace === 'emqx-operator-system')!;
    assert.deepEqual(own.rules, cluster.find((d) => d.kind === 'Role')!.rules);
  });
});
