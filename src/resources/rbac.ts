// RBAC for EMQX's k8s discovery strategy (`cluster.discovery_strategy = k8s`): the nodes read the Endpoints of
// the headless Service through the Kubernetes API. With the default DNS discovery nothing is created.
import type { V1Role, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import { names } from '../api/names.ts';
import type { EMQX } from '../api/types.ts';
import type { HoconObject } from '../hocon/index.ts';
import { discoveryStrategy } from '../emqx/config.ts';
import { childMeta, namespaceOf } from './metadata.ts';

export type DiscoveryRbacObject = V1ServiceAccount | V1Role | V1RoleBinding;

/**
 * ServiceAccount `<name>-discovery` (only when `spec.serviceAccountName` is unset: a user's own account is bound
 * but never created or owned), Role allowing get/list/watch on `endpoints` (what EMQX's k8s strategy reads:
 * `GET /api/v1/namespaces/<ns>/endpoints/<service>`), and the RoleBinding. Empty unless discovery is k8s.
 */
export function discoveryRbac(emqx: EMQX, conf: HoconObject): DiscoveryRbacObject[] {
  if (discoveryStrategy(conf) !== 'k8s') return [];
  const labels = emqx.metadata.labels;
  const out: DiscoveryRbacObject[] = [];
  const account = emqx.spec.serviceAccountName ?? names.serviceAccount(emqx);
  if (!emqx.spec.serviceAccountName) {
    const sa: V1ServiceAccount = {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: childMeta(emqx, account, { labels }),
    };
    out.push(sa);
  }
  const role: V1Role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: childMeta(emqx, names.role(emqx), { labels }),
    rules: [{ apiGroups: [''], resources: ['endpoints'], verbs: ['get', 'list', 'watch'] }],
  };
  const binding: V1RoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: childMeta(emqx, names.roleBinding(emqx), { labels }),
    subjects: [{ kind: 'ServiceAccount', name: account, namespace: namespaceOf(emqx) }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: names.role(emqx) },
  };
  out.push(role, binding);
  return out;
}
