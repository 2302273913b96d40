// `emqx-operator render -f FILE [-f FILE ...]`: prints every Kubernetes object the operator would create for the
// EMQX resources in the files, without a cluster. See usage() for the rules.
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { parseFlags, runCommand, type Command } from '../args.ts';
import { loadEMQX } from '../../api/validate.ts';
import type { EMQX } from '../../api/types.ts';
import { HoconError } from '../../hocon/index.ts';
import type { HoconObject } from '../../hocon/index.ts';
import {
  BOOTSTRAP_API_KEY_KEY,
  GENERATED_SECRET_LENGTH,
  LICENSE_KEY_KEY,
  NODE_COOKIE_KEY,
  OPERATOR_API_KEY_NAME,
  buildAll,
  licenseSecretName,
} from '../../resources/index.ts';
import { licenseKey, nodeCookie, parseEmqxConfig } from '../../emqx/config.ts';
import { tlsConfigProblem, withTlsConfig } from '../../resources/tls.ts';
import type { BuiltObject } from '../../resources/index.ts';
import { objectIssues } from '../../resources/limits.ts';
import { ANNOTATION_RENDER_PLACEHOLDER, names } from '../../api/names.ts';

/** Annotation put on rendered Secrets: their values are placeholders. */
export const ANNOTATION_PLACEHOLDER = ANNOTATION_RENDER_PLACEHOLDER;

function usage(): string {
  return [
    'Usage: emqx-operator render -f FILE [-f FILE ...] [-n NAMESPACE]',
    '',
    'Prints, as one multi-document YAML stream, every Kubernetes object the operator would create for the EMQX',
    'resources in the files (apps.emqx.io/v2beta1 or v2alpha1; YAML or JSON; several documents per file; a',
    'kind: List is expanded). Resources are validated against the CRD schema (unknown fields are errors), v2alpha1',
    'is converted, defaults are applied and spec.config.data is parsed as HOCON, exactly as the operator does.',
    '',
    'Options:',
    '  -f, --filename FILE   a file to read; "-" reads standard input (repeatable, at least one)',
    '  -n, --namespace NS    namespace for resources that name none (default "default"); a resource naming',
    '                        another namespace is an error',
    '  -h, --help            this text',
    '',
    'Secrets carry placeholder values, never real ones: the operator generates the node cookie and its own API',
    'key, and copies the licence key and Secret-referenced API keys, when it runs. Such Secrets are marked with the',
    `annotation ${ANNOTATION_PLACEHOLDER}. Objects without a cluster have no ownerReferences (no uid yet).`,
    '',
    'The listeners Service shows the ports of the built-in listeners plus those of the config, and selects',
    'replicants when there are any (the running operator reads the ports from the cluster and selects cores',
    'until a replicant is ready).',
    '',
    'Documents of other kinds are skipped with a note on stderr. Any invalid resource makes the command print',
    'nothing on stdout, one line per problem on stderr (file, document, field path, reason), and exit 1.',
  ].join('\n');
}

