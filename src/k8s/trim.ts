// What the informers keep of an object: everything but the `metadata.managedFields` entries of other managers.
// Those entries (the kubelet's and the controllers' status writes, kubectl's) are often the largest part of a Pod,
// StatefulSet or ReplicaSet, and the operator never reads them; its own server-side-apply entries stay, because
// needsApply reads them to see removed and taken-over fields.
import { FIELD_MANAGER } from '../api/names.ts';
import type { KubeObject } from './rest.ts';

interface ManagedEntry {
  manager?: string;
  operation?: string;
}

/** `obj` with only this operator's Apply entries in managedFields (the same object, changed in place). */
export function trimForCache<T extends KubeObject>(obj: T, manager: string = FIELD_MANAGER): T {
  const meta = obj.metadata as { managedFields?: ManagedEntry[] } | undefined;
  const mf = meta?.managedFields;
  if (Array.isArray(mf))
    meta!.managedFields = mf.filter((e) => e.manager === manager && e.operation === 'Apply');
  return obj;
}
