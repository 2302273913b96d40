import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import ts from 'typescript';
import k8sSchemas from './k8s-schemas.json' with { type: 'json' };
import type { CelRule, Schema } from './schema.ts';
import {
  emqxV2alpha1Schema,
  emqxV2beta1Schema,
  PATTERN_QUANTITY,
  RULE_REBALANCE_INSTANCE_KIND,
  RULE_TLS_CERTIFICATE_SOURCE,
  RULE_TLS_EXTRA_DNS_NEEDS_ISSUER,
  RULE_TLS_LISTENERS_SOURCE,
  RULE_V2ALPHA1_SHAPE,
  rebalanceV2beta1Schema,
  toCrdSchema,
  walkSchema,
} from './schema.ts';

const ROOTS: Record<string, () => Schema> = {
  'EMQX v2beta1': emqxV2beta1Schema,
  'EMQX v2alpha1': emqxV2alpha1Schema,
  'Rebalance v2beta1': rebalanceV2beta1Schema,
};

/**
 * Examples for every CEL rule, keyed by its CEL text: values `self` may take that the rule must accept and reject.
 * A rule without an entry here fails the test below, so a new rule cannot go in untested.
 */
const CEL_EXAMPLES: Record<
  string,
  { valid: unknown[]; invalid: unknown[]; old?: unknown; validOnUpdate?: { old: unknown; values: unknown[] } }
> = {
  "self.all(e, e.name != 'EMQX_NODE__COOKIE')": {
    valid: [
      [],
      [
        { name: 'A', value: '1' },
        { name: 'EMQX_NODE__NAME', value: 'x' },
      ],
    ],
    invalid: [[{ name: 'EMQX_NODE__COOKIE', value: 'x' }], [{ name: 'A' }, { name: 'EMQX_NODE__COOKIE' }]],
  },
  [RULE_TLS_CERTIFICATE_SOURCE.rule]: {
    valid: [{ secretName: 'a' }, { issuerRef: { name: 'ca' } }],
    invalid: [{}, { secretName: 'a', issuerRef: { name: 'ca' } }],
  },
  [RULE_TLS_LISTENERS_SOURCE.rule]: {
    valid: [
      { secretName: 'a' },
      { issuerRef: { name: 'ca' } },
      { perListener: [{ listener: 'ssl:x', secretName: 'b' }] },
      { secretName: 'a', perListener: [{ listener: 'ssl:x', secretName: 'b' }] },
    ],
    invalid: [{}, { perListener: [] }, { secretName: 'a', issuerRef: { name: 'ca' } }],
  },
  [RULE_TLS_EXTRA_DNS_NEEDS_ISSUER.rule]: {
    valid: [{ secretName: 'a' }, { issuerRef: { name: 'ca' }, extraDNSNames: ['a.example.com'] }],
    invalid: [{ secretName: 'a', extraDNSNames: ['a.example.com'] }, { extraDNSNames: [] }],
  },
  [RULE_REBALANCE_INSTANCE_KIND.rule]: {
    valid: ['EMQX', ''],
    invalid: ['EmqxEnterprise', 'EmqxBroker', 'emqx'],
  },
  [RULE_V2ALPHA1_SHAPE.rule]: {
    valid: [
      { image: 'emqx/emqx:5.8.3' },
      { image: 'x', bootstrapConfig: 'a = 1', coreTemplate: { spec: { env: [], volumeClaimTemplates: {} } } },
      { image: 'x', dashboardServiceTemplate: { apiVersion: 'v1', kind: 'Service' } },
      { emqxTemplate: { image: 'x' } },
      { emqxTemplate: { image: 'x' }, persistent: {}, coreTemplate: { metadata: {}, spec: { replicas: 1 } } },
      { emqxTemplate: { image: 'x' }, replicantTemplate: { spec: { nodeSelector: {}, tolerations: [] } } },
    ],
    invalid: [
      {},
      { coreTemplate: { spec: { replicas: 1 } } },
      { image: 'x', emqxTemplate: { image: 'x' } },
      { image: 'x', persistent: {} },
      { emqxTemplate: { image: 'x' }, bootstrapConfig: 'a = 1' },
      { emqxTemplate: { image: 'x' }, coreTemplate: { spec: { env: [] } } },
      { emqxTemplate: { image: 'x' }, replicantTemplate: { spec: { podSecurityContext: {} } } },
      { emqxTemplate: { image: 'x' }, listenersServiceTemplate: { enabled: false } },
    ],
  },
  '!(has(self.minAvailable) && has(self.maxUnavailable))': {
    valid: [{}, { minAvailable: 1 }, { maxUnavailable: '25%' }, { minAvailable: 0 }],
    invalid: [
      { minAvailable: 1, maxUnavailable: 1 },
      { minAvailable: '50%', maxUnavailable: 0 },
    ],
  },
  'has(self.secretRef) ? !has(self.key) && !has(self.secret) : has(self.key) && has(self.secret)': {
    valid: [{ key: 'a', secret: 'abc' }, { secretRef: { key: {}, secret: {} } }],
    invalid: [
      {},
      { key: 'a' },
      { secret: 'abc' },
      { key: 'a', secret: 'abc', secretRef: {} },
      { secretRef: {}, key: 'a' },
    ],
  },
  'self.all(k, !has(k.key) || self.exists_one(j, has(j.key) && j.key == k.key))': {
    valid: [[], [{ key: 'a' }, { key: 'b' }], [{ secretRef: {} }, { secretRef: {} }, { key: 'a' }]],
    invalid: [
      [{ key: 'a' }, { key: 'a' }],
      [{ key: 'a' }, { secretRef: {} }, { key: 'b' }, { key: 'a' }],
    ],
  },
  "!has(self.volumeClaimTemplates) || !has(self.dataVolume) || self.dataVolume == 'PersistentVolumeClaim'": {
    valid: [
      {},
      { dataVolume: 'EmptyDir' },
      { volumeClaimTemplates: {} },
      { volumeClaimTemplates: {}, dataVolume: 'PersistentVolumeClaim' },
    ],
    invalid: [{ volumeClaimTemplates: {}, dataVolume: 'EmptyDir' }],
  },
  "oldSelf.hasValue() || (self.metadata.name.size() <= 36 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$'))":
    {
      valid: [
        { metadata: { name: 'emqx' } },
        { metadata: { name: 'a'.repeat(36) } },
        { metadata: { name: 'my-emqx-2' } },
      ],
      invalid: [
        { metadata: { name: 'a'.repeat(37) } },
        { metadata: { name: 'a'.repeat(53) } },
        { metadata: { name: '1emqx' } },
        { metadata: { name: 'emqx-' } },
        { metadata: { name: 'Emqx' } },
        { metadata: { name: 'em.qx' } },
      ],
      // The name cannot change; one made under an older limit stays valid on updates.
      validOnUpdate: {
        old: { metadata: { name: 'a'.repeat(53) } },
        values: [{ metadata: { name: 'a'.repeat(53) } }],
      },
    },
  'self == oldSelf': {
    old: { instanceName: 'a', rebalanceStrategy: { connEvictRate: 1 } },
    valid: [{ instanceName: 'a', rebalanceStrategy: { connEvictRate: 1 } }],
    invalid: [
      { instanceName: 'b', rebalanceStrategy: { connEvictRate: 1 } },
      { instanceName: 'a', rebalanceStrategy: { connEvictRate: 2 } },
      { instanceName: 'a', rebalanceStrategy: { connEvictRate: 1, waitTakeover: 3 } },
    ],
  },
};

