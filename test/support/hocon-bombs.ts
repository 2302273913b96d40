// HOCON "billion laughs" inputs: each level refers twice to the one before, so a short text expands to 2^levels
// copies once substitutions resolve. Used by the parser's limit tests (src/hocon/limits.test.ts) and the corpus of
// malformed resources (./corpus.ts).

/** `c1 = {l = ${c0}, r = ${c0}}`, … `levels` times: 2^levels copies of c0 once expanded. */
export function objectBomb(levels: number): string {
  let s = 'c0 = "xxxxxxxxxx"\n';
  for (let i = 1; i <= levels; i++) s += `c${i} = {l = \${c${i - 1}}, r = \${c${i - 1}}}\n`;
  return s;
}

/** `s1 = ${s0}${s0}`, …: a string that doubles at each level. */
export function stringBomb(levels: number): string {
  let s = 's0 = "xxxxxxxxxxxxxxxx"\n';
  for (let i = 1; i <= levels; i++) s += `s${i} = \${s${i - 1}}\${s${i - 1}}\n`;
  return s;
}

/** `a1 = ${a0} ${a0}`, …: an array that doubles at each level (array concatenation). */
export function arrayBomb(levels: number): string {
  let s = 'a0 = [1, 2, 3, 4, 5, 6, 7, 8]\n';
  for (let i = 1; i <= levels; i++) s += `a${i} = \${a${i - 1}} \${a${i - 1}}\n`;
  return s;
}
