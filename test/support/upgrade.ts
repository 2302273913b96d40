// Helpers for upgrade and scale-down tests: an EMQX resource with fast probes, client load on every node, data in
// the cluster database, and the facts an upgrade must preserve (connection totals, PVCs, data).
import assert from 'node:assert/strict';
import type { EmqxHandler } from '../../sandbox/emqx/index.ts';
import type { TestSandbox } from './sandbox.ts';
import { listPods, statusSummary, waitReady } from './emqx.ts';
import { operatorReport, type OperatorProcess } from './operator.ts';
import type { EMQX } from '../../src/api/types.ts';

/** Probes a user would tune for a fast-starting node; keeps the tests short without changing any behaviour. */
export const FAST_PROBES = {
  readinessProbe: {
    httpGet: { path: '/status', port: 'dashboard' },
    initialDelaySeconds: 1,
    periodSeconds: 1,
    failureThreshold: 3,
  },
};

export function emqxResource(
  ns: string,
  opts: {
    image: string;
    cores: number;
    replicants?: number;
    coreStrategy?: 'InPlace' | 'BlueGreen';
    config?: string;
    name?: string;
  },
): Record<string, any> {
  return {
    apiVersion: 'apps.emqx.io/v2beta1',
    kind: 'EMQX',
    metadata: { name: opts.name ?? 'emqx', namespace: ns },
    spec: {
      image: opts.image,
      ...(opts.config && { config: { data: opts.config } }),
      updateStrategy: {
        initialDelaySeconds: 1,
        evacuationStrategy: { waitTakeover: 2, connEvictRate: 500, sessEvictRate: 500, waitHealthCheck: 1 },
        ...(opts.coreStrategy && { core: { type: opts.coreStrategy } }),
      },
      coreTemplate: { spec: { replicas: opts.cores, ...FAST_PROBES } },
      ...(opts.replicants !== undefined && {
        replicantTemplate: { spec: { replicas: opts.replicants, ...FAST_PROBES } },
      }),
    },
  };
}

/** Puts `perNode` connected clients (and as many sessions) on every running node of the namespace's cluster. */
export async function loadEveryNode(
  sb: TestSandbox,
  emqx: EmqxHandler,
  ns: string,
  perNode: number,
): Promise<number> {
  let total = 0;
  for (const pod of await listPods(sb, ns)) {
    const node = emqx.fabric.nodeOfPod(`${ns}/${pod.metadata.name}`);
    assert.ok(node, `an EMQX node runs in pod ${pod.metadata.name}`);
    emqx.fabric.setClients(node.name, { connections: perNode });
    total += perNode;
  }
  return total;
}

/** Connections on the nodes of one namespace (node names carry the namespace or a pod IP of it). */
export async function connectionsIn(sb: TestSandbox, emqx: EmqxHandler, ns: string): Promise<number> {
  let total = 0;
  for (const pod of await listPods(sb, ns)) {
    const node = emqx.fabric.nodeOfPod(`${ns}/${pod.metadata.name}`);
    if (node) total += emqx.fabric.counts().nodes.find((n) => n.name === node.name)?.connections ?? 0;
  }
  return total;
}

export async function pvcs(
  sb: TestSandbox,
  ns: string,
): Promise<Array<{ name: string; uid: string; volume: string }>> {
  const list = (await sb.api.get(`/api/v1/namespaces/${ns}/persistentvolumeclaims`)) as { items: any[] };
  return list.items
    .map((p) => ({ name: p.metadata.name, uid: p.metadata.uid, volume: p.spec.volumeName }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Waits for Ready with every node on `version`. A timeout says what was last seen (nodes with their versions, the
 * update status, conditions) and, when the sandbox runs an operator, what it was doing.
 */
export async function waitAllOnVersion(
  sb: TestSandbox & { readonly operator?: OperatorProcess },
  ns: string,
  version: string,
  timeoutMs = 240_000,
) {
  let last: EMQX | undefined;
  try {
    return await sb.waitFor(
      `every node of ${ns} on ${version} and Ready`,
      async () => {
        const e = (last = await waitReady(sb, ns, 'emqx', timeoutMs));
        const nodes = [...(e.status?.coreNodes ?? []), ...(e.status?.replicantNodes ?? [])];
        return nodes.length > 0 && nodes.every((n) => n.version === version && n.node_status === 'running')
          ? e
          : undefined;
      },
      timeoutMs,
      1000,
    );
  } catch (err) {
    const report = sb.operator
      ? await operatorReport(sb.operator, { ns }).catch((e: Error) => e.message)
      : '';
    throw new Error([(err as Error).message, statusSummary(last), report].filter(Boolean).join('\n'), {
      cause: err,
    });
  }
}