function allRules(): Array<{ root: string; path: string; rule: CelRule }> {
  const out = [];
  for (const [root, build] of Object.entries(ROOTS)) {
    for (const { path, schema } of walkSchema(build())) {
      for (const rule of schema['x-kubernetes-validations'] ?? []) out.push({ root, path, rule });
    }
  }
  return out;
}

test('every CEL rule has a TypeScript check that agrees with its examples', () => {
  const rules = allRules();
  assert.ok(rules.length >= 6, `expected the documented rules, found ${rules.length}`);
  for (const { root, path: at, rule } of rules) {
    const where = `${root} ${at || '<root>'}: ${rule.rule}`;
    assert.equal(typeof rule.check, 'function', `${where} has no TypeScript check`);
    assert.ok(rule.message.length > 0, `${where} has no message`);
    const examples = CEL_EXAMPLES[rule.rule];
    assert.ok(examples, `${where} has no examples in CEL_EXAMPLES`);
    for (const v of examples.valid)
      assert.equal(rule.check(v, examples.old), true, `${where} rejects ${JSON.stringify(v)}`);
    for (const v of examples.invalid) {
      assert.equal(rule.check(v, examples.old), false, `${where} accepts ${JSON.stringify(v)}`);
    }
    for (const v of examples.validOnUpdate?.values ?? []) {
      const old = examples.validOnUpdate!.old;
      assert.equal(rule.check(v, old), true, `${where} rejects the update ${JSON.stringify(v)}`);
    }
  }
});

