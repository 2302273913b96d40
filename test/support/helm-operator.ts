// Helpers for the e2e tests that install the operator with its Helm chart (test/helm.test.ts,
// test/image-build.test.ts): its pods, its processes, and the conversion webhook seen from the API server.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { HELM_NAMESPACE as NS } from '../../sandbox/operator-helm.ts';
import { example } from './emqx.ts';
import type { TestSandbox } from './sandbox.ts';

/** The operator's pods in the chart's namespace. */
export async function operatorPods(sb: TestSandbox): Promise<any[]> {
  const list = (await sb.api.get(
    `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent('app.kubernetes.io/name=emqx-operator')}`,
  )) as { items: any[] };
  return list.items;
}

export const isReady = (p: any) =>
  !p.metadata.deletionTimestamp &&
  p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');

/**
 * The node processes running a bin/emqx-operator.js (what the image handler started for the operator's pods), from
 * /proc: pid, command line and working directory (the image's /app).
 */
export function operatorProcesses(): Array<{ pid: number; cmd: string[]; cwd: string }> {
  const found: Array<{ pid: number; cmd: string[]; cwd: string }> = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (path.basename(cmd[0] ?? '') === 'node' && cmd.some((a) => a.endsWith('bin/emqx-operator.js')))
        found.push({ pid: Number(d), cmd, cwd: readlinkSync(`/proc/${d}/cwd`) });
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

/**
 * Applies examples/minimal.yaml to `ns` (what the README and NOTES.txt tell users to apply) and waits until the API
 * server serves it as v2alpha1: a conversion through the operator's webhook Service. Returns that v2alpha1 object.
 */
export async function applyMinimalServedAsV2alpha1(sb: TestSandbox, ns: string, why: string): Promise<any> {
  await sb.apply(example('minimal.yaml', ns));
  return sb.waitFor(
    `the EMQX resource served as v2alpha1 (${why})`,
    async () => (await sb.api.get(`/apis/apps.emqx.io/v2alpha1/namespaces/${ns}/emqxes/emqx`)) as any,
    60_000,
    500,
  );
}
