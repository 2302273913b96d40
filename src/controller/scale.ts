// Scaling a StatefulSet or ReplicaSet the operator does not re-apply in full (an old revision): the `scale`
// subresource changes replicas and nothing else.
import type { ReconcileContext } from './context.ts';

export async function scaleSet(
  ctx: ReconcileContext,
  set: { apiVersion?: string; kind?: string; metadata?: { name?: string }; spec?: { replicas?: number } },
  replicas: number,
): Promise<void> {
  if ((set.spec?.replicas ?? 0) === replicas) return;
  ctx.log.info('scaling', {
    kind: set.kind,
    object: set.metadata?.name,
    from: set.spec?.replicas,
    to: replicas,
  });
  const path = await ctx.client.path(
    {
      apiVersion: set.apiVersion ?? 'apps/v1',
      kind: set.kind!,
      namespace: ctx.namespace,
      name: set.metadata!.name!,
    },
    'scale',
  );
  await ctx.client.request('PATCH', path, {
    body: { spec: { replicas } },
    contentType: 'application/merge-patch+json',
    query: { fieldManager: 'emqx-operator' },
    write: {
      verb: 'patch',
      kind: set.kind!,
      namespace: ctx.namespace,
      name: set.metadata!.name!,
      subresource: 'scale',
    },
  });
}
