// Validation of EMQX and Rebalance objects against the schemas of ./schema.ts, without an API server: the
// structural OpenAPI subset the schemas use, plus the TypeScript twins of their CEL rules. Where the API server
// would silently prune an unknown field, this validator reports it (with a "did you mean" when a known field is
// close), because a misspelt field is almost always a mistake in a hand-written manifest.
//
// Paths are dotted and indexed: `spec.coreTemplate.spec.replicas`, `spec.bootstrapAPIKeys[0].key`,
// `spec.coreTemplate.spec.nodeSelector[disktype]`.
import { toV2beta1 } from './conversion.ts';
import { applyDefaults, applyRebalanceDefaults } from './defaults.ts';
import type { CelRule, Schema } from './schema.ts';
import {
  emqxV2alpha1Schema,
  emqxV2beta1Schema,
  isTransitionRule,
  PATTERN_MEANING,
  rebalanceV2beta1Schema,
} from './schema.ts';
import type { EMQX, EMQXV2Alpha1, Rebalance } from './types.ts';
import { EMQX_API_VERSION, EMQX_V2ALPHA1_API_VERSION } from './types.ts';
import { deepEqual, isObj, type Obj } from './json.ts';

export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. `spec.coreTemplate.spec.replicas`; `<root>` for the object itself. */
  path: string;
  message: string;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The known field closest to an unknown one, when it is close enough to be a likely typo. */
export function suggestField(unknown: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === unknown.toLowerCase() ? 0 : distance(unknown, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  const limit = Math.max(2, Math.floor(unknown.length / 4));
  return best !== undefined && bestD <= limit ? best : undefined;
}

/** Explanations for fields that exist elsewhere in the resource but not where they were written. */
const MISPLACED: Array<{ parent: RegExp; field: string; hint: string }> = [
  ...['dataVolume', 'volumeClaimTemplates', 'persistentVolumeClaimRetentionPolicy'].map((field) => ({
    parent: /(^|\.)replicantTemplate\.spec$/,
    field,
    hint: `replicants keep no data; ${field} exists only in coreTemplate.spec`,
  })),
  ...['image', 'imagePullPolicy', 'imagePullSecrets'].map((field) => ({
    parent: /(^|\.)(coreTemplate|replicantTemplate)\.spec$/,
    field,
    hint: `${field} is set once for all nodes, in spec.${field}`,
  })),
];

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const patternCache = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let r = patternCache.get(pattern);
  if (!r) {
    r = new RegExp(pattern);
    patternCache.set(pattern, r);
  }
  return r;
}

export interface ValidateOptions {
  /**
   * The object being replaced, for transition rules (CEL rules using oldSelf). Without it they are skipped, except
   * those with optionalOldSelf, which are checked as on a create.
   */
  old?: unknown;
}

/**
 * Validates `value` against `schema`. Null values of non-nullable fields count as absent (the API server prunes
 * them). Every problem is reported; validation goes on after the first.
 */
export function validateSchema(
  schema: Schema,
  value: unknown,
  path = '',
  options: ValidateOptions = {},
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  visit(schema, value, path, options.old, issues);
  return issues;
}