export interface RenderIO {
  readFile(path: string): string;
  readStdin(): string;
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIO: RenderIO = {
  readFile: (p) => readFileSync(p, 'utf8'),
  readStdin: () => readFileSync(0, 'utf8'),
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

export interface RenderArgs {
  files: string[];
  namespace?: string;
  help: boolean;
}

/** Parses the command line; throws with a message naming the flag on bad input. */
export function parseRenderArgs(args: string[]): RenderArgs {
  const { values } = parseFlags(args, {
    filename: { type: 'string', short: 'f', multiple: true },
    namespace: { type: 'string', short: 'n' },
  });
  const files = values.filename ?? [];
  if (values.help) return { files, help: true };
  if (files.length === 0) throw new Error('at least one -f FILE is required');
  if (files.some((f) => f === '')) throw new Error('-f, --filename needs a file name');
  if (files.filter((f) => f === '-').length > 1)
    throw new Error('standard input ("-f -") can be read only once');
  if (values.namespace === '') throw new Error('-n, --namespace needs a namespace');
  return { files, namespace: values.namespace, help: false };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Doc {
  file: string;
  label: string;
  value: unknown;
}

/** Describes a document for messages: `document 2 (EMQX "emqx")`. */
function docLabel(index: string, value: unknown): string {
  if (!isObj(value)) return `document ${index}`;
  const kind = typeof value.kind === 'string' ? value.kind : undefined;
  const name =
    isObj(value.metadata) && typeof value.metadata.name === 'string' ? value.metadata.name : undefined;
  if (!kind) return `document ${index}`;
  return name ? `document ${index} (${kind} "${name}")` : `document ${index} (${kind})`;
}

/** Aliases one document may expand (the `yaml` library's default, stated so that it cannot change unseen). */
const MAX_YAML_ALIASES = 100;
/** Nesting of a document; an EMQX resource needs about 15. */
const MAX_YAML_DEPTH = 100;

function yamlFailure(e: unknown): string {
  if (e instanceof ReferenceError && /alias/i.test(e.message)) {
    return `aliases expand too much (more than ${MAX_YAML_ALIASES} alias uses; write the values out)`;
  }
  if (e instanceof RangeError) return 'nested too deeply';
  return e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
}

/** The path of the first value nested deeper than `max` levels, or undefined. Iterative: no stack to exhaust. */
function depthOver(root: unknown, max: number): string | undefined {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: root, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return path || '<root>';
    const entries: Array<[string, unknown]> = Array.isArray(v)
      ? v.map((item, i) => [`${path}[${i}]`, item])
      : Object.entries(v).map(([k, item]) => [path ? `${path}.${k}` : k, item]);
    for (const [p, item] of entries) stack.push({ v: item, path: p, depth: depth + 1 });
  }
  return undefined;
}

function readDocs(file: string, text: string, errors: string[]): Doc[] {
  const docs: Doc[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    const index = String(i + 1);
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0];
        const where = pos ? `line ${pos.line}, column ${pos.col}: ` : '';
        let reason = (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?\s*$/, '');
        if (/call stack/i.test(reason)) reason = `nested too deeply (more than ${MAX_YAML_DEPTH} levels)`;
        errors.push(`${file}: document ${index}: invalid YAML: ${where}${reason}`);
      }
      return;
    }
    let value: unknown;
    try {
      // aliases expand: a few lines of `&a [*b, *b, …]` make billions of nodes, so their number is bounded
      value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    } catch (e) {
      errors.push(`${file}: document ${index}: invalid YAML: ${yamlFailure(e)}`);
      return;
    }
    const deep = depthOver(value, MAX_YAML_DEPTH);
    if (deep !== undefined) {
      const shown = deep.length > 80 ? `${deep.slice(0, 80)}…` : deep;
      errors.push(`${file}: document ${index}: ${shown}: nested deeper than ${MAX_YAML_DEPTH} levels`);
      return;
    }
    if (value === null || value === undefined) return;
    if (isObj(value) && value.kind === 'List' && Array.isArray(value.items)) {
      value.items.forEach((item, j) =>
        docs.push({ file, label: docLabel(`${index} item ${j + 1}`, item), value: item }),
      );
      return;
    }
    docs.push({ file, label: docLabel(index, value), value });
  });
  return docs;
}

function isEmqxDoc(v: unknown): boolean {
  return (
    isObj(v) &&
    v.kind === 'EMQX' &&
    typeof v.apiVersion === 'string' &&
    v.apiVersion.startsWith('apps.emqx.io/')
  );
}

const GENERATED = `<generated by the operator, ${GENERATED_SECRET_LENGTH} random characters>`;

/** Readable placeholder contents of the Secrets, by Secret name then key. */
function placeholderSecrets(emqx: EMQX, conf: HoconObject): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  out.set(names.nodeCookieSecret(emqx), {
    [NODE_COOKIE_KEY]: nodeCookie(conf) !== undefined ? '<node.cookie from spec.config.data>' : GENERATED,
  });
  const lines = (emqx.spec.bootstrapAPIKeys ?? []).map((k, i) => {
    if (k.secretRef) {
      const r = k.secretRef;
      return (
        `<key from Secret "${r.key.secretName}", key "${r.key.secretKey}">:` +
        `<secret from Secret "${r.secret.secretName}", key "${r.secret.secretKey}">`
      );
    }
    return `${k.key}:<spec.bootstrapAPIKeys[${i}].secret>`;
  });
  lines.push(`${OPERATOR_API_KEY_NAME}:${GENERATED}`);
  out.set(names.bootstrapApiKeySecret(emqx), { [BOOTSTRAP_API_KEY_KEY]: lines.join('\n') + '\n' });
  if (licenseKey(conf) !== undefined) {
    out.set(licenseSecretName(emqx), { [LICENSE_KEY_KEY]: '<license.key from spec.config.data>' });
  }
  return out;
}

/**
 * Builds as the operator would, with stand-ins for the values only the running operator has (generated or read
 * from other Secrets), then replaces the contents of every Secret with readable placeholders: no secret value,
 * real or stand-in, reaches the output.
 */
