// EMQX-flavoured HOCON: parser and printer. See docs in ./README.md (written by the implementer).
//
// CONTRACT (implemented in this folder):
//   export type HoconValue = string | number | boolean | null | HoconValue[] | HoconObject;
//   export interface HoconObject { [key: string]: HoconValue }
//   export class HoconError extends Error { line: number; column: number; reason: string }
//   export function parseHocon(text: string, opts?: ParseOptions): HoconObject
//   export function printHocon(obj: HoconObject): string            // hocon_pp style, root without braces
//   export function getPath(obj: HoconObject, path: string | string[]): HoconValue | undefined
//   export function setPath(obj: HoconObject, path: string | string[], value: HoconValue): HoconObject (copy)
//   export function deepMerge(base: HoconObject, over: HoconObject): HoconObject
export {};
