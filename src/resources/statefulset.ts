// The core StatefulSet.
//
// InPlace (the default): one StatefulSet `<name>-core` for the life of the cluster. Pod names (and so EMQX node
// names and PVCs) never change; the StatefulSet uses `updateStrategy: OnDelete`, and the controller replaces
// outdated pods (pod-template-hash label != the current hash) one at a time.
// BlueGreen: one StatefulSet per revision, `<name>-core-<hash>`, whose selector includes the hash.
import type { V1PersistentVolumeClaimTemplate, V1StatefulSet } from '@kubernetes/client-node';
import { LABEL_POD_TEMPLATE_HASH, names, roleLabels } from '../api/names.ts';
import type { EMQX } from '../api/types.ts';
import type { HoconObject } from '../hocon/index.ts';
import { childMeta, mergeLabels } from './metadata.ts';
import { coreUsesPvc, podTemplate, podTemplateWithHash } from './pod-template.ts';

/** True when cores are replaced blue-green (a new StatefulSet per revision) rather than in place. */
export function coreIsBlueGreen(emqx: EMQX): boolean {
  return emqx.spec.updateStrategy?.core?.type === 'BlueGreen';
}

/** The name of the core StatefulSet for a revision hash. */
export function coreStatefulSetName(
  emqx: EMQX,
  hash: string,
  blueGreen: boolean = coreIsBlueGreen(emqx),
): string {
  return blueGreen ? names.coreStatefulSet(emqx, hash) : names.coreStatefulSet(emqx);
}

/** The PVC template for core data: the (defaulted) spec, volumeMode forced to Filesystem. */
export function coreVolumeClaimTemplate(emqx: EMQX): V1PersistentVolumeClaimTemplate {
  const spec = structuredClone(emqx.spec.coreTemplate?.spec?.volumeClaimTemplates ?? {});
  return {
    metadata: { name: names.coreDataVolume(emqx), labels: roleLabels(emqx, 'core') },
    spec: { ...spec, volumeMode: 'Filesystem' },
  };
}

/**
 * The core StatefulSet for revision `hash` (hashPodTemplate of podTemplate(emqx, conf, 'core')). `blueGreen`
 * defaults to `spec.updateStrategy.core.type === 'BlueGreen'`.
 *
 * Immutable once created (the API server refuses changes): selector, serviceName, podManagementPolicy and
 * volumeClaimTemplates. A change of the PVC spec therefore needs the controller to recreate the InPlace
 * StatefulSet (delete with orphan propagation, then apply), which keeps pods and PVCs.
 */
export function coreStatefulSet(
  emqx: EMQX,
  conf: HoconObject,
  inputs: { hash: string; blueGreen?: boolean },
): V1StatefulSet {
  const blueGreen = inputs.blueGreen ?? coreIsBlueGreen(emqx);
  const t = emqx.spec.coreTemplate;
  const selector = blueGreen
    ? { ...roleLabels(emqx, 'core'), [LABEL_POD_TEMPLATE_HASH]: inputs.hash }
    : roleLabels(emqx, 'core');
  const retention = t?.spec?.persistentVolumeClaimRetentionPolicy;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: childMeta(emqx, coreStatefulSetName(emqx, inputs.hash, blueGreen), {
      labels: mergeLabels(t?.metadata?.labels, blueGreen ? selector : roleLabels(emqx, 'core')),
    }),
    spec: {
      replicas: t?.spec?.replicas ?? 2,
      serviceName: names.headlessService(emqx),
      podManagementPolicy: 'Parallel',
      updateStrategy: blueGreen ? { type: 'RollingUpdate' } : { type: 'OnDelete' },
      revisionHistoryLimit: emqx.spec.revisionHistoryLimit ?? 3,
      selector: { matchLabels: selector },
      template: podTemplateWithHash(podTemplate(emqx, conf, 'core'), inputs.hash),
      ...(coreUsesPvc(emqx)
        ? {
            volumeClaimTemplates: [coreVolumeClaimTemplate(emqx)],
            persistentVolumeClaimRetentionPolicy: {
              whenDeleted: retention?.whenDeleted ?? 'Retain',
              whenScaled: retention?.whenScaled ?? 'Retain',
            },
          }
        : {}),
    },
  };
}
