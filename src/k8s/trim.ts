// What the informers keep of an object: everything but the field sets (`fieldsV1`) of other managers' and of
// non-apply `metadata.managedFields` entries. Those field sets (the kubelet's and the controllers' status writes,
// kubectl's) are often the largest part of a Pod, StatefulSet or ReplicaSet, and the operator never reads them.
// What stays: its own server-side-apply entries whole, because needsApply reads them to see removed and taken-over
// fields; and of every other entry who wrote, how and when (manager, operation, subresource, time), because the
// foreign-workload detection and the takeover read those (controller/foreign-workloads.ts).
import { FIELD_MANAGER } from '../api/names.ts';
import type { KubeObject } from './rest.ts';

interface ManagedEntry {
  manager?: string;
  operation?: string;
  fieldsV1?: unknown;
}

/**
 * `obj` with the field sets of managedFields kept only in this operator's Apply entries; other entries keep who,
 * how and when (the same object, changed in place).
 */
export function trimForCache<T extends KubeObject>(obj: T, manager: string = FIELD_MANAGER): T {
  const meta = obj.metadata as { managedFields?: ManagedEntry[] } | undefined;
  const mf = meta?.managedFields;
  if (Array.isArray(mf))
    meta!.managedFields = mf.map((e) => {
      if ((e.manager === manager && e.operation === 'Apply') || e.fieldsV1 === undefined) return e;
      const { fieldsV1: _dropped, ...who } = e;
      return who;
    });
  return obj;
}