function renderEmqx(emqx: EMQX, conf: HoconObject): BuiltObject[] {
  // The same list the operator's plan applies (src/controller/plan.ts). What only a running operator knows is
  // left at its default here: the live cookie (keepCookie), a core count held during a scale-down
  // (coreReplicas), whether the cores run yet (replicantSet), the ports and serving role EMQX reports for the
  // listeners Service, and the hash of the config EMQX accepted (appliedConfigHash).
  const standIn = (n: number) => `placeholder${n}`;
  const objs = buildAll(emqx, conf, {
    cookie: standIn(0),
    operatorKey: { key: OPERATOR_API_KEY_NAME, secret: standIn(1) },
    userKeys: (emqx.spec.bootstrapAPIKeys ?? []).map((k, i) =>
      k.key !== undefined && k.secret !== undefined
        ? { key: k.key, secret: k.secret }
        : { key: `secretref${i}`, secret: standIn(i + 2) },
    ),
  });
  const placeholders = placeholderSecrets(emqx, conf);
  return objs.map((o) => {
    if (o.kind !== 'Secret') return o;
    const name = o.metadata?.name ?? '';
    const shown = placeholders.get(name) ?? {};
    const { data: _data, ...rest } = o as { data?: unknown } & BuiltObject;
    return {
      ...rest,
      metadata: {
        ...o.metadata,
        annotations: {
          ...o.metadata?.annotations,
          [ANNOTATION_PLACEHOLDER]: 'values are placeholders; the operator generates or copies the real ones',
        },
      },
      stringData: shown,
    } as BuiltObject;
  });
}

/** Runs `render` with the given IO; resolves to the exit code. */
export function render(args: string[], io: RenderIO = processIO): Promise<number> {
  return runCommand(
    'emqx-operator render',
    usage(),
    () => parseRenderArgs(args),
    (opts) => renderFiles(opts, io),
    io,
  );
}

async function renderFiles(opts: RenderArgs, io: RenderIO): Promise<number> {
  const errors: string[] = [];
  const notes: string[] = [];
  const out: string[] = [];
  let found = 0;

  for (const file of opts.files) {
    const shownName = file === '-' ? '<stdin>' : file;
    let text: string;
    try {
      text = file === '-' ? io.readStdin() : io.readFile(file);
    } catch (err) {
      errors.push(`${shownName}: cannot read: ${(err as Error).message}`);
      continue;
    }
    for (const doc of readDocs(shownName, text, errors)) {
      const where = `${doc.file}: ${doc.label}`;
      if (!isEmqxDoc(doc.value)) {
        notes.push(`${where}: skipped: not an apps.emqx.io EMQX resource`);
        continue;
      }
      found++;
      const raw = structuredClone(doc.value) as Obj;
      const meta = isObj(raw.metadata) ? raw.metadata : undefined;
      if (opts.namespace !== undefined && meta) {
        if (typeof meta.namespace === 'string' && meta.namespace !== opts.namespace) {
          errors.push(
            `${where}: metadata.namespace: "${meta.namespace}" does not match the namespace "${opts.namespace}" given with -n`,
          );
          continue;
        }
        meta.namespace = opts.namespace;
      }
      const loaded = loadEMQX(raw);
      if (!loaded.emqx || loaded.issues.length > 0) {
        for (const issue of loaded.issues) errors.push(`${where}: ${issue.path}: ${issue.message}`);
        if (loaded.issues.length === 0) errors.push(`${where}: invalid EMQX resource`);
        continue;
      }
      const emqx = loaded.emqx;
      emqx.metadata.namespace ??= 'default';
      const configPath =
        loaded.convertedFrom === 'v2alpha1' ? 'spec.emqxTemplate.bootstrapConfig' : 'spec.config.data';
      let conf: HoconObject;
      try {
        conf = parseEmqxConfig(emqx.spec.config?.data, {
          dashboardTls: emqx.spec.tls?.dashboard !== undefined,
        });
      } catch (err) {
        if (err instanceof HoconError) {
          errors.push(`${where}: ${configPath}: ${err.message}`);
          continue;
        }
        throw err;
      }
      const tlsProblem = tlsConfigProblem(emqx, conf);
      if (tlsProblem) {
        errors.push(`${where}: ${tlsProblem}`);
        continue;
      }
      conf = withTlsConfig(emqx, conf);
      let objs: BuiltObject[];
      try {
        objs = renderEmqx(emqx, conf);
      } catch (err) {
        errors.push(`${where}: ${(err as Error).message}`);
        continue;
      }
      const problems = objectIssues(objs);
      for (const p of problems) errors.push(`${where}: ${p.object}: ${p.path}: ${p.message}`);
      if (problems.length > 0) continue;
      const header =
        `# EMQX ${emqx.metadata.namespace}/${emqx.metadata.name} from ${where}` +
        (loaded.convertedFrom ? ` (converted from ${loaded.convertedFrom})` : '') +
        '\n';
      objs.forEach((o, i) => out.push((i === 0 ? header : '') + stringify(o, { lineWidth: 0 })));
    }
  }

  if (errors.length === 0 && found === 0) errors.push('no apps.emqx.io EMQX resource in the input');
  for (const n of notes) io.stderr(`emqx-operator render: ${n}\n`);
  if (errors.length > 0) {
    for (const e of errors) io.stderr(`${e}\n`);
    return 1;
  }
  io.stdout(out.map((d) => `---\n${d}`).join(''));
  return 0;
}

export const command: Command = {
  run: (args) => render(args),
};
