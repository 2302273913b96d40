// EMQX-flavoured HOCON: parser, printer and helpers. See ./README.md for the supported subset.

export type { HoconErrorKind, HoconObject, HoconValue } from './types.ts';
export { HoconError, cloneHocon, isHoconObject } from './types.ts';
export type { ParseOptions } from './parser.ts';
export type { HoconLimits } from './limits.ts';
export { DEFAULT_HOCON_LIMITS } from './limits.ts';
export { parseHocon, parseHoconValue } from './parser.ts';
export { printHocon, printKey, printString } from './printer.ts';
export type { HoconPath } from './path.ts';
export { deepMerge, deletePath, getPath, setPath } from './path.ts';
export type { EnvOverrideOptions } from './env.ts';
export { envOverrides, envVarPath } from './env.ts';
