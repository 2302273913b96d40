// The replicant ReplicaSet of one revision: `<name>-replicant-<hash>`, selector role labels + hash.
import type { V1ReplicaSet } from '@kubernetes/client-node';
import { LABEL_POD_TEMPLATE_HASH, names, roleLabels } from '../api/names.ts';
import type { EMQX } from '../api/types.ts';
import type { HoconObject } from '../hocon/index.ts';
import { childMeta, mergeLabels } from './metadata.ts';
import { podTemplate, podTemplateWithHash } from './pod-template.ts';

/**
 * The replicant ReplicaSet for revision `hash` (hashPodTemplate of podTemplate(emqx, conf, 'replicant')), or
 * undefined when the EMQX has no replicantTemplate.
 */
export function replicantReplicaSet(
  emqx: EMQX,
  conf: HoconObject,
  inputs: { hash: string },
): V1ReplicaSet | undefined {
  const t = emqx.spec.replicantTemplate;
  if (!t) return undefined;
  const selector = { ...roleLabels(emqx, 'replicant'), [LABEL_POD_TEMPLATE_HASH]: inputs.hash };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: childMeta(emqx, names.replicantReplicaSet(emqx, inputs.hash), {
      labels: mergeLabels(t.metadata?.labels, selector),
    }),
    spec: {
      replicas: t.spec?.replicas ?? 2,
      selector: { matchLabels: selector },
      template: podTemplateWithHash(podTemplate(emqx, conf, 'replicant'), inputs.hash),
    },
  };
}
