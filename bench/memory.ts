// `npm run bench:memory`: where the operator's memory goes, and what runtime settings change it. A script, not a
// test. One sandbox; for each fleet size (0, 1, N EMQX resources, 1 core + 1 replicant each, all Ready) the
// operator is started once per variant (NODE_OPTIONS / environment), left to list, reconcile and settle, then
// measured: RSS split (anonymous, file-backed; the node binary's own pages), the V8 heap from its /metrics, and its
// CPU time. Each variant starts from the same cluster state, so the figures compare the variants, not a ramp.
//
//   node bench/memory.ts [--counts 0,1,50] [--settle SECONDS] [--variant NAME=NODE_ARGS[;ENV=VALUE...]]...
//                        [--watch MINUTES]
//
// --watch: after the variants, one operator as the image runs it idles with the last fleet for MINUTES, sampled
// every 30 s, with a heap snapshot (SIGUSR2, after a full GC) at the start and at the end, compared by constructor:
// whether a slow RSS rise is the heap growing or not.
//
// Without --variant: the image's settings (bin/emqx-operator.sh's flags) and a few alternatives. Run it on the
// build the image runs: `npm run build && EMQX_SANDBOX_OPERATOR_BUILD=dist npm run bench:memory`.
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import type { EMQX } from '../src/api/types.ts';
import { KubeClient } from '../src/k8s/rest.ts';
import { createEmqxHandler } from '../sandbox/emqx/index.ts';
import { startSandbox, type Sandbox } from '../sandbox/index.ts';
import { operatorBuildDir } from '../sandbox/operator-build.ts';
import { prepareForOperator, startOperatorProcess, type OperatorProcess } from '../sandbox/operator.ts';
import { applyObject, byLabels, healthUrl, isReady, procStat, scrape, type Sample } from './support.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const FIELD_MANAGER = 'bench-memory';
const NS_PREFIX = 'mem-';

interface Variant {
  name: string;
  /** Node flags on the command line (NODE_OPTIONS refuses most V8 flags); NODE_OPTIONS is cleared. */
  nodeArgs: string;
  env: Record<string, string>;
}

function parseVariant(s: string): Variant {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new Error(`--variant ${s}: expected NAME=NODE_ARGS[;ENV=VALUE...]`);
  const [nodeArgs, ...envs] = s.slice(eq + 1).split(';');
  const env: Record<string, string> = {};
  for (const e of envs) {
    const i = e.indexOf('=');
    if (i <= 0) throw new Error(`--variant ${s}: ${e} is not ENV=VALUE`);
    env[e.slice(0, i)] = e.slice(i + 1);
  }
  return { name: s.slice(0, eq), nodeArgs: nodeArgs!, env };
}

