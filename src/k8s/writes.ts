// The one counter every write to the Kubernetes API goes through, so the operator can prove "zero writes when idle".
//
// `KubeClient.request` (./rest.ts) records every non-GET request here before sending it (attempts, not successes:
// a failed write still means the operator tried to change something). Clients built with
// `makeCountingApiClient` (typed client-node APIs, ./typed-client.ts) count through the same function.
//
// Metric: emqx_operator_kube_writes_total{verb,kind}. Accessors: `kubeWriteCount(filter?)` and
// `onKubeWrite(listener)` (tests and debug logging see which object was written).

import { defaultRegistry, metricSamples, metricTotal } from '../observability/metrics.ts';

export type WriteVerb = 'create' | 'update' | 'patch' | 'apply' | 'delete';

export interface KubeWrite {
  verb: WriteVerb;
  kind: string;
  namespace?: string;
  name?: string;
  /** `status` for writes to the status subresource. */
  subresource?: string;
}

const writes = defaultRegistry.counter({
  name: 'emqx_operator_kube_writes_total',
  help: 'Write requests (create, update, patch, apply, delete) sent to the Kubernetes API, by verb and kind.',
  labelNames: ['verb', 'kind'],
});

const listeners = new Set<(w: KubeWrite) => void>();

export function recordKubeWrite(w: KubeWrite): void {
  writes.inc({ verb: w.verb, kind: w.kind || 'unknown' });
  for (const l of listeners) {
    try {
      l(w);
    } catch {
      // a listener must not break a write
    }
  }
}

/** Writes recorded so far in this process, optionally only those of one verb and/or kind. */
export function kubeWriteCount(filter: { verb?: WriteVerb; kind?: string } = {}): Promise<number> {
  const f: Record<string, string> = {};
  if (filter.verb) f.verb = filter.verb;
  if (filter.kind) f.kind = filter.kind;
  return metricTotal(writes, f);
}

/** Every (verb, kind) pair with its count. */
export async function kubeWriteCounts(): Promise<Array<{ verb: string; kind: string; count: number }>> {
  return (await metricSamples(writes)).map((s) => ({
    verb: s.labels.verb ?? '',
    kind: s.labels.kind ?? '',
    count: s.value,
  }));
}

/** Calls `listener` for every write from now on; returns the unsubscribe function. */
export function onKubeWrite(listener: (w: KubeWrite) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
