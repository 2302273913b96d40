// Helpers for end-to-end tests of EMQX resources: reading the resource, waiting for conditions, and talking to
// emulated EMQX nodes over their real REST API with the operator's own bootstrap key.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { EMQX } from '../../src/api/types.ts';
import type { TestSandbox } from './sandbox.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export function example(file: string, namespace: string): Record<string, any> {
  const obj = YAML.parse(readFileSync(path.join(ROOT, 'examples', file), 'utf8'));
  obj.metadata.namespace = namespace;
  return obj;
}

export async function getEmqx(sb: TestSandbox, ns: string, name = 'emqx'): Promise<EMQX | undefined> {
  try {
    return (await sb.api.get(`/apis/apps.emqx.io/v2beta1/namespaces/${ns}/emqxes/${name}`)) as EMQX;
  } catch {
    return undefined;
  }
}

export function condition(e: EMQX | undefined, type: string): string | undefined {
  return e?.status?.conditions?.find((c) => c.type === type)?.status;
}

/** Waits until the resource is Ready for its current generation. */
export async function waitReady(
  sb: TestSandbox,
  ns: string,
  name = 'emqx',
  timeoutMs = 120_000,
): Promise<EMQX> {
  return sb.waitFor(
    `EMQX ${ns}/${name} Ready`,
    async () => {
      const e = await getEmqx(sb, ns, name);
      const ok =
        e?.status?.phase === 'Ready' &&
        e.status.observedGeneration === e.metadata.generation &&
        condition(e, 'Ready') === 'True';
      return ok ? e : undefined;
    },
    timeoutMs,
    500,
  );
}

export async function listPods(
  sb: TestSandbox,
  ns: string,
  selector = 'apps.emqx.io/instance=emqx',
): Promise<any[]> {
  const list = (await sb.api.get(
    `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`,
  )) as { items: any[] };
  return list.items.filter((p) => !p.metadata.deletionTimestamp);
}

/** The operator's API key, read from the bootstrap Secret the operator created. */
export async function operatorKey(sb: TestSandbox, ns: string, name = 'emqx'): Promise<string> {
  const s = (await sb.api.get(`/api/v1/namespaces/${ns}/secrets/${name}-bootstrap-api-key`)) as {
    data: Record<string, string>;
  };
  const text = Buffer.from(s.data.bootstrap_api_key!, 'base64').toString('utf8');
  return text.split('\n').find((l) => l.startsWith('emqx-operator-controller:'))!;
}

/** Calls an emulated EMQX node's REST API (on its pod IP) with the operator's key. */
export async function emqxCall(
  sb: TestSandbox,
  ns: string,
  podIP: string,
  pathAndQuery: string,
  init: { method?: string; body?: string; accept?: string; contentType?: string } = {},
): Promise<{ status: number; text: string; json?: any }> {
  const key = await operatorKey(sb, ns);
  const res = await fetch(`http://${podIP}:18083${pathAndQuery}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Basic ${Buffer.from(key).toString('base64')}`,
      accept: init.accept ?? 'application/json',
      ...(init.contentType && { 'content-type': init.contentType }),
    },
    ...(init.body !== undefined && { body: init.body }),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** Patches the EMQX resource with a JSON merge patch as the test user. */
export async function patchEmqx(sb: TestSandbox, ns: string, patch: object, name = 'emqx'): Promise<EMQX> {
  return (await sb.api.patch(
    `/apis/apps.emqx.io/v2beta1/namespaces/${ns}/emqxes/${name}`,
    patch,
    'application/merge-patch+json',
  )) as EMQX;
}

/** A node as `.status.coreNodes` / `.status.replicantNodes` list it. */
type StatusNode = NonNullable<NonNullable<EMQX['status']>['coreNodes']>[number];

/**
 * Waits until the resource is Ready for its current generation with exactly `cores` core and `replicants`
 * replicant nodes listed, all running, and the `cores`/`replicants` columns saying so.
 */
export async function waitConverged(
  sb: TestSandbox,
  ns: string,
  want: { cores: number; replicants: number },
  timeoutMs = 120_000,
  name = 'emqx',
): Promise<EMQX> {
  let last: EMQX | undefined;
  return sb
    .waitFor(
      `EMQX ${ns}/${name} Ready with ${want.cores} cores and ${want.replicants} replicants`,
      async () => {
        const e = (last = await getEmqx(sb, ns, name));
        const s = e?.status;
        const running = (l: StatusNode[] | undefined) => (l ?? []).filter((n) => n.node_status === 'running');
        const ok =
          s?.phase === 'Ready' &&
          s.observedGeneration === e!.metadata.generation &&
          condition(e, 'Ready') === 'True' &&
          s.cores === `${want.cores}/${want.cores}` &&
          s.replicants === `${want.replicants}/${want.replicants}` &&
          s.coreNodes?.length === want.cores &&
          running(s.coreNodes).length === want.cores &&
          (s.replicantNodes?.length ?? 0) === want.replicants &&
          running(s.replicantNodes).length === want.replicants;
        return ok ? e : undefined;
      },
      timeoutMs,
      500,
    )
    .catch((err: Error) => {
      throw new Error(`${err.message}\n${statusSummary(last)}`, { cause: err });
    });
}

/**
 * The resource's status in a few lines, for a failed wait: phase, generations, counts, nodes, the update in
 * progress, conditions.
 */
export function statusSummary(e: EMQX | undefined): string {
  if (!e) return 'last seen: no resource';
  const s = e.status;
  if (!s) return `last seen: generation ${e.metadata.generation}, no status`;
  const nodes = (l: StatusNode[] | undefined) =>
    (l ?? []).map((n) => `${n.name}:${n.node_status}:${n.version}`).join(' ');
  return [
    `last seen: phase ${s.phase}, generation ${e.metadata.generation} (observed ${s.observedGeneration}), ` +
      `cores ${s.cores}, replicants ${s.replicants}`,
    `  coreNodes: ${nodes(s.coreNodes)}`,
    `  replicantNodes: ${nodes(s.replicantNodes)}`,
    ...(s.update ? [`  update: ${JSON.stringify(s.update)}`] : []),
    ...(s.conditions ?? []).map(
      (c) => `  ${c.type}=${c.status} (${c.reason}, since ${c.lastTransitionTime}): ${c.message}`,
    ),
  ].join('\n');
}

/**
 * The status node lists name exactly the live pods: cores by their stable DNS name, replicants by their pod IP,
 * each matched to its pod.
 */
export async function assertNodesMatchPods(sb: TestSandbox, ns: string, e: EMQX): Promise<void> {
  const pods = await listPods(sb, ns);
  const cores = pods.filter((p) => p.metadata.labels['apps.emqx.io/db-role'] === 'core');
  const repls = pods.filter((p) => p.metadata.labels['apps.emqx.io/db-role'] === 'replicant');
  assert.deepEqual(
    (e.status!.coreNodes ?? []).map((n) => `${n.name} ${n.podName}`).sort(),
    cores
      .map((p) => `emqx@${p.metadata.name}.emqx-headless.${ns}.svc.cluster.local ${p.metadata.name}`)
      .sort(),
    'status.coreNodes vs core pods',
  );
  assert.deepEqual(
    (e.status!.replicantNodes ?? []).map((n) => `${n.name} ${n.podName}`).sort(),
    repls.map((p) => `emqx@${p.status.podIP} ${p.metadata.name}`).sort(),
    'status.replicantNodes vs replicant pods',
  );
}
