// Metadata every child object shares: name, namespace, labels and the controller ownerReference to its EMQX.
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { instanceLabels } from '../api/names.ts';
import { EMQX_API_VERSION } from '../api/types.ts';
import type { EMQX } from '../api/types.ts';

export { ANNOTATION_RESTART_CONFIG_HASH } from '../api/names.ts';

/** The namespace children are created in; an EMQX read from a file without one lands in `default`. */
export function namespaceOf(emqx: EMQX): string {
  return emqx.metadata.namespace ?? 'default';
}

/** The cluster DNS domain (already defaulted by applyDefaults; `cluster.local` if it was not). */
export function clusterDomainOf(emqx: EMQX): string {
  return emqx.spec.clusterDomain ?? 'cluster.local';
}

/** A controller ownerReference to the EMQX, or nothing while its uid is unknown (e.g. in `render`). */
export function ownerReferences(emqx: EMQX): V1OwnerReference[] | undefined {
  const uid = emqx.metadata.uid;
  const name = emqx.metadata.name;
  if (!uid || !name) return undefined;
  return [
    {
      apiVersion: EMQX_API_VERSION,
      kind: 'EMQX',
      name,
      uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}

/** User labels under the operator's: the instance/managed-by/role labels can never be overridden. */
export function mergeLabels(
  user: Record<string, string> | undefined,
  operator: Record<string, string>,
): Record<string, string> {
  return { ...user, ...operator };
}

export interface ChildMetaOptions {
  /** Labels to add on top of instanceLabels (role labels, template labels merged by the caller). */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * Metadata of a child object: name, namespace, instanceLabels (plus `labels`, which may not override them),
 * annotations when there are any, and the ownerReference when the EMQX's uid is known.
 */
export function childMeta(emqx: EMQX, name: string, opts: ChildMetaOptions = {}): V1ObjectMeta {
  const meta: V1ObjectMeta = {
    name,
    namespace: namespaceOf(emqx),
    labels: mergeLabels(opts.labels, instanceLabels(emqx)),
  };
  if (opts.annotations && Object.keys(opts.annotations).length > 0)
    meta.annotations = { ...opts.annotations };
  const owners = ownerReferences(emqx);
  if (owners) meta.ownerReferences = owners;
  return meta;
}