const { values } = parseArgs({
  options: {
    counts: { type: 'string', default: '0,1,50' },
    settle: { type: 'string', default: '30' },
    variant: { type: 'string', multiple: true },
    watch: { type: 'string', default: '0' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    readFileSync(import.meta.filename, 'utf8')
      .split('\n')
      .slice(0, 9)
      .join('\n') + '\n',
  );
  process.exit(0);
}
const counts = values.counts!.split(',').map(Number);
const settleMs = Number(values.settle) * 1000;
const IMAGE = '--max-semi-space-size=2';
/** The variant `image`: started through bin/entrypoint.sh with the chart's default memory limit. */
const IMAGE_ENTRY = '(entry point)';
const variants: Variant[] = (values.variant ?? []).map(parseVariant);
if (variants.length === 0)
  variants.push(
    { name: 'image', nodeArgs: IMAGE_ENTRY, env: {} },
    { name: 'semi 2 only', nodeArgs: IMAGE, env: {} },
    {
      name: 'image + mmap threshold 128k',
      nodeArgs: IMAGE_ENTRY,
      env: { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' },
    },
    {
      name: 'image + semi 1',
      nodeArgs: '--max-semi-space-size=1 --v8-pool-size=1 --max-old-space-size=128',
      env: { MALLOC_ARENA_MAX: '2' },
    },
    {
      name: 'image + optimize-for-size',
      nodeArgs: `${IMAGE} --v8-pool-size=1 --optimize-for-size --max-old-space-size=128`,
      env: { MALLOC_ARENA_MAX: '2' },
    },
  );

const say = (l: string) => process.stdout.write(`${l}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * RSS by mapping from /proc/<pid>/smaps: the node binary, other files, and anonymous memory by what it most likely
 * is (from the mapping's name, address and size): the brk heap (malloc's main arena), glibc's per-thread malloc
 * arenas (at 64 MiB boundaries), thread stacks (8 MiB), V8's heap pages (256 KiB), the rest (V8's code range and
 * large objects, malloc's own mmaps of large blocks).
 */
export function smapsSplit(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let name = '';
  let sizeKiB = 0;
  let arenaAligned = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[3]!;
      const start = parseInt(head[1]!, 16);
      sizeKiB = (parseInt(head[2]!, 16) - start) / 1024;
      // glibc puts each thread arena's heap at a 64 MiB boundary (HEAP_MAX_SIZE); the used part is the first
      // mapping there, the rest of the reservation a PROT_NONE one.
      arenaAligned = start % (64 * 2 ** 20) === 0;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss || rss[1] === '0') continue;
    const kind = name.endsWith('/bin/node')
      ? 'node binary'
      : name.startsWith('/')
        ? 'other files'
        : name === '[heap]'
          ? 'brk heap'
          : name.startsWith('[')
            ? name
            : arenaAligned && sizeKiB <= 64 * 1024
              ? 'malloc thread arenas'
              : sizeKiB === 8192 || sizeKiB === 8188
                ? 'thread stacks'
                : sizeKiB === 256
                  ? 'V8 pages (256 KiB)'
                  : 'other anonymous';
    out[kind] = (out[kind] ?? 0) + Number(rss[1]) / 1024;
  }
  return out;
}

function metric(samples: Sample[], name: string, space?: string): number {
  const s = samples.find((x) => x.name === name && (space === undefined || x.labels.space === space));
  return (s?.value ?? NaN) / 2 ** 20;
}

interface Row {
  count: number;
  variant: string;
  rss: number;
  hwm: number;
  anon: number;
  file: number;
  split: Record<string, number>;
  heapUsed: number;
  heapTotal: number;
  code: number;
  /** CPU seconds in the settle window, and passes and failed EMQX calls in it. */
  cpu: number;
  reconciles: number;
  emqxFailed: number;
}

async function measure(sb: Sandbox, count: number, v: Variant): Promise<Row> {
  const saved = { ...process.env };
  delete process.env.NODE_OPTIONS;
  Object.assign(process.env, v.env);
  let op: OperatorProcess;
  try {
    op = startOperatorProcess(sb, {
      name: `memory-${count}-${v.name.replace(/\W+/g, '-')}`,
      logLevel: 'info',
      ...(v.nodeArgs === IMAGE_ENTRY
        ? { asImage: true }
        : { nodeArgs: v.nodeArgs.split(' ').filter(Boolean) }),
    });
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
  try {
    const pid = op.child.pid!;
    const t0 = Date.now();
    while (!healthUrl(op)) {
      if (op.child.exitCode !== null) throw new Error(`the operator exited with ${op.child.exitCode}`);
      if (Date.now() - t0 > 60_000) throw new Error('the operator did not log its address within 60 s');
      await sleep(200);
    }
    // Led and passed over every resource: reconcile_total reaches the count, then settle.
    for (;;) {
      const rec = [...byLabels(await scrape(op), 'emqx_operator_reconcile_total', []).values()][0] ?? 0;
      if (rec >= count || Date.now() - t0 > 120_000) break;
      await sleep(500);
    }
    const cpu0 = procStat(pid).cpuSeconds;
    const m0 = await scrape(op);
    await sleep(settleMs);
    const p = procStat(pid);
    const m = await scrape(op);
    const passes = (x: Sample[]) => [...byLabels(x, 'emqx_operator_reconcile_total', []).values()][0] ?? 0;
    const failed = (x: Sample[]) =>
      x
        .filter((s) => s.name === 'emqx_operator_emqx_api_requests_total' && s.labels.outcome !== 'success')
        .reduce((a, s) => a + s.value, 0);
    const s = smapsSplit(pid);
    return {
      count,
      variant: v.name,
      rss: p.rssKiB / 1024,
      hwm: p.hwmKiB / 1024,
      anon: p.anonKiB / 1024,
      file: p.fileKiB / 1024,
      split: s,
      heapUsed: metric(m, 'nodejs_heap_size_used_bytes'),
      heapTotal: metric(m, 'nodejs_heap_size_total_bytes'),
      code: metric(m, 'nodejs_heap_space_size_total_bytes', 'code'),
      cpu: p.cpuSeconds - cpu0,
      reconciles: passes(m) - passes(m0),
      emqxFailed: failed(m),
    };
  } finally {
    await op.stop();
  }
}

function smallResource(namespace: string): EMQX {
  const obj = YAML.parse(readFileSync(path.join(ROOT, 'examples/core-replicant.yaml'), 'utf8')) as EMQX;
  obj.metadata.namespace = namespace;
  obj.spec.coreTemplate!.spec!.replicas = 1;
  obj.spec.replicantTemplate!.spec!.replicas = 1;
  return obj;
}

async function fleetTo(sb: Sandbox, client: KubeClient, count: number, have: number): Promise<void> {
  if (count <= have) return;
  const names = Array.from(
    { length: count - have },
    (_, i) => `${NS_PREFIX}${String(have + i + 1).padStart(3, '0')}`,
  );
  await Promise.all(
    names.map((ns) =>
      applyObject(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, FIELD_MANAGER),
    ),
  );
  await Promise.all(names.map((ns) => applyObject(client, smallResource(ns) as never, FIELD_MANAGER)));
  // Brought to Ready by an operator with the image's settings (not measured).
  const op = startOperatorProcess(sb, { name: `memory-ramp-${count}`, logLevel: 'info' });
  try {
    const t0 = Date.now();
    for (;;) {
      const list = await client.request<{ items: EMQX[] }>('GET', '/apis/apps.emqx.io/v2beta1/emqxes');
      const ready = list.items.filter(isReady).length;
      if (ready >= count) break;
      if (Date.now() - t0 > 300_000) throw new Error(`only ${ready} of ${count} Ready after 300 s`);
      await sleep(1000);
    }
  } finally {
    await op.stop();
  }
}

/** Live objects of a heap snapshot by `type:name`: count and bytes (self size). */
function heapByConstructor(file: string): Map<string, { count: number; bytes: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const name = type === 'object' || type === 'closure' ? snap.strings[snap.nodes[i + nameAt]!]! : '';
    const key = `${type}${name ? `:${name.slice(0, 60)}` : ''}`;
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += snap.nodes[i + sizeAt]!;
    out.set(key, e);
  }
  return out;
}

/** SIGUSR2 → Node writes a heap snapshot into `dir` (after a full GC); resolves with its path once written. */
async function heapSnapshot(pid: number, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const t0 = Date.now();
  for (;;) {
    await sleep(1000);
    const file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (file) {
      const full = path.join(dir, file);
      const size = statSync(full).size;
      await sleep(2000);
      if (statSync(full).size === size && size > 0) return full;
    }
    if (Date.now() - t0 > 120_000) throw new Error('no heap snapshot within 120 s');
  }
}

async function watch(sb: Sandbox, count: number, minutes: number): Promise<void> {
  const dir = path.join(sb.dir, 'heap-snapshots');
  mkdirSync(dir, { recursive: true });
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
  let op: OperatorProcess;
  try {
    op = startOperatorProcess(sb, { name: `memory-watch-${count}`, logLevel: 'info', asImage: true });
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
  try {
    const pid = op.child.pid!;
    const t0 = Date.now();
    while (!healthUrl(op)) {
      if (Date.now() - t0 > 60_000) throw new Error('the operator did not log its address within 60 s');
      await sleep(200);
    }
    await sleep(60_000);
    say(`watch: ${count} resources, ${minutes} min idle, operator as the image runs it; heap snapshot A`);
    const a = await heapSnapshot(pid, dir);
    const start = Date.now();
    for (;;) {
      const p = procStat(pid);
      const m = await scrape(op);
      say(
        `  +${((Date.now() - start) / 60_000).toFixed(1)} min: RSS ${(p.rssKiB / 1024).toFixed(1)} MiB (anon ${(p.anonKiB / 1024).toFixed(1)}), V8 heap used ${metric(m, 'nodejs_heap_size_used_bytes').toFixed(1)} of ${metric(m, 'nodejs_heap_size_total_bytes').toFixed(1)}, external ${metric(m, 'nodejs_external_memory_bytes').toFixed(1)}; load ${os.loadavg()[0]!.toFixed(2)}`,
      );
      if (Date.now() - start >= minutes * 60_000) break;
      await sleep(30_000);
    }
    const b = await heapSnapshot(pid, dir);
    const p = procStat(pid);
    say(
      `  after snapshot B (a full GC): RSS ${(p.rssKiB / 1024).toFixed(1)} MiB (anon ${(p.anonKiB / 1024).toFixed(1)})`,
    );
    const ha = heapByConstructor(a);
    const hb = heapByConstructor(b);
    const sum = (h: Map<string, { count: number; bytes: number }>) =>
      [...h.values()].reduce((x, e) => ({ count: x.count + e.count, bytes: x.bytes + e.bytes }), {
        count: 0,
        bytes: 0,
      });
    const [sa, sb2] = [sum(ha), sum(hb)];
    say(
      `  live heap (snapshots): A ${(sa.bytes / 2 ** 20).toFixed(2)} MiB in ${sa.count} objects, B ${(sb2.bytes / 2 ** 20).toFixed(2)} MiB in ${sb2.count} objects (${sb2.bytes >= sa.bytes ? '+' : ''}${((sb2.bytes - sa.bytes) / 1024).toFixed(1)} KiB, ${sb2.count - sa.count >= 0 ? '+' : ''}${sb2.count - sa.count} objects)`,
    );
    const growth = [...new Set([...ha.keys(), ...hb.keys()])]
      .map((k) => ({
        k,
        dc: (hb.get(k)?.count ?? 0) - (ha.get(k)?.count ?? 0),
        db: (hb.get(k)?.bytes ?? 0) - (ha.get(k)?.bytes ?? 0),
      }))
      .filter((g) => g.db !== 0 || g.dc !== 0)
      .sort((x, y) => Math.abs(y.db) - Math.abs(x.db))
      .slice(0, 15);
    for (const g of growth)
      say(
        `    ${g.k}: ${g.dc >= 0 ? '+' : ''}${g.dc} objects, ${g.db >= 0 ? '+' : ''}${(g.db / 1024).toFixed(1)} KiB`,
      );
  } finally {
    await op.stop();
  }
}

const rows: Row[] = [];
let sb: Sandbox | undefined;
try {
  say(
    `operator: ${operatorBuildDir() ? `build ${path.relative(ROOT, operatorBuildDir()!)}` : 'sources (type stripping)'}`,
  );
  sb = await startSandbox({
    dir: path.join(ROOT, '.sandbox/bench-memory'),
    handlers: [createEmqxHandler({ timeScale: 10 })],
    log: (l) => say(`  ${l}`),
  });
  await prepareForOperator(sb);
  const client = new KubeClient(sb.kubeConfig);
  let have = 0;
  for (const count of counts) {
    await fleetTo(sb, client, count, have);
    have = Math.max(have, count);
    for (const v of variants) {
      const r = await measure(sb, count, v);
      rows.push(r);
      const split = Object.entries(r.split)
        .sort((a, b) => b[1] - a[1])
        .map(([k, x]) => `${k} ${x.toFixed(1)}`)
        .join(', ');
      say(
        `${count} resources, ${v.name}: RSS ${r.rss.toFixed(1)} MiB (anon ${r.anon.toFixed(1)}, file ${r.file.toFixed(1)}; ${split}), peak ${r.hwm.toFixed(1)}, V8 heap ${r.heapUsed.toFixed(1)} used of ${r.heapTotal.toFixed(1)} (code ${r.code.toFixed(1)}); in ${settleMs / 1000} s: CPU ${r.cpu.toFixed(2)} s, ${r.reconciles} passes; EMQX calls failed ${r.emqxFailed}; load ${os.loadavg()[0]!.toFixed(2)}`,
      );
    }
  }
  const minutes = Number(values.watch);
  if (minutes > 0) await watch(sb, counts[counts.length - 1]!, minutes);
} finally {
  await sb?.stop();
}
say('');
say(
  `| resources | variant | RSS | anon | file (node binary) | peak | V8 heap used / total | CPU s in ${settleMs / 1000} s (passes) |`,
);
say('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  say(
    `| ${r.count} | ${r.variant} | ${r.rss.toFixed(1)} | ${r.anon.toFixed(1)} | ${r.file.toFixed(1)} (${(r.split['node binary'] ?? 0).toFixed(1)}) | ${r.hwm.toFixed(1)} | ${r.heapUsed.toFixed(1)} / ${r.heapTotal.toFixed(1)} | ${r.cpu.toFixed(2)} (${r.reconciles}) |`,
  );
