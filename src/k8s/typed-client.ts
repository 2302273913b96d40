// Typed client-node API clients (CoreV1Api, ...) whose writes are counted in ./writes.ts like KubeClient's. The
// operator itself does not use them (importing client-node's generated APIs costs ~80 MiB of RSS); this module is
// for scripts and tests that want a typed client and a truthful write count.

import {
  createConfiguration,
  Observable,
  type RequestContext,
  ServerConfiguration,
  setHeaderMiddleware,
  type ApiConstructor,
  type ApiType,
  type KubeConfig,
  type ObservableMiddleware,
} from '@kubernetes/client-node';
import { BUILTIN, VERB_OF } from './rest.ts';
import { recordKubeWrite } from './writes.ts';

/** Plural → kind for the built-in table (labels of writes counted from typed clients). */
const KIND_OF_PLURAL = new Map(Object.entries(BUILTIN).map(([k, v]) => [v.plural, k.split('/').pop()!]));

function countingMiddleware(): ObservableMiddleware {
  return {
    pre: (ctx: RequestContext) => {
      const verb = VERB_OF[ctx.getHttpMethod()];
      if (verb) {
        const m =
          /\/(?:api\/[^/]+|apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/?]+)(?:\/([^/?]+))?(?:\/([^/?]+))?/.exec(
            new URL(ctx.getUrl()).pathname,
          );
        const plural = m?.[2] ?? 'unknown';
        const isContentType = (ctx.getHeaders()['Content-Type'] ?? '').includes('apply-patch');
        recordKubeWrite({
          verb: isContentType ? 'apply' : verb,
          kind: KIND_OF_PLURAL.get(plural) ?? plural,
          namespace: m?.[1],
          name: m?.[3],
          subresource: m?.[4],
        });
      }
      return new Observable(Promise.resolve(ctx));
    },
    post: (res) => new Observable(Promise.resolve(res)),
  };
}

/**
 * Like `kc.makeApiClient(ApiClass)`, but every write the typed client sends is counted in ./writes.ts. Use this (or
 * KubeClient) for every client that writes, so the idle-write metric stays truthful.
 */
export function makeCountingApiClient<T extends ApiType>(kc: KubeConfig, api: ApiConstructor<T>): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    middleware: [setHeaderMiddleware('User-Agent', 'emqx-operator'), countingMiddleware()],
  });
  return new api(config);
}
