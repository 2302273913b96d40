// `npm run bench:hocon`: how long the HOCON parser takes on configs of 2,000 to 100,000 lines (about 4 MiB, the parse limit) (a benchmark that
// prints figures, not a test: the unit tests bound the parser's work, src/hocon/parser.test.ts "work bounds").
import { parseHocon } from '../src/hocon/index.ts';
import { listenersConfig } from '../test/support/hocon-sample.ts';

const RUNS = 9;
for (const blocks of [250, 2_500, 12_500]) {
  const text = listenersConfig(blocks);
  parseHocon(text); // warm up
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    parseHocon(text);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const lines = blocks * 8;
  process.stdout.write(
    `${String(lines).padStart(7)} lines (${(text.length / 1024).toFixed(0).padStart(5)} KiB): ` +
      `median ${ms[RUNS >> 1]!.toFixed(1)} ms, min ${ms[0]!.toFixed(1)} ms, max ${ms.at(-1)!.toFixed(1)} ms ` +
      `(${RUNS} runs)\n`,
  );
}
