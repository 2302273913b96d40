// The CustomResourceDefinitions of apps.emqx.io, built from the schemas of ./schema.ts.
//
// EMQX has two versions of different shape: v2beta1 (served, storage) and v2alpha1 (deprecated). Serving both
// needs a conversion webhook, which the operator serves at /convert with ./conversion.ts:
// - with `webhook` options, v2alpha1 is served and `conversion.strategy` is Webhook;
// - without them, v2alpha1 stays listed (so that a cluster whose storedVersions still name it accepts the CRD) but
//   is not served, and the strategy is None: with nothing to convert, no webhook is needed. Strategy None with
//   v2alpha1 served would be wrong: the API server would hand out v2beta1 objects relabelled as v2alpha1.
// `emqx-operator crds` uses the operator's in-cluster webhook Service by default (DEFAULT_WEBHOOK_SERVICE).
import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';
import type { Schema } from './schema.ts';
import { emqxV2alpha1Schema, emqxV2beta1Schema, rebalanceV2beta1Schema, toCrdSchema } from './schema.ts';
import { API_GROUP } from './types.ts';

export const EMQX_CRD_NAME = `emqxes.${API_GROUP}`;
export const REBALANCE_CRD_NAME = `rebalances.${API_GROUP}`;

export interface WebhookService {
  namespace: string;
  name: string;
  path?: string;
  port?: number;
}

export interface WebhookOptions {
  /** The conversion webhook as an in-cluster Service. Exclusive with url. */
  service?: WebhookService;
  /** The conversion webhook as a URL (https://host:port/path). Exclusive with service. */
  url?: string;
  /** Base64-encoded PEM CA bundle that signs the webhook's serving certificate. */
  caBundle?: string;
}

export interface CrdOptions {
  /** Serve v2alpha1 through this conversion webhook. Absent: v2alpha1 is not served. */
  webhook?: WebhookOptions;
}

export const DEFAULT_WEBHOOK_SERVICE: Required<WebhookService> = {
  namespace: 'emqx-operator-system',
  name: 'emqx-operator-webhook',
  path: '/convert',
  port: 443,
};

export const V2ALPHA1_DEPRECATION_WARNING =
  'apps.emqx.io/v2alpha1 EMQX is deprecated; use apps.emqx.io/v2beta1 (`emqx-operator render` converts manifests)';

export const REBALANCE_V1BETA4_DEPRECATION_WARNING =
  'apps.emqx.io/v1beta4 Rebalance (EMQX 4.x) is not served by this operator; use apps.emqx.io/v2beta1';

/** apiextensions.k8s.io/v1 CustomResourceDefinition, as a plain object. */
export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

const LABELS = { 'app.kubernetes.io/part-of': 'emqx-operator' };

function openAPIV3Schema(schema: Schema): Record<string, unknown> {
  return { openAPIV3Schema: toCrdSchema(schema) };
}

const AGE = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

function emqxColumns(imagePath: string) {
  return [
    {
      name: 'Status',
      type: 'string',
      jsonPath: '.status.phase',
      description: 'Lifecycle phase of the cluster',
    },
    { name: 'Cores', type: 'string', jsonPath: '.status.cores', description: 'Ready/desired core nodes' },
    {
      name: 'Replicants',
      type: 'string',
      jsonPath: '.status.replicants',
      description: 'Ready/desired replicant nodes',
    },
    { name: 'Image', type: 'string', jsonPath: imagePath, description: 'EMQX image' },
    AGE,
  ];
}

