// The one way steps write objects: server-side apply, and only when an apply would change something (so an idle
// cluster costs zero writes).
import { apply, applyDiff, describeDiff } from '../k8s/apply.ts';
import type { KubeObject } from '../k8s/rest.ts';
import type { ReconcileContext } from './context.ts';

/** Applies `desired` unless `live` already matches it; returns the live object after the call. */
export async function applyIfChanged<T extends object>(
  ctx: ReconcileContext,
  desired: T,
  live: T | undefined,
): Promise<T> {
  const diff = applyDiff(desired, live, { limit: 10 });
  if (diff.length === 0) return live as T;
  const obj = desired as KubeObject;
  ctx.log.info('applying', {
    kind: obj.kind,
    object: obj.metadata?.name,
    changes: live ? describeDiff(diff) : 'created',
  });
  return (await apply(ctx.client, obj)) as T;
}
