// Extracts the structural OpenAPI schemas of the Kubernetes types embedded in the EMQX CRDs (containers, volumes,
// probes, affinity, ...) from the official Kubernetes OpenAPI v3 spec, and writes them, fully inlined, to
// src/api/k8s-schemas.json. The CRD builder reads only that committed file, so generating CRDs does not need the
// Go module cache; this script is run by hand when the Kubernetes version changes:
//
//   node scripts/gen-k8s-schemas.ts [path/to/api__v1_openapi.json]
//
// Without an argument it reads k8s.io/kubernetes@v1.36.3 from `go env GOMODCACHE`.
//
// What it does to each schema, so that the result is a valid CRD structural schema:
// - `$ref` (bare or wrapped in a one-element allOf) is replaced by a copy of the target; the property's own
//   description wins over the target's. A reference cycle is an error (there is none in these types).
// - IntOrString becomes `x-kubernetes-int-or-string: true` (no type); Quantity too, plus the quantity pattern.
// - ObjectMeta (only reachable through ephemeral volume claim templates, where only labels and annotations are
//   allowed) becomes an object with labels and annotations.
// - `default`s are dropped (the API server applies them to the real Pods/Services built from these templates),
//   except on list-map keys that are not required (e.g. ports[].protocol: TCP), which a CRD needs.
// - Patch-strategy, union and discriminator extensions are dropped; list-type, list-map-keys and map-type kept.
// - Descriptions are shortened to the whole sentences of their first paragraph that fit in DESCRIPTION_MAX
//   characters (at least the first sentence, cut at a word if it is longer), to keep the CRDs well below the
//   1.5 MB object limit (the EMQX CRD embeds Container four times and Volume three times).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const K8S_VERSION = 'v1.36.3';
const DESCRIPTION_MAX = 150;

/** The types the EMQX schemas embed, by the short name used in src/api/schema.ts. */
const ROOTS = [
  'Affinity',
  'Container',
  'ContainerPort',
  'EnvFromSource',
  'EnvVar',
  'Lifecycle',
  'LocalObjectReference',
  'PersistentVolumeClaimSpec',
  'PodSecurityContext',
  'Probe',
  'ResourceRequirements',
  'SecurityContext',
  'ServiceSpec',
  'Toleration',
  'TopologySpreadConstraint',
  'Volume',
  'VolumeMount',
] as const;

const CORE = 'io.k8s.api.core.v1.';
const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

type Json = Record<string, unknown>;

const KEEP = new Set([
  'type',
  'format',
  'description',
  'properties',
  'items',
  'required',
  'additionalProperties',
  'enum',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
]);
const DROP = new Set([
  'default',
  'x-kubernetes-patch-strategy',
  'x-kubernetes-patch-merge-key',
  'x-kubernetes-unions',
  'discriminator',
  'fields-to-discriminateBy',
  'localhostProfile',
]);

export function shortenDescription(d: string): string {
  let s = d.split('\n\n')[0].replace(/\s+/g, ' ').trim();
  if (s.length > DESCRIPTION_MAX) {
    // Whole sentences while they fit; a first sentence that is too long on its own is cut at a word.
    const cut = s.slice(0, DESCRIPTION_MAX + 1);
    const lastStop = cut.lastIndexOf('. ');
    s = lastStop > 40 ? cut.slice(0, lastStop + 1) : cut.slice(0, cut.lastIndexOf(' ')) + '…';
  }
  return s;
}

function refName(node: Json): string | undefined {
  if (typeof node.$ref === 'string') return node.$ref.split('/').pop();
  const allOf = node.allOf;
  if (Array.isArray(allOf) && allOf.length === 1 && typeof (allOf[0] as Json).$ref === 'string') {
    return ((allOf[0] as Json).$ref as string).split('/').pop();
  }
  return undefined;
}

