// Objects the spec no longer asks for: the dashboard or listeners Service once disabled, the discovery RBAC once
// discovery is not k8s (or the user names their own ServiceAccount), the licence Secret once the config sets no
// licence key, the replicant PDB once there are no replicants. Pure: the plan lists them, act deletes them.
//
// Only what this operator made for this resource is ever deleted: one of the optional names the builders produce,
// owned (controller ownerReference) by this EMQX's uid, and written by this operator's field manager with
// server-side apply. Never a PVC, a workload or a pod (the rollout rules own those), never the listeners Service
// while its ports are only unknown (EMQX could not be asked), and never an object a pod still started with may need
// (the licence Secret its env reads, the ServiceAccount and the RBAC it runs with) while pods of an old revision run.
//
// cert-manager Certificates the operator made from spec.tls.<which>.issuerRef (`<name>-<which>-tls`) go the same way
// once that issuerRef is removed, with the Secret cert-manager issued from them (same name; cert-manager's own,
// recognised by its `cert-manager.io/certificate-name` annotation): only once no pod mounts that Secret and no pod
// of an old revision runs, and never while spec.tls names that Secret itself (the user keeps the issued Secret).
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { FIELD_MANAGER, names } from '../api/names.ts';
import type { EMQX } from '../api/types.ts';
import type { KubeObject } from '../k8s/rest.ts';
import { CERT_MANAGER_API_VERSION, CERT_MANAGER_CERTIFICATE_NAME } from '../resources/certificate.ts';
import type { BuiltObject } from '../resources/index.ts';
import { licenseSecretName } from '../resources/secrets.ts';
import { tlsSecretRefs } from '../resources/tls.ts';
import { OWNED_KINDS, type OwnedKind } from './cache.ts';
import type { Snapshot } from './snapshot.ts';

export interface Deletion {
  kind: OwnedKind | 'Certificate';
  apiVersion: string;
  name: string;
  /** Precondition of the DELETE: the object seen in the snapshot, not a newer one of the same name. */
  uid: string;
  /** Why, in a few words (the Event says it). */
  reason: string;
}

interface Candidate {
  kind: OwnedKind;
  name: string;
  reason: string;
  /** Pods may read it (env, volume, service account): kept while pods of an old revision run. */
  podsUse?: boolean;
}

/** Every object a builder makes only when the spec or the config asks for it. */
function optionalChildren(emqx: EMQX): Candidate[] {
  return [
    {
      kind: 'Service',
      name: names.dashboardService(emqx),
      reason: 'spec.dashboardServiceTemplate.enabled is false (or no dashboard listener)',
    },
    {
      kind: 'Service',
      name: names.listenersService(emqx),
      reason: 'spec.listenersServiceTemplate.enabled is false',
    },
    {
      kind: 'PodDisruptionBudget',
      name: names.pdb(emqx, 'replicant'),
      reason: 'spec.replicantTemplate is unset',
    },
    {
      kind: 'Secret',
      name: licenseSecretName(emqx),
      reason: 'spec.config.data sets no license.key',
      podsUse: true,
    },
    {
      kind: 'ServiceAccount',
      name: names.serviceAccount(emqx),
      reason: 'discovery is not k8s, or spec.serviceAccountName names another account',
      podsUse: true,
    },
    { kind: 'Role', name: names.role(emqx), reason: 'discovery is not k8s', podsUse: true },
    { kind: 'RoleBinding', name: names.roleBinding(emqx), reason: 'discovery is not k8s', podsUse: true },
  ];
}

/** Owned by this EMQX (controller reference to its uid) and written by this operator with server-side apply. */
export function madeByOperatorFor(meta: V1ObjectMeta | undefined, emqxUid: string | undefined): boolean {
  if (!meta || !emqxUid) return false;
  const owned = (meta.ownerReferences ?? []).some((r) => r.uid === emqxUid && r.controller === true);
  const applied = (meta.managedFields ?? []).some(
    (e) => e.manager === FIELD_MANAGER && e.operation === 'Apply' && !e.subresource,
  );
  return owned && applied;
}

/** The live children to delete: optional ones the desired `objects` leave out. */
export function unwantedChildren(s: Snapshot, objects: readonly BuiltObject[]): Deletion[] {
  const emqx = s.emqx;
  const wanted = new Set(objects.map((o) => `${o.kind}/${o.metadata?.name}`));
  const oldPodsRun = s.core.old.length > 0 || s.replicant.old.length > 0;
  const out: Deletion[] = [];
  for (const c of optionalChildren(emqx)) {
    if (wanted.has(`${c.kind}/${c.name}`)) continue;
    if (c.kind === 'Service' && c.name === names.listenersService(emqx)) {
      // left out of the objects also while its ports are unknown (EMQX not answering): only the spec removes it
      if (emqx.spec.listenersServiceTemplate?.enabled !== false) continue;
    }
    if (c.podsUse && oldPodsRun) continue;
    const live = s.children.get(c.kind)?.get(c.name) as { metadata?: V1ObjectMeta } | undefined;
    if (!live?.metadata?.uid || live.metadata.deletionTimestamp) continue;
    if (!madeByOperatorFor(live.metadata, emqx.metadata.uid)) continue;
    out.push({
      kind: c.kind,
      apiVersion: OWNED_KINDS[c.kind].apiVersion,
      name: c.name,
      uid: live.metadata.uid,
      reason: c.reason,
    });
  }
  if (!oldPodsRun) out.push(...unwantedCertificates(s));
  return out;
}

/** Names of the Secrets some pod of this resource mounts (terminating pods included). */
function mountedSecrets(s: Snapshot): Set<string> {
  return new Set(
    s.pods.flatMap((p) =>
      (p.spec?.volumes ?? []).flatMap((v) => (v.secret?.secretName ? [v.secret.secretName] : [])),
    ),
  );
}

/**
 * The Certificates of an issuerRef the spec no longer sets, and the Secrets cert-manager issued from them. The caller
 * checks that no pod of an old revision runs.
 */
export function unwantedCertificates(s: Snapshot): Deletion[] {
  const emqx = s.emqx;
  const named = new Set(tlsSecretRefs(emqx).map((r) => r.secretName));
  const mounted = mountedSecrets(s);
  const out: Deletion[] = [];
  for (const which of ['listeners', 'dashboard'] as const) {
    if (emqx.spec.tls?.[which]?.issuerRef) continue;
    const name = names.tlsCertificate(emqx, which);
    if (named.has(name) || mounted.has(name)) continue;
    const reason = `spec.tls.${which}.issuerRef is unset`;
    const cert = s.staleCertificates?.get(name);
    if (
      cert?.metadata?.uid &&
      !cert.metadata.deletionTimestamp &&
      madeByOperatorFor(cert.metadata as V1ObjectMeta, emqx.metadata.uid)
    )
      out.push({
        kind: 'Certificate',
        apiVersion: CERT_MANAGER_API_VERSION,
        name,
        uid: cert.metadata.uid,
        reason,
      });
    // The issued Secret goes once its Certificate is gone (or going now): else cert-manager would issue it again.
    const secret = s.children.get('Secret')?.get(name) as KubeObject | undefined;
    const certGone = cert === undefined || out.some((d) => d.kind === 'Certificate' && d.name === name);
    if (
      certGone &&
      s.staleCertificates !== undefined &&
      secret?.metadata?.uid &&
      !secret.metadata.deletionTimestamp &&
      secret.metadata.annotations?.[CERT_MANAGER_CERTIFICATE_NAME] === name
    )
      out.push({ kind: 'Secret', apiVersion: 'v1', name, uid: secret.metadata.uid, reason });
  }
  return out;
}
