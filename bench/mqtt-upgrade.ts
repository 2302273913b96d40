// `npm run bench:mqtt`: a benchmark script (not a test) of what MQTT clients see during an upgrade. Starts the
// sandbox (real control plane, kubelet emulator with its Service proxy, emulated EMQX nodes speaking MQTT) and the
// operator as a child process, applies an Enterprise 5.8.3 cluster of 3 cores + 3 replicants with the default
// probes and evacuation strategy, connects N real MQTT.js subscribers (persistent sessions, MQTT 5 and 3.1.1, tcp
// and ws) and one QoS 1 publisher through the listeners Service, changes the image to 5.8.4, and prints per
// client the longest time without a connection (p50/p99/max), messages lost (acknowledged to the publisher and
// never delivered), duplicates, and delivery delays. See BENCHMARKS.md for a run.
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { EMQX } from '../src/api/types.ts';
import { createEmqxHandler } from '../sandbox/emqx/index.ts';
import { startSandbox, type Sandbox } from '../sandbox/index.ts';
import { KubeApi } from '../sandbox/kubelet/api.ts';
import { prepareForOperator, startOperatorProcess, type OperatorProcess } from '../sandbox/operator.ts';
import { MqttLoad, serviceHost } from '../test/support/mqtt-load.ts';

const NS = 'bench-mqtt';
const HELP = `Usage: npm run bench:mqtt -- [options]

  --clients N        MQTT subscribers (default 1000), plus one publisher
  --rate R           QoS 1 messages per second of the publisher (default 2; every subscriber gets each one)
  --time-scale S     EMQX emulator time scale (default 10: evacuation waits and boot 10x shorter)
  --timeout SECONDS  give up after this long per phase (default 400)
  --dir DIR          sandbox directory, logs kept (default .sandbox/bench-mqtt)
  -h, --help`;

