// A node:test reporter that prints, once every file ran, each file's wall time, slowest first, and their sum: where
// the suite's time goes (scripts/test.ts adds it after the spec reporter).
import path from 'node:path';

interface SummaryEvent {
  type: string;
  data: { file?: string; duration_ms?: number; counts?: { tests?: number } };
}

const root = path.resolve(import.meta.dirname, '..');

/** `rows` as a table, slowest first: seconds, share of the total, tests, file. */
export function formatTimings(rows: Array<{ file: string; ms: number; tests: number }>, top = 15): string {
  const total = rows.reduce((a, r) => a + r.ms, 0);
  const sorted = [...rows].sort((a, b) => b.ms - a.ms);
  const lines = [`test files by wall time (${rows.length} files, ${(total / 1000).toFixed(0)} s in all):`];
  for (const r of sorted.slice(0, top)) {
    const share = total > 0 ? Math.round((100 * r.ms) / total) : 0;
    lines.push(
      `  ${(r.ms / 1000).toFixed(1).padStart(7)} s ${String(share).padStart(3)}% ${String(r.tests).padStart(4)} tests  ${r.file}`,
    );
  }
  if (sorted.length > top)
    lines.push(
      `  … ${sorted.length - top} more, ${((total - sorted.slice(0, top).reduce((a, r) => a + r.ms, 0)) / 1000).toFixed(0)} s`,
    );
  return lines.join('\n') + '\n';
}

export default async function* timings(source: AsyncIterable<SummaryEvent>): AsyncGenerator<string> {
  const rows: Array<{ file: string; ms: number; tests: number }> = [];
  for await (const ev of source) {
    if (ev.type !== 'test:summary' || !ev.data.file) continue;
    rows.push({
      file: path.relative(root, ev.data.file),
      ms: ev.data.duration_ms ?? 0,
      tests: ev.data.counts?.tests ?? 0,
    });
  }
  if (rows.length > 1) yield '\n' + formatTimings(rows);
}