function conversion(webhook: WebhookOptions | undefined): Record<string, unknown> {
  if (!webhook) return { strategy: 'None' };
  if (webhook.service && webhook.url) throw new Error('webhook: set either service or url, not both');
  const clientConfig: Record<string, unknown> = {};
  if (webhook.url) {
    if (!/^https:\/\//.test(webhook.url)) throw new Error(`webhook url must be https://, not ${webhook.url}`);
    clientConfig.url = webhook.url;
  } else {
    const s = { ...DEFAULT_WEBHOOK_SERVICE, ...webhook.service };
    clientConfig.service = { namespace: s.namespace, name: s.name, path: s.path, port: s.port };
  }
  if (webhook.caBundle) clientConfig.caBundle = webhook.caBundle;
  return { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'], clientConfig } };
}

/**
 * A JSON merge patch that points an installed EMQX CRD's conversion at `webhook`. A merge patch merges
 * `clientConfig` key by key, so it sets the kind of address not used (and an absent caBundle) to null: patching a
 * URL into a CRD that names a Service (as deploy/crds does) would otherwise leave both, which the API server
 * refuses ("exactly one of url or service is required").
 */
export function conversionMergePatch(
  webhook: WebhookOptions,
  opts: { keepCaBundle?: boolean } = {},
): {
  spec: { conversion: Record<string, unknown> };
} {
  const c = conversion(webhook) as {
    strategy: string;
    webhook: { conversionReviewVersions: string[]; clientConfig: Record<string, unknown> };
  };
  // keepCaBundle: someone else (cert-manager's CA injector) owns caBundle; the patch leaves it alone.
  const clientConfig = {
    url: null,
    service: null,
    ...(!opts.keepCaBundle && { caBundle: null }),
    ...c.webhook.clientConfig,
  };
  return { spec: { conversion: { ...c, webhook: { ...c.webhook, clientConfig } } } };
}

export function buildEmqxCrd(options: CrdOptions = {}): CustomResourceDefinition {
  const served = options.webhook !== undefined;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: EMQX_CRD_NAME, labels: { ...LABELS } },
    spec: {
      group: API_GROUP,
      names: {
        kind: 'EMQX',
        listKind: 'EMQXList',
        plural: 'emqxes',
        singular: 'emqx',
        shortNames: ['emqx'],
        categories: ['emqx-all'],
      },
      scope: 'Namespaced',
      conversion: conversion(options.webhook),
      versions: [
        {
          name: 'v2beta1',
          served: true,
          storage: true,
          schema: openAPIV3Schema(emqxV2beta1Schema()),
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.replicantTemplate.spec.replicas',
              statusReplicasPath: '.status.replicantReplicas',
              labelSelectorPath: '.status.replicantSelector',
            },
          },
          additionalPrinterColumns: emqxColumns('.spec.image'),
        },
        {
          name: 'v2alpha1',
          served,
          storage: false,
          deprecated: true,
          deprecationWarning: V2ALPHA1_DEPRECATION_WARNING,
          schema: openAPIV3Schema(emqxV2alpha1Schema()),
          subresources: { status: {} },
          additionalPrinterColumns: emqxColumns('.spec.emqxTemplate.image'),
        },
      ],
    },
  };
}

export function buildRebalanceCrd(): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: REBALANCE_CRD_NAME, labels: { ...LABELS } },
    spec: {
      group: API_GROUP,
      names: {
        kind: 'Rebalance',
        listKind: 'RebalanceList',
        plural: 'rebalances',
        singular: 'rebalance',
        categories: ['emqx-all'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v2beta1',
          served: true,
          storage: true,
          schema: openAPIV3Schema(rebalanceV2beta1Schema()),
          subresources: { status: {} },
          additionalPrinterColumns: [
            {
              name: 'Phase',
              type: 'string',
              jsonPath: '.status.phase',
              description: 'Processing, Completed or Failed',
            },
            AGE,
          ],
        },
        {
          // The Go operator's Rebalance CRD stored v1beta4 (EMQX 4.x) before v2beta1, so a cluster that ran it may
          // still list v1beta4 in status.storedVersions, and the API server refuses a CRD update that drops a
          // stored version. Listed, never served: this operator manages EMQX 5 only, and no v1beta4 object is
          // converted (README: Migrating from the Go operator).
          name: 'v1beta4',
          served: false,
          storage: false,
          deprecated: true,
          deprecationWarning: REBALANCE_V1BETA4_DEPRECATION_WARNING,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'Rebalance v1beta4 (EMQX 4.x, the Go operator): listed for stored versions only, not served.',
              'x-kubernetes-preserve-unknown-fields': true,
            },
          },
          subresources: { status: {} },
        },
      ],
    },
  };
}

/** Both CRDs: EMQX first, then Rebalance. */
export function buildCrds(options: CrdOptions = {}): CustomResourceDefinition[] {
  return [buildEmqxCrd(options), buildRebalanceCrd()];
}

const HEADER =
  '# Generated by `emqx-operator crds --write` (npm run crds) from src/api/schema.ts. Do not edit.\n';

/** One CRD as a YAML document, as written to deploy/crds/<name>.yaml. */
export function crdToYaml(crd: CustomResourceDefinition): string {
  // `yaml` is loaded only here (the CLI's crds command, tests): the running operator never writes YAML and saves
  // its ~10 MiB of RSS
  const { stringify } = createRequire(import.meta.url)('yaml') as typeof YamlModule;
  return HEADER + stringify(crd, { lineWidth: 0 });
}

/** The files of deploy/crds: file name → content. */
export function crdFiles(options: CrdOptions = {}): Record<string, string> {
  return Object.fromEntries(buildCrds(options).map((crd) => [`${crd.metadata.name}.yaml`, crdToYaml(crd)]));
}

/** The options deploy/crds is generated with: the default in-cluster webhook Service, no CA bundle. */
export const DEPLOY_CRD_OPTIONS: CrdOptions = { webhook: { service: DEFAULT_WEBHOOK_SERVICE } };
