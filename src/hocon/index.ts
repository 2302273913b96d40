// EMQX-flavoured HOCON: parser, printer and helpers. See ./README.md for the supported subset.

export type { HoconObject, HoconValue } from './types.ts';
export { HoconError, cloneHocon, isHoconObject } from './types.ts';
export type { ParseOptions } from './parser.ts';
export { parseHocon, parseHoconValue } from './parser.ts';
