// Watches that end with 410 Gone (issue 11, finding 13), on a real API server: without its watch cache and with etcd
// compacted every second, a watch resumed from the resourceVersion an informer last saw is "too old" (the revision
// was compacted), so each resume of a quiet kind ends with 410 and client-node lists again, diffing its cache. The
// operator, running unchanged, keeps converging through that: an object deleted by hand comes back, a scale-up is
// carried out, and the 410s are counted (emqx_operator_informer_watch_gone_total).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { example, patchEmqx, waitConverged, waitReady } from './support/emqx.ts';
import { readMetrics, useOperatorSandbox } from './support/operator.ts';

const sb = useOperatorSandbox({
  timeScale: 10,
  // watches end after 2-4 s; etcd compacted every second and no watch cache: a resumed watch meets 410
  minRequestTimeoutSeconds: 2,
  apiserverArgs: ['--watch-cache=false', '--etcd-compaction-interval=1s'],
});

async function gone(): Promise<number> {
  return (await readMetrics(sb.operator))
    .filter((m) => m.name === 'emqx_operator_informer_watch_gone_total')
    .reduce((sum, m) => sum + m.value, 0);
}

describe('watches ending with 410 Gone', () => {
  it('the operator lists again and keeps converging: a deleted child comes back, a scale-up is carried out', async (t) => {
    const ns = await sb.newNamespace(t);
    await sb.apply(example('minimal.yaml', ns));
    await waitReady(sb, ns, 'emqx', 180_000);
    const start = await gone();
    await sb.waitFor(
      'informer watches ending with 410 Gone',
      async () => (await gone()) >= start + 3,
      60_000,
      500,
    );

    const path = `/api/v1/namespaces/${ns}/services/emqx-dashboard`;
    const before = await sb.api.get<any>(path);
    await sb.api.delete(path);
    await sb.waitFor(
      'the dashboard Service created again',
      async () => {
        const s = await sb.api.get<any>(path).catch(() => undefined);
        return s && s.metadata.uid !== before.metadata.uid;
      },
      60_000,
    );
    await patchEmqx(sb, ns, { spec: { coreTemplate: { spec: { replicas: 3 } } } });
    await waitConverged(sb, ns, { cores: 3, replicants: 0 }, 180_000);
    const total = await gone();
    t.diagnostic(`410 Gone watch ends seen by the operator: ${total}`);
    assert.ok(total > start + 3, 'watches kept ending with 410 Gone meanwhile');
  });
});
