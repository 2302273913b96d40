// cert-manager Certificates (cert-manager.io/v1) for spec.tls.<which>.issuerRef. Pure.
//
// The operator writes the Certificate; cert-manager issues it into a `kubernetes.io/tls` Secret of the same name,
// which the operator then mounts and checks like a Secret the user keeps (see tls.ts). The DNS names are those
// clients and the operator really use: the Service names in every form a pod's resolver accepts, the headless
// names of the core pods (a wildcard: pod names change with scale), and the listeners LoadBalancer address once
// the cloud gave one. The Secret carries the operator's instance labels (cert-manager's secretTemplate), so the
// operator's Secret informer sees each renewal as it happens.
import { instanceLabels, names } from '../api/names.ts';
import type { EMQX } from '../api/types.ts';
import { childMeta, clusterDomainOf, namespaceOf } from './metadata.ts';

export const CERT_MANAGER_API_VERSION = 'cert-manager.io/v1';
/** cert-manager's annotation on the Secret it issues: the name of the Certificate it came from. */
export const CERT_MANAGER_CERTIFICATE_NAME = 'cert-manager.io/certificate-name';

/** The part of cert-manager's Certificate the operator writes. */
export interface Certificate {
  apiVersion: typeof CERT_MANAGER_API_VERSION;
  kind: 'Certificate';
  metadata: ReturnType<typeof childMeta>;
  spec: {
    secretName: string;
    secretTemplate: { labels: Record<string, string> };
    issuerRef: { name: string; kind: string; group: string };
    dnsNames: string[];
    ipAddresses?: string[];
    privateKey: { rotationPolicy: 'Always' };
    usages: string[];
  };
}

/** Addresses the cloud gave the listeners Service (`status.loadBalancer.ingress`). */
export interface LoadBalancerAddresses {
  hostnames: readonly string[];
  ips: readonly string[];
}

/** `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<domain>`: the forms a pod's DNS search path resolves. */
export function serviceDnsNames(emqx: EMQX, service: string): string[] {
  const ns = namespaceOf(emqx);
  return [
    service,
    `${service}.${ns}`,
    `${service}.${ns}.svc`,
    `${service}.${ns}.svc.${clusterDomainOf(emqx)}`,
  ];
}

/** The DNS names of a certificate: Service names, the core pods' headless names, the LoadBalancer's, the user's. */
export function certificateDnsNames(
  emqx: EMQX,
  which: 'listeners' | 'dashboard',
  lb: LoadBalancerAddresses = { hostnames: [], ips: [] },
): string[] {
  const ns = namespaceOf(emqx);
  const headless = names.headlessService(emqx);
  const out = [
    ...serviceDnsNames(
      emqx,
      which === 'listeners' ? names.listenersService(emqx) : names.dashboardService(emqx),
    ),
    `*.${headless}.${ns}.svc.${clusterDomainOf(emqx)}`,
    `*.${headless}.${ns}.svc`,
    ...(which === 'listeners' ? lb.hostnames : []),
    ...(emqx.spec.tls?.[which]?.extraDNSNames ?? []),
  ];
  return [...new Set(out.map((n) => n.toLowerCase()))];
}

/** The Certificate for spec.tls.<which>.issuerRef, or undefined when that certificate comes from a user Secret. */
export function tlsCertificate(
  emqx: EMQX,
  which: 'listeners' | 'dashboard',
  lb?: LoadBalancerAddresses,
): Certificate | undefined {
  const ref = emqx.spec.tls?.[which]?.issuerRef;
  if (!ref) return undefined;
  const name = names.tlsCertificate(emqx, which);
  const ips = which === 'listeners' ? [...new Set(lb?.ips ?? [])] : [];
  return {
    apiVersion: CERT_MANAGER_API_VERSION,
    kind: 'Certificate',
    metadata: childMeta(emqx, name),
    spec: {
      secretName: name,
      secretTemplate: { labels: instanceLabels(emqx) },
      issuerRef: { name: ref.name, kind: ref.kind ?? 'Issuer', group: ref.group ?? 'cert-manager.io' },
      dnsNames: certificateDnsNames(emqx, which, lb),
      ...(ips.length > 0 && { ipAddresses: ips }),
      // A new key with every renewal (cert-manager's default since 1.18, written out so older ones do the same).
      privateKey: { rotationPolicy: 'Always' },
      usages: ['server auth', 'digital signature', 'key encipherment'],
    },
  };
}

/** Every Certificate spec.tls asks for. */
export function tlsCertificates(emqx: EMQX, lb?: LoadBalancerAddresses): Certificate[] {
  return (['listeners', 'dashboard'] as const)
    .map((w) => tlsCertificate(emqx, w, lb))
    .filter((c): c is Certificate => c !== undefined);
}