test('optionalOldSelf is set exactly on the rules that treat oldSelf as optional', () => {
  for (const { root, path: at, rule } of allRules()) {
    const where = `${root} ${at || '<root>'}: ${rule.rule}`;
    const optional = /\boldSelf\.(hasValue|orValue|value)\(/.test(rule.rule);
    assert.equal(Boolean(rule.optionalOldSelf), optional, where);
  }
  for (const [root, build] of Object.entries(ROOTS)) {
    const emitted: string[] = [];
    JSON.stringify(toCrdSchema(build()), (key, value) => {
      if (key === 'x-kubernetes-validations') {
        for (const r of value as Array<Record<string, unknown>>)
          if (r.optionalOldSelf === true) emitted.push(r.rule as string);
      }
      return value;
    });
    const defined = allRules()
      .filter((r) => r.root === root && r.rule.optionalOldSelf)
      .map((r) => r.rule.rule);
    assert.deepEqual(emitted.sort(), defined.sort(), `${root}: optionalOldSelf in the CRD`);
  }
  assert.ok(
    allRules().some((r) => r.rule.optionalOldSelf),
    'the EMQX name rule is checked on create only',
  );
});

test('the CRD form of each schema carries every CEL rule, without the TypeScript check', () => {
  for (const [root, build] of Object.entries(ROOTS)) {
    const schema = build();
    const crd = toCrdSchema(schema);
    const emitted: string[] = [];
    JSON.stringify(crd, (key, value) => {
      if (key === 'x-kubernetes-validations') {
        for (const r of value as Array<Record<string, unknown>>) {
          assert.deepEqual(
            Object.keys(r).filter(
              (k) => !['rule', 'message', 'fieldPath', 'reason', 'optionalOldSelf'].includes(k),
            ),
            [],
            `${root}: CRD rule has extra keys`,
          );
          emitted.push(r.rule as string);
        }
      }
      return value;
    });
    const defined = [...walkSchema(schema)].flatMap(({ schema: s }) =>
      (s['x-kubernetes-validations'] ?? []).map((r) => r.rule),
    );
    assert.deepEqual(emitted.sort(), defined.sort(), root);
  }
});

test('every property has a description, so kubectl explain is useful', () => {
  for (const [root, build] of Object.entries(ROOTS)) {
    const missing = [...walkSchema(build())]
      .filter(({ path: p }) => p !== '' && p !== 'metadata' && !p.endsWith('[]') && !p.endsWith('{}'))
      .filter(({ schema }) => !schema.description)
      .map(({ path: p }) => p);
    assert.deepEqual(missing, [], `${root}: properties without a description`);
  }
});

test('the schemas are structural: typed nodes, no $ref, preserve-unknown-fields only on the v2alpha1 status', () => {
  for (const [root, build] of Object.entries(ROOTS)) {
    const crd = toCrdSchema(build());
    assert.ok(!JSON.stringify(crd).includes('$ref'), `${root}: $ref in schema`);
    for (const { path: p, schema } of walkSchema(build())) {
      const where = `${root} ${p || '<root>'}`;
      if (schema['x-kubernetes-int-or-string']) {
        assert.equal(schema.type, undefined, `${where}: int-or-string with a type`);
      } else {
        assert.ok(schema.type, `${where}: no type`);
      }
      if (schema['x-kubernetes-preserve-unknown-fields']) {
        assert.equal(
          `${root} ${p}`,
          'EMQX v2alpha1 status',
          `${where}: unexpected x-kubernetes-preserve-unknown-fields`,
        );
      }
      if (schema.type === 'object' && !schema.properties && schema.additionalProperties === undefined) {
        assert.ok(
          p === 'metadata' || schema['x-kubernetes-preserve-unknown-fields'],
          `${where}: empty object`,
        );
      }
      if (schema['x-kubernetes-list-type'] === 'map') {
        const item = schema.items;
        for (const key of schema['x-kubernetes-list-map-keys'] ?? []) {
          const keyed = item?.required?.includes(key) || item?.properties?.[key]?.default !== undefined;
          assert.ok(keyed, `${where}: list-map key ${key} neither required nor defaulted`);
        }
      }
      if (p === 'metadata') assert.deepEqual(schema, { type: 'object' }, `${where}: metadata must be bare`);
    }
  }
});

test('strings and lists that CEL rules iterate are bounded', () => {
  const spec = emqxV2beta1Schema().properties?.spec;
  const keys = spec?.properties?.bootstrapAPIKeys;
  assert.ok(keys?.maxItems !== undefined, 'bootstrapAPIKeys needs maxItems');
  assert.ok(keys?.items?.properties?.key?.maxLength !== undefined, 'bootstrapAPIKeys[].key needs maxLength');
  const rebalanceSpec = rebalanceV2beta1Schema().properties?.spec;
  for (const { path: p, schema } of walkSchema(rebalanceSpec as Schema)) {
    if (schema.type === 'string')
      assert.ok(schema.maxLength !== undefined, `Rebalance spec.${p}: needs maxLength (self == oldSelf)`);
  }
});

test('the generated Kubernetes schemas use the quantity pattern the validator explains', () => {
  const requests = (k8sSchemas.ResourceRequirements as Schema).properties?.requests
    ?.additionalProperties as Schema;
  assert.equal(requests.pattern, PATTERN_QUANTITY);
  assert.equal(requests['x-kubernetes-int-or-string'], true);
});

test('v2beta1 defaults in the schema are scalars only', () => {
  for (const { path: p, schema } of walkSchema(emqxV2beta1Schema())) {
    if (schema.default !== undefined) {
      assert.notEqual(typeof schema.default, 'object', `spec default at ${p} is structured`);
    }
  }
});

// ---------------------------------------------------------------------------------------------------------------
// types.ts and the schema agree on the set of fields
// ---------------------------------------------------------------------------------------------------------------

/** Property names of our own interfaces in types.ts, by path, down to the first type declared elsewhere. */
function typeFields(typeName: string): Map<string, string[]> {
  const file = path.join(import.meta.dirname, 'types.ts');
  const program = ts.createProgram([file], {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  assert.ok(source);
  const decl = source.statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === typeName,
  );
  assert.ok(decl, `${typeName} not found in types.ts`);
  const out = new Map<string, string[]>();
  const ours = (t: ts.Type): boolean =>
    (t.getSymbol()?.declarations ?? []).some((d) => d.getSourceFile() === source) ||
    (t.isIntersection() && t.types.some((x) => ours(x)));
  const visit = (type: ts.Type, at: string, depth: number) => {
    if (depth > 8) return;
    const t = checker.getNonNullableType(type);
    const element = checker.isArrayType(t) ? checker.getTypeArguments(t as ts.TypeReference)[0] : undefined;
    if (element) return visit(element, `${at}[]`, depth + 1);
    const isAnonObject =
      (t.flags & ts.TypeFlags.Object) !== 0 &&
      !t.getSymbol()?.declarations?.some((d) => d.getSourceFile() !== source);
    if (!ours(t) && !isAnonObject) return;
    if (checker.getIndexInfosOfType(t).length > 0) return;
    const props = checker.getPropertiesOfType(t);
    if (props.length === 0) return;
    out.set(at, props.map((p) => p.name).sort());
    for (const p of props) {
      const decl0 = p.valueDeclaration ?? p.declarations?.[0];
      if (!decl0) continue;
      visit(checker.getTypeOfSymbolAtLocation(p, decl0), at ? `${at}.${p.name}` : p.name, depth + 1);
    }
  };
  visit(checker.getTypeAtLocation(decl), '', 0);
  return out;
}

function schemaFields(schema: Schema, paths: Iterable<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of paths) {
    let node: Schema | undefined = schema;
    for (const part of p.split('.').filter(Boolean)) {
      const name = part.replace(/\[\]$/, '');
      node = node?.properties?.[name];
      if (part.endsWith('[]')) node = node?.items;
    }
    out.set(p, Object.keys(node?.properties ?? {}).sort());
  }
  return out;
}

test('types.ts and the schemas agree on the fields of EMQX, Rebalance and EMQX v2alpha1', () => {
  for (const [typeName, schema] of [
    ['EMQX', emqxV2beta1Schema()],
    ['Rebalance', rebalanceV2beta1Schema()],
    ['EMQXV2Alpha1Any', emqxV2alpha1Schema()],
  ] as const) {
    const fromTypes = typeFields(typeName);
    // metadata is V1ObjectMeta in the types and a bare object in the schema; v2alpha1 status is opaque.
    fromTypes.delete('metadata');
    if (typeName === 'EMQXV2Alpha1Any') fromTypes.delete('status');
    assert.ok(
      fromTypes.size > 3,
      `${typeName}: type walk found too little (${[...fromTypes.keys()].join(', ')})`,
    );
    const fromSchema = schemaFields(schema, fromTypes.keys());
    for (const [p, fields] of fromTypes) {
      assert.deepEqual(
        fromSchema.get(p),
        fields,
        `${typeName} ${p || '<root>'}: types.ts and schema.ts differ`,
      );
    }
  }
});
