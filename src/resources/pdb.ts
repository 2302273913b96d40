// PodDisruptionBudgets, one per role, spanning revisions (role labels only).
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { names, roleLabels } from '../api/names.ts';
import type { Role } from '../api/names.ts';
import type { EMQX } from '../api/types.ts';
import { childMeta, mergeLabels } from './metadata.ts';

/**
 * `<name>-core` / `<name>-replicant`: the template's minAvailable or maxUnavailable, else `maxUnavailable: 1`.
 * Undefined for `replicant` when the EMQX has no replicantTemplate.
 */
export function podDisruptionBudget(emqx: EMQX, role: Role): V1PodDisruptionBudget | undefined {
  const t = role === 'core' ? emqx.spec.coreTemplate : emqx.spec.replicantTemplate;
  if (role === 'replicant' && !t) return undefined;
  const spec = t?.spec;
  const budget =
    spec?.minAvailable !== undefined
      ? { minAvailable: spec.minAvailable }
      : { maxUnavailable: spec?.maxUnavailable ?? 1 };
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMeta(emqx, names.pdb(emqx, role), {
      labels: mergeLabels(t?.metadata?.labels, roleLabels(emqx, role)),
    }),
    spec: { ...budget, selector: { matchLabels: roleLabels(emqx, role) } },
  };
}
