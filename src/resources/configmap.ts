// `<name>-configs`: the user's EMQX config, mounted as /opt/emqx/etc/emqx.conf.
//
// The text is the parsed `spec.config.data` printed back as HOCON, with `node.cookie` and `license.key` removed
// (they reach the pods from Secrets, as env), after the top-level `include` directives of the original. Comments
// and formatting of the original are not kept.
//
// Unlike the Go operator we do not prepend the default listener binds (tcp 1883, ssl 8883, ws 8083, wss 8084):
// EMQX's schema creates exactly those listeners anyway, and a copy in emqx.conf would pin them there, which beats
// a later change made through the dashboard or `PUT /api/v5/configs` whenever a node restarts.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { names } from '../api/names.ts';
import type { EMQX } from '../api/types.ts';
import { printHocon } from '../hocon/index.ts';
import type { HoconObject } from '../hocon/index.ts';
import { configIncludes, withoutSecrets, type ConfigInclude } from '../emqx/config.ts';
import { childMeta } from './metadata.ts';

export const CONFIG_FILE_KEY = 'emqx.conf';

/**
 * The text of emqx.conf for this config (no cookie, no licence key), after the includes of config.data: these come
 * first, so keys written in config.data win over keys of the included files.
 */
export function emqxConfText(conf: HoconObject, includes: ConfigInclude[] = []): string {
  const head = includes
    .map((i) => `include ${i.required ? `required(${JSON.stringify(i.file)})` : JSON.stringify(i.file)}\n`)
    .join('');
  const clean = withoutSecrets(conf);
  if (Object.keys(clean).length === 0) return head;
  const text = printHocon(clean);
  return head + (text.endsWith('\n') ? text : text + '\n');
}

export function configMap(emqx: EMQX, conf: HoconObject): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: childMeta(emqx, names.configMap(emqx), { labels: emqx.metadata.labels }),
    data: { [CONFIG_FILE_KEY]: emqxConfText(conf, configIncludes(emqx.spec.config?.data)) },
  };
}