export function convert(defs: Record<string, Json>, rootName: string): Json {
  const visit = (node: Json, stack: string[], where: string): Json => {
    const ref = refName(node);
    if (ref !== undefined) {
      const description = typeof node.description === 'string' ? node.description : undefined;
      let target: Json;
      if (ref === INT_OR_STRING) {
        target = { 'x-kubernetes-int-or-string': true, description: defs[ref].description };
      } else if (ref === QUANTITY) {
        target = {
          'x-kubernetes-int-or-string': true,
          pattern: QUANTITY_PATTERN,
          description: 'A quantity such as 500Mi, 2Gi, 250m or 1.',
        };
      } else if (ref === OBJECT_META) {
        target = {
          type: 'object',
          properties: {
            labels: {
              type: 'object',
              additionalProperties: { type: 'string' },
              description: 'Labels copied onto the created object.',
            },
            annotations: {
              type: 'object',
              additionalProperties: { type: 'string' },
              description: 'Annotations copied onto the created object.',
            },
          },
        };
      } else {
        if (stack.includes(ref)) throw new Error(`reference cycle: ${[...stack, ref].join(' → ')}`);
        const def = defs[ref];
        if (!def) throw new Error(`${where}: unknown reference ${ref}`);
        target = visit(def, [...stack, ref], ref);
      }
      if (description !== undefined) target = { ...target, description: shortenDescription(description) };
      return target;
    }
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      if (DROP.has(k) || k === 'allOf') continue;
      if (!KEEP.has(k)) throw new Error(`${where}: unsupported keyword ${k}`);
      if (k === 'description') out[k] = shortenDescription(v as string);
      else if (k === 'properties') {
        const props: Json = {};
        for (const [pk, pv] of Object.entries(v as Json))
          props[pk] = visit(pv as Json, stack, `${where}.${pk}`);
        out[k] = props;
      } else if (k === 'items' || k === 'additionalProperties') {
        out[k] = typeof v === 'object' ? visit(v as Json, stack, `${where}[]`) : v;
      } else out[k] = v;
    }
    if (Array.isArray(node.allOf) && node.allOf.length > 1)
      throw new Error(`${where}: allOf with several members`);
    // A list-map key must be required or defaulted for a CRD; keep the upstream default of such keys.
    if (out['x-kubernetes-list-type'] === 'map') {
      const itemsIn = resolve(defs, node.items as Json);
      const items = out.items as Json;
      const required = new Set((items.required as string[] | undefined) ?? []);
      for (const key of out['x-kubernetes-list-map-keys'] as string[]) {
        if (required.has(key)) continue;
        const upstream = (itemsIn.properties as Json)[key] as Json;
        if (upstream.default === undefined || upstream.default === '' || upstream.default === 0) {
          throw new Error(`${where}: list-map key ${key} is neither required nor defaulted`);
        }
        const props = items.properties as Json;
        props[key] = { ...(props[key] as Json), default: upstream.default };
      }
    }
    if (out.type === undefined && out['x-kubernetes-int-or-string'] === undefined) {
      throw new Error(`${where}: no type`);
    }
    return out;
  };
  return visit(defs[CORE + rootName], [CORE + rootName], rootName);
}

function resolve(defs: Record<string, Json>, node: Json): Json {
  const ref = refName(node);
  return ref ? resolve(defs, defs[ref]) : node;
}

async function main(): Promise<void> {
  const specPath =
    process.argv[2] ??
    path.join(
      execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim(),
      `k8s.io/kubernetes@${K8S_VERSION}/api/openapi-spec/v3/api__v1_openapi.json`,
    );
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as {
    components: { schemas: Record<string, Json> };
  };
  const out: Json = {
    $comment: `Generated by scripts/gen-k8s-schemas.ts from the Kubernetes ${K8S_VERSION} OpenAPI v3 spec. Do not edit.`,
  };
  for (const root of ROOTS) out[root] = convert(spec.components.schemas, root);
  const target = path.resolve(import.meta.dirname, '../src/api/k8s-schemas.json');
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(target)) ?? {};
  writeFileSync(target, await prettier.format(JSON.stringify(out), { ...options, parser: 'json' }));
  for (const root of ROOTS) process.stdout.write(`${root}: ${JSON.stringify(out[root]).length} bytes\n`);
  process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}

if (import.meta.main) await main();