function visit(schema: Schema, value: unknown, path: string, old: unknown, issues: ValidationIssue[]): void {
  const at = path || '<root>';
  const fail = (message: string, where = at): void => {
    issues.push({ path: where, message });
  };
  // null is a value only for nullable fields; elsewhere the API server prunes it, so it counts as absent.
  if (value === null) return;
  if (schema['x-kubernetes-int-or-string']) {
    if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) {
      return fail(`must be an integer or a string, not ${typeName(value)}`);
    }
  } else if (schema.type !== undefined) {
    const ok =
      schema.type === 'integer'
        ? typeof value === 'number' && Number.isInteger(value)
        : schema.type === 'number'
          ? typeof value === 'number' && Number.isFinite(value)
          : schema.type === 'object'
            ? isObj(value)
            : schema.type === 'array'
              ? Array.isArray(value)
              : typeof value === schema.type;
    const article =
      schema.type === 'integer' || schema.type === 'array' || schema.type === 'object' ? 'an' : 'a';
    if (!ok) return fail(`must be ${article} ${schema.type}, not ${typeName(value)}`);
  }

  if (schema.enum && !schema.enum.some((e) => deepEqual(e, value))) {
    fail(`must be one of ${schema.enum.map(show).join(', ')}, not ${show(value)}`);
  }

  if (typeof value === 'number') {
    if (schema.format === 'int32' && (value < -(2 ** 31) || value > 2 ** 31 - 1)) fail('must fit in 32 bits');
    if (schema.format === 'int64' && !Number.isSafeInteger(value)) fail('must be a safe 64-bit integer');
    if (schema.minimum !== undefined) {
      if (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum) {
        fail(`must be ${schema.exclusiveMinimum ? '>' : '>='} ${schema.minimum}`);
      }
    }
    if (schema.maximum !== undefined) {
      if (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum) {
        fail(`must be ${schema.exclusiveMaximum ? '<' : '<='} ${schema.maximum}`);
      }
    }
  }

  if (typeof value === 'string') {
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength) {
      fail(schema.minLength === 1 ? 'must not be empty' : `must be at least ${schema.minLength} characters`);
    }
    if (schema.maxLength !== undefined && length > schema.maxLength) {
      fail(`must be at most ${schema.maxLength} characters`);
    }
    if (schema.pattern !== undefined && !regex(schema.pattern).test(value)) {
      const meaning = PATTERN_MEANING[schema.pattern];
      fail(
        meaning
          ? `must be ${meaning}, not ${show(value)}`
          : `must match ${schema.pattern}, not ${show(value)}`,
      );
    }
    if (schema.format === 'date-time' && !RFC3339.test(value)) fail('must be an RFC 3339 date-time');
  }

  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      fail(`must have at least ${schema.minItems} items`);
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      fail(`must have at most ${schema.maxItems} items`);
    }
    if (schema.items)
      value.forEach((item, i) => visit(schema.items as Schema, item, `${path}[${i}]`, undefined, issues));
    const listType = schema['x-kubernetes-list-type'];
    if (listType === 'set') {
      value.forEach((item, i) => {
        if (value.findIndex((other) => deepEqual(other, item)) < i)
          fail(`duplicate value ${show(item)}`, `${path}[${i}]`);
      });
    } else if (listType === 'map') {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const itemProps = schema.items?.properties ?? {};
      const keyOf = (item: unknown) =>
        keys.map((k) => (isObj(item) && item[k] !== undefined ? item[k] : itemProps[k]?.default));
      const seen = new Map<string, number>();
      value.forEach((item, i) => {
        const id = JSON.stringify(keyOf(item));
        if (seen.has(id)) {
          const desc = keys.map((k, j) => `${k}=${show(keyOf(item)[j])}`).join(', ');
          fail(`duplicate entry with ${desc} (also at index ${seen.get(id)})`, `${path}[${i}]`);
        } else seen.set(id, i);
      });
    }
  }

  if (isObj(value)) {
    const props = schema.properties ?? {};
    for (const req of schema.required ?? []) {
      if (value[req] === undefined || (value[req] === null && !props[req]?.nullable)) {
        fail('required', join(path, req));
      }
    }
    if (schema.maxProperties !== undefined && Object.keys(value).length > schema.maxProperties) {
      fail(`must have at most ${schema.maxProperties} fields`);
    }
    for (const [k, v] of Object.entries(value)) {
      const child = props[k];
      if (child) {
        visit(child, v, join(path, k), isObj(old) ? old[k] : undefined, issues);
      } else if (typeof schema.additionalProperties === 'object') {
        visit(schema.additionalProperties, v, `${path}[${k}]`, undefined, issues);
      } else if (
        schema.additionalProperties === true ||
        schema['x-kubernetes-preserve-unknown-fields'] ||
        (schema.properties === undefined && schema.additionalProperties === undefined)
      ) {
        // Preserved, or an opaque object such as the root metadata (which validateMetadata checks).
        continue;
      } else {
        const known = Object.keys(props);
        const misplaced = MISPLACED.find((m) => m.field === k && m.parent.test(path));
        const suggestion = suggestField(k, known);
        fail(
          misplaced
            ? `unknown field: ${misplaced.hint}`
            : suggestion
              ? `unknown field, did you mean ${suggestion}?`
              : known.length > 0
                ? `unknown field (known fields: ${known.join(', ')})`
                : 'unknown field',
          join(path, k),
        );
      }
    }
  }

  // CEL rules, through their TypeScript twins. Only on values of the right shape: a type error is already reported.
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    if (isTransitionRule(rule)) {
      if ((old === undefined || old === null) && !rule.optionalOldSelf) continue;
      if (!rule.check(value, old)) fail(celMessage(rule), celPath(path, rule));
    } else if (!rule.check(value)) {
      fail(celMessage(rule), celPath(path, rule));
    }
  }
}

