// What one parse may cost. Config text comes from users (spec.config.data) and from EMQX nodes, and the parse is
// synchronous: without bounds a 600-byte substitution bomb or a 20 000-deep nesting blocks the event loop, exhausts
// memory or the stack, and takes every other resource's reconciliation down with it.

export interface HoconLimits {
  /** Characters of text, counting every included file. */
  maxBytes: number;
  /** Nesting of objects and arrays, in the text and in the resolved value. */
  maxDepth: number;
  /**
   * Size of any resolved value as it would be printed, roughly: 16 per value plus the characters of keys and
   * strings. Substitutions share what they refer to while resolving, so this bounds what a caller would build.
   */
  maxExpandedSize: number;
  /** Keys, items and (characters / 16) that substitutions, merges and concatenations may copy in total. */
  maxWork: number;
  /** Nodes (substitutions, objects, arrays) whose resolution may wait on each other at once. */
  maxSubstitutionDepth: number;
}

export const DEFAULT_HOCON_LIMITS: Readonly<HoconLimits> = Object.freeze({
  maxBytes: 4 * 1024 * 1024,
  maxDepth: 64,
  maxExpandedSize: 8 * 1024 * 1024,
  maxWork: 500_000,
  maxSubstitutionDepth: 1000,
});
