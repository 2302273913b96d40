// Kubernetes naming limits the built objects must respect, checked after building so that a name that is too
// long is reported with its reason instead of failing at the API server (or worse, later, when pods are made).
import { MAX_REPLICASET_NAME, MAX_STATEFULSET_NAME } from '../api/names.ts';
import type { BuiltObject } from './index.ts';

export { MAX_REPLICASET_NAME, MAX_STATEFULSET_NAME };

export interface ObjectIssue {
  /** `Kind/name` of the offending object. */
  object: string;
  path: string;
  message: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function nameIssue(kind: string, name: string): string | undefined {
  if (kind === 'Service') {
    if (name.length > 63 || !DNS_1035_LABEL.test(name)) {
      return `"${name}" must be a DNS-1035 label (at most 63 characters of [a-z0-9-], starting with a letter)`;
    }
    return undefined;
  }
  if (kind === 'StatefulSet') {
    if (name.length > MAX_STATEFULSET_NAME || !DNS_LABEL.test(name)) {
      return (
        `"${name}" is ${name.length} characters; a StatefulSet name may have at most ${MAX_STATEFULSET_NAME}, ` +
        `because its pods get the label controller-revision-hash=<name>-<hash> (at most 63 characters); ` +
        `use a shorter EMQX name`
      );
    }
    return undefined;
  }
  if (kind === 'ReplicaSet' && name.length > MAX_REPLICASET_NAME && DNS_SUBDOMAIN.test(name)) {
    return (
      `"${name}" is ${name.length} characters; a ReplicaSet name may have at most ${MAX_REPLICASET_NAME}, ` +
      `because its pods are named <name>-<5 random characters> and the API server cuts a longer prefix ` +
      `(the pod names would lose the revision hash); use a shorter EMQX name`
    );
  }
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
    return `"${name}" must be a DNS subdomain (at most 253 characters)`;
  return undefined;
}

/**
 * Names the API server (or the StatefulSet controller) would refuse, or that generated pod names would cut. Empty
 * when all is well.
 */
export function objectIssues(objs: readonly BuiltObject[]): ObjectIssue[] {
  const issues: ObjectIssue[] = [];
  for (const o of objs) {
    const kind = o.kind ?? '?';
    const name = o.metadata?.name ?? '';
    const object = `${kind}/${name}`;
    const bad = nameIssue(kind, name);
    if (bad) issues.push({ object, path: 'metadata.name', message: bad });
    if (kind === 'StatefulSet') {
      const claims = (o as { spec?: { volumeClaimTemplates?: { metadata?: { name?: string } }[] } }).spec
        ?.volumeClaimTemplates;
      claims?.forEach((c, i) => {
        const n = c.metadata?.name ?? '';
        if (n.length > 63 || !DNS_LABEL.test(n)) {
          issues.push({
            object,
            path: `spec.volumeClaimTemplates[${i}].metadata.name`,
            message: `"${n}" must be a DNS label (at most 63 characters)`,
          });
        }
      });
    }
  }
  return issues;
}