const T0 = Date.now();
const say = (line: string): void => {
  process.stdout.write(`[${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function isReady(e: EMQX | undefined): boolean {
  return (
    !!e &&
    e.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true &&
    e.status?.conditions?.find((c) => c.type === 'Ready')?.observedGeneration === e.metadata?.generation
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      clients: { type: 'string', default: '1000' },
      rate: { type: 'string', default: '2' },
      'time-scale': { type: 'string', default: '10' },
      timeout: { type: 'string', default: '400' },
      dir: { type: 'string', default: '.sandbox/bench-mqtt' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const clients = Number(values.clients);
  const rate = Number(values.rate);
  const timeScale = Number(values['time-scale']);
  const timeoutMs = Number(values.timeout) * 1000;
  let sb: Sandbox | undefined;
  let op: OperatorProcess | undefined;
  let load: MqttLoad | undefined;
  try {
    const handler = createEmqxHandler({ timeScale });
    say(`starting the sandbox in ${values.dir}`);
    sb = await startSandbox({ dir: path.resolve(values.dir!), handlers: [handler] });
    await prepareForOperator(sb);
    op = startOperatorProcess(sb, { name: 'operator', logLevel: 'info' });
    const api = new KubeApi(sb.kubeConfig);
    await api.post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const resource = {
      apiVersion: 'apps.emqx.io/v2beta1',
      kind: 'EMQX',
      metadata: { name: 'emqx', namespace: NS },
      spec: {
        image: 'emqx/emqx-enterprise:5.8.3',
        coreTemplate: { spec: { replicas: 3 } },
        replicantTemplate: { spec: { replicas: 3 } },
      },
    };
    const path_ = `/apis/apps.emqx.io/v2beta1/namespaces/${NS}/emqxes`;
    await api.post(path_, resource);
    const get = async () => (await api.get(`${path_}/emqx`).catch(() => undefined)) as EMQX | undefined;
    const until = async (what: string, ok: () => Promise<boolean>) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(250);
      }
    };
    await until('the cluster Ready', async () => isReady(await get()));
    await until('the listeners Service on the replicants', async () => {
      const s = (await api.get(`/api/v1/namespaces/${NS}/services/emqx-listeners`).catch(() => undefined)) as
        { spec?: { selector?: Record<string, string> } } | undefined;
      return s?.spec?.selector?.['apps.emqx.io/db-role'] === 'replicant';
    });
    const host = await serviceHost(api, NS, 'emqx-listeners');
    say(`Ready; connecting ${clients} subscribers and a publisher (${rate} msg/s QoS 1) to ${host}`);
    load = new MqttLoad({ host, subscribers: clients, rate, prefix: 'bench' });
    const c0 = Date.now();
    await load.start(timeoutMs);
    say(`connected in ${((Date.now() - c0) / 1000).toFixed(1)} s; changing the image to 5.8.4`);
    await sleep(3000);
    const u0 = Date.now();
    await api.patch(`${path_}/emqx`, { spec: { image: 'emqx/emqx-enterprise:5.8.4' } });
    await until('every node on 5.8.4 and Ready', async () => {
      const e = await get();
      const nodes = [...(e?.status?.coreNodes ?? []), ...(e?.status?.replicantNodes ?? [])];
      return isReady(e) && nodes.length === 6 && nodes.every((n) => n.version === '5.8.4');
    });
    const upgradeMs = Date.now() - u0;
    say(`upgraded in ${(upgradeMs / 1000).toFixed(1)} s; waiting for every client and message`);
    const deadline = Date.now() + 60_000;
    while (!load.report().allConnected && Date.now() < deadline) await sleep(200);
    await load.drain(60_000);
    const r = load.report();
    const gaps = r.gaps.map((g) => g.longestGapMs).sort((a, b) => a - b);
    const reconnected = r.gaps.filter((g) => g.gaps > 0).length;
    const lines = [
      `upgrade 5.8.3 → 5.8.4 of 3 cores + 3 replicants, EMQX time ×${timeScale}, ${clients} subscribers + 1 publisher ` +
        `(${rate} msg/s QoS 1, every subscriber subscribed): ${(upgradeMs / 1000).toFixed(1)} s`,
      `  clients connected at the end: ${r.allConnected ? 'all' : `not ${r.notConnected.length}: ${r.notConnected.slice(0, 5).join(', ')}`}; ` +
        `reconnected at least once: ${reconnected} of ${r.gaps.length}; sessions lost: ${r.sessionsLost}`,
      `  longest time without a connection per client: p50 ${percentile(gaps, 50)} ms, p99 ${percentile(gaps, 99)} ms, max ${gaps.at(-1) ?? 0} ms`,
      `  messages: published ${r.published}, acknowledged ${r.acked}, deliveries expected ${r.acked * clients}, ` +
        `lost ${r.lost}, duplicates ${r.duplicates} (unexplained by QoS 1: ${r.unexplainedDuplicates})`,
      `  delivery delay: p50 ${r.delayMs.p50} ms, p99 ${r.delayMs.p99} ms, max ${r.delayMs.max} ms; delayed over 1 s: ${r.delayedOver1s}`,
      `  connections cut by a node going away (emulator count): ${handler.fabric.droppedConnectionsIn(NS)}`,
    ];
    for (const l of r.lostBySubscriber.slice(0, 10)) {
      lines.push(
        `  LOST for ${l.id}: seq ${l.missing.slice(0, 20).join(', ')}${l.missing.length > 20 ? ' …' : ''}`,
      );
    }
    process.stdout.write(`${'='.repeat(100)}\n${lines.join('\n')}\n`);
    return r.lost === 0 && r.allConnected ? 0 : 2;
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
    if (sb) process.stderr.write(`bench: logs in ${sb.logsDir}\n`);
    return 1;
  } finally {
    await load?.stop();
    await op?.stop().catch(() => {});
    await sb?.stop().catch(() => {});
  }
}

process.exitCode = await main();
