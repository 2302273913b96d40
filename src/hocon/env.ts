// EMQX's environment overrides (`HOCON_ENV_OVERRIDE_PREFIX=EMQX_`): `EMQX_NODE__NAME=emqx@host`
// sets `node.name`. Drop the prefix, lowercase, split on `__`; the value is read as a HOCON value
// (`[a,b]`, `{a=1}`, `"s"`, `10s`, `true`, numbers), or kept as the raw string when it is not one.

import { parseHoconValue } from './parser.ts';
import { deepMerge, setPath } from './path.ts';
import type { HoconObject } from './types.ts';

export { parseHoconValue };

export interface EnvOverrideOptions {
  /** Variable name prefix; default `EMQX_`. Matched case-sensitively, as EMQX does. */
  prefix?: string;
  /**
   * Config roots that may be overridden (`node`, `cluster`, `listeners`, …). EMQX applies only
   * known roots; without this list every prefixed variable becomes a key, including ones like
   * `EMQX_LOG_DIR` that EMQX's scripts use for other things.
   */
  knownRoots?: readonly string[];
}

/** The config path an environment variable name overrides, or undefined when it is not one. */
export function envVarPath(name: string, prefix = 'EMQX_'): string[] | undefined {
  if (!name.startsWith(prefix) || name.length === prefix.length) return undefined;
  const path = name.slice(prefix.length).toLowerCase().split('__');
  return path.some((seg) => seg === '') ? undefined : path;
}

/**
 * The overrides carried by `env`, as one object to deep-merge over the config files
 * (`deepMerge(config, envOverrides(process.env, { knownRoots }))`). Variables are applied in name
 * order, so `EMQX_A={x=1}` is applied before `EMQX_A__Y=2` and both survive.
 */
export function envOverrides(
  env: Record<string, string | undefined>,
  opts: EnvOverrideOptions = {},
): HoconObject {
  const prefix = opts.prefix ?? 'EMQX_';
  const roots = opts.knownRoots ? new Set(opts.knownRoots) : undefined;
  let out: HoconObject = {};
  for (const name of Object.keys(env).sort()) {
    const raw = env[name];
    if (raw === undefined) continue;
    const path = envVarPath(name, prefix);
    if (!path || (roots && !roots.has(path[0]!))) continue;
    out = deepMerge(out, setPath({}, path, parseHoconValue(raw)));
  }
  return out;
}