/** The rule's message, without a leading field name that the issue path already gives. */
function celMessage(rule: CelRule): string {
  const field = rule.reportPath?.replace(/^\./, '');
  return field && rule.message.startsWith(`${field} `) ? rule.message.slice(field.length + 1) : rule.message;
}

function celPath(path: string, rule: CelRule): string {
  const relative = rule.reportPath ?? rule.fieldPath;
  if (!relative) return path || '<root>';
  return path + relative.replace(/^\./, path ? '.' : '');
}

/**
 * Fills in the schema `default`s the way the API server does: a default applies where the field is absent and its
 * parent object exists. Returns a new value.
 */
export function applySchemaDefaults(schema: Schema, value: unknown): unknown {
  if (Array.isArray(value)) {
    return schema.items
      ? value.map((v) => applySchemaDefaults(schema.items as Schema, v))
      : structuredClone(value);
  }
  if (!isObj(value)) return structuredClone(value);
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    const child =
      schema.properties?.[k] ??
      (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    out[k] = child ? applySchemaDefaults(child, v) : structuredClone(v);
  }
  for (const [k, child] of Object.entries(schema.properties ?? {})) {
    if (out[k] === undefined && child.default !== undefined)
      out[k] = applySchemaDefaults(child, structuredClone(child.default));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------------------

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function validateMetadata(value: unknown, kind: 'EMQX' | 'Rebalance'): ValidationIssue[] {
  if (value === undefined) return [{ path: 'metadata', message: 'required' }];
  if (!isObj(value)) return [{ path: 'metadata', message: `must be an object, not ${typeName(value)}` }];
  const issues: ValidationIssue[] = [];
  const { name, generateName, namespace, labels, annotations } = value;
  if (name === undefined) {
    if (generateName === undefined) issues.push({ path: 'metadata.name', message: 'required' });
  } else if (typeof name !== 'string') {
    issues.push({ path: 'metadata.name', message: `must be a string, not ${typeName(name)}` });
  } else if (kind === 'Rebalance' && (name.length > 253 || !DNS1123_SUBDOMAIN.test(name))) {
    issues.push({
      path: 'metadata.name',
      message: 'must be a DNS subdomain (lowercase letters, digits, "-" and ".")',
    });
  }
  if (
    namespace !== undefined &&
    (typeof namespace !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace))
  ) {
    issues.push({ path: 'metadata.namespace', message: 'must be a DNS label' });
  }
  for (const [field, map] of [
    ['labels', labels],
    ['annotations', annotations],
  ] as const) {
    if (map === undefined || map === null) continue;
    if (!isObj(map)) {
      issues.push({ path: `metadata.${field}`, message: 'must be a map of strings' });
      continue;
    }
    for (const [k, v] of Object.entries(map)) {
      if (typeof v !== 'string')
        issues.push({ path: `metadata.${field}[${k}]`, message: 'must be a string' });
    }
  }
  return issues;
}

function validateRoot(
  obj: unknown,
  expect: { kind: 'EMQX' | 'Rebalance'; apiVersions: Record<string, Schema> },
  options: ValidateOptions,
): ValidationIssue[] {
  if (!isObj(obj)) return [{ path: '<root>', message: `must be an object, not ${typeName(obj)}` }];
  const issues: ValidationIssue[] = [];
  const versions = Object.keys(expect.apiVersions);
  if (obj.kind !== expect.kind)
    issues.push({ path: 'kind', message: `must be ${expect.kind}, not ${show(obj.kind)}` });
  const schema = typeof obj.apiVersion === 'string' ? expect.apiVersions[obj.apiVersion] : undefined;
  if (!schema) {
    issues.push({
      path: 'apiVersion',
      message: `must be ${versions.join(' or ')}, not ${show(obj.apiVersion)}`,
    });
    return issues;
  }
  issues.push(...validateMetadata(obj.metadata, expect.kind));
  issues.push(...validateSchema(schema, obj, '', options));
  return issues;
}

let schemas: { v2beta1: Schema; v2alpha1: Schema; rebalance: Schema } | undefined;
function getSchemas() {
  schemas ??= {
    v2beta1: emqxV2beta1Schema(),
    v2alpha1: emqxV2alpha1Schema(),
    rebalance: rebalanceV2beta1Schema(),
  };
  return schemas;
}

/** Problems of an EMQX object, apps.emqx.io/v2beta1 or (deprecated) v2alpha1, each against its own schema. */
export function validateEMQX(obj: unknown, options: ValidateOptions = {}): ValidationIssue[] {
  const s = getSchemas();
  return validateRoot(
    obj,
    { kind: 'EMQX', apiVersions: { [EMQX_API_VERSION]: s.v2beta1, [EMQX_V2ALPHA1_API_VERSION]: s.v2alpha1 } },
    options,
  );
}

/** Problems of a Rebalance object (apps.emqx.io/v2beta1). With `old`, also the update rules (spec is immutable). */
export function validateRebalance(obj: unknown, options: ValidateOptions = {}): ValidationIssue[] {
  return validateRoot(
    obj,
    { kind: 'Rebalance', apiVersions: { [EMQX_API_VERSION]: getSchemas().rebalance } },
    options,
  );
}

export interface LoadedEMQX {
  /** The resource as v2beta1 with every default applied; absent when there are issues. */
  emqx?: EMQX;
  issues: ValidationIssue[];
  /** Set when the input was apps.emqx.io/v2alpha1 and was converted. */
  convertedFrom?: 'v2alpha1';
}

/**
 * Validates an EMQX object of either version, converts a v2alpha1 one to v2beta1 and applies the defaults: what the
 * operator would work from. Any issue means no resource.
 */
export function loadEMQX(obj: unknown): LoadedEMQX {
  const issues = validateEMQX(obj);
  if (issues.length > 0) return { issues };
  const input = obj as EMQX | EMQXV2Alpha1;
  if (input.apiVersion === EMQX_V2ALPHA1_API_VERSION) {
    const converted = toV2beta1(input);
    const after = validateEMQX(converted);
    if (after.length > 0) {
      return {
        issues: after.map((i) => ({
          path: i.path,
          message: `${i.message} (after conversion from v2alpha1)`,
        })),
        convertedFrom: 'v2alpha1',
      };
    }
    return { emqx: applyDefaults(converted), issues: [], convertedFrom: 'v2alpha1' };
  }
  return { emqx: applyDefaults(input), issues: [] };
}

/** Validates a Rebalance and applies its defaults. */
export function loadRebalance(obj: unknown): { rebalance?: Rebalance; issues: ValidationIssue[] } {
  const issues = validateRebalance(obj);
  if (issues.length > 0) return { issues };
  return { rebalance: applyRebalanceDefaults(obj as Rebalance), issues: [] };
}

/** One line per issue, `path: message`. */
export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('\n');
}
