// Test support for integration tests: one running sandbox per test file and a fresh namespace per test.
//
//   import { useSandbox } from './support/sandbox.ts';
//   const sb = useSandbox();                         // starts in before(), stops in after() (also on failure)
//   test('...', async (t) => {
//     const ns = await sb.newNamespace(t);           // deleted when the test ends
//     await sb.apply(yamlOrObjects, ns);             // server-side apply
//     await sb.waitFor('3 ready pods', async () => ..., 30_000);
//     await sb.kubectl(['get', 'pods', '-n', ns]);
//   });
//
// Pass extra image handlers (e.g. the EMQX node emulator) with useSandbox({ handlers: [...] }).
// Set EMQX_SANDBOX_KEEP=1 to keep the sandbox directory (logs, pod dirs, volumes) after the run.
import { after, before, type TestContext } from 'node:test';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../sandbox/index.ts';
import { CONTENT_TYPE, KubeApi } from '../../sandbox/kubelet/api.ts';

export const KUBECTL = '/usr/bin/kubectl';
export const TEST_FIELD_MANAGER = 'sandbox-test';

/** What `waitFor` resolves with: the polled value, known not to be falsy. */
export type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>;

export interface TestSandbox {
  readonly sandbox: Sandbox;
  readonly kubeConfig: KubeConfig;
  /** Raw-JSON admin client: `api.get('/api/v1/namespaces/x/pods')`, `api.patch(path, body, contentType)`. */
  readonly api: KubeApi;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly objects: KubernetesObjectApi;
  /** Creates a namespace for this test (name derived from the test name), deleted when the test ends. */
  newNamespace(t: TestContext, prefix?: string): Promise<string>;
  /**
   * Server-side applies (field manager `sandbox-test`, force) objects: YAML text with one or more documents, an
   * object or a list. Namespaced objects without a namespace go to `namespace` (default `default`). Raw JSON, so
   * no field is lost to client-side models (CRDs, new fields). Returns the objects as the server answered.
   */
  apply(input: string | object | object[], namespace?: string): Promise<KubernetesObject[]>;
  /**
   * Polls `fn` (every `intervalMs`, default 200) until it returns a truthy value, which it resolves with. Errors
   * thrown by `fn` count as "not yet". Fails after `timeoutMs` (default 30 s) with `description` and the last
   * value or error seen.
   */
  waitFor<T>(
    description: string,
    fn: () => T | Promise<T>,
    timeoutMs?: number,
    intervalMs?: number,
  ): Promise<Truthy<T>>;
  /** Runs /usr/bin/kubectl with the admin kubeconfig; resolves with stdout, rejects with stderr on failure. */
  kubectl(args: string[], input?: string): Promise<string>;
  /**
   * Resolves once the sandbox runs (rejects if it failed to start). node:test runs a file's top-level before()
   * hooks concurrently, so a before() hook that needs the sandbox awaits this first.
   */
  started(): Promise<Sandbox>;
}

export function useSandbox(opts: SandboxOptions = {}): TestSandbox {
  let sb: Sandbox | undefined;
  let api: KubeApi | undefined;
  let core: CoreV1Api | undefined;
  let apps: AppsV1Api | undefined;
  let objects: KubernetesObjectApi | undefined;
  const need = <T>(v: T | undefined): T => {
    if (v === undefined)
      throw new Error('the sandbox is not running (useSandbox() must be called at the top level)');
    return v;
  };

  let markStarted: (s: Sandbox) => void = () => {};
  let markFailed: (err: unknown) => void = () => {};
  const started = new Promise<Sandbox>((resolve, reject) => {
    markStarted = resolve;
    markFailed = reject;
  });
  started.catch(() => {}); // the before() hook reports the failure; a file with no waiter must not crash on it
  before(
    async () => {
      try {
        sb = await startSandbox(opts);
      } catch (err) {
        markFailed(err);
        throw err;
      }
      api = new KubeApi(sb.kubeConfig);
      core = sb.kubeConfig.makeApiClient(CoreV1Api);
      apps = sb.kubeConfig.makeApiClient(AppsV1Api);
      objects = KubernetesObjectApi.makeApiClient(sb.kubeConfig);
      process.stderr.write(`# sandbox ready in ${sb.startupMs} ms; logs in ${sb.logsDir}\n`);
      markStarted(sb);
    },
    { timeout: 45 * 60_000 }, // the first run builds the Kubernetes binaries
  );
  after(async () => {
    await sb?.stop();
  });

  const waitFor = async <T>(
    description: string,
    fn: () => T | Promise<T>,
    timeoutMs = 30_000,
    intervalMs = 200,
  ): Promise<Truthy<T>> => {
    const t0 = Date.now();
    let last: unknown;
    for (;;) {
      try {
        const v = await fn();
        if (v) return v as Truthy<T>;
        last = v;
      } catch (e) {
        last = e;
      }
      if (Date.now() - t0 > timeoutMs) {
        const seen = last instanceof Error ? `error: ${last.message}` : `value: ${JSON.stringify(last)}`;
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${description} (last ${seen})`);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  };

  const kubectl = (args: string[], input?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile(
        KUBECTL,
        ['--kubeconfig', need(sb).kubeconfigPath, ...args],
        { timeout: 60_000, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
          else resolve(stdout);
        },
      );
      child.stdin?.end(input ?? '');
    });

  // Discovery cache for apply: "<apiVersion>/<Kind>" -> resource name and scope.
  const resources = new Map<string, { name: string; namespaced: boolean }>();
  const discover = async (apiVersion: string): Promise<void> => {
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = await need(api).get<{
      resources: Array<{ name: string; kind: string; namespaced: boolean }>;
    }>(base);
    for (const r of list.resources) {
      if (!r.name.includes('/'))
        resources.set(`${apiVersion}/${r.kind}`, { name: r.name, namespaced: r.namespaced });
    }
  };
  const resourceFor = async (apiVersion: string, kind: string) => {
    const key = `${apiVersion}/${kind}`;
    // A CRD's kinds appear in discovery shortly after it is created: look again for a few seconds.
    for (let attempt = 0; !resources.has(key) && attempt < 20; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 250));
      await discover(apiVersion).catch(() => {});
    }
    const r = resources.get(key);
    if (!r) throw new Error(`apply: the API server does not serve ${kind} in ${apiVersion}`);
    return r;
  };

  // Raw JSON server-side apply: no client-side (de)serialisation that could drop fields it does not know.
  const apply = async (
    input: string | object | object[],
    namespace?: string,
  ): Promise<KubernetesObject[]> => {
    const docs: KubernetesObject[] =
      typeof input === 'string'
        ? parseAllDocuments(input)
            .map((d) => d.toJSON() as KubernetesObject)
            .filter((d) => d && typeof d === 'object')
        : ((Array.isArray(input) ? input : [input]) as KubernetesObject[]);
    const out: KubernetesObject[] = [];
    for (const doc of docs) {
      const body = structuredClone(doc);
      if (!body.apiVersion || !body.kind || !body.metadata?.name) {
        throw new Error(
          `apply: apiVersion, kind and metadata.name are required (${JSON.stringify(doc).slice(0, 200)})`,
        );
      }
      delete body.metadata.managedFields;
      delete body.metadata.resourceVersion;
      const r = await resourceFor(body.apiVersion, body.kind);
      if (r.namespaced) body.metadata.namespace ??= namespace ?? 'default';
      else delete body.metadata.namespace;
      const base = body.apiVersion.includes('/') ? `/apis/${body.apiVersion}` : `/api/${body.apiVersion}`;
      const scope = r.namespaced ? `/namespaces/${body.metadata.namespace}` : '';
      out.push(
        await need(api).request<KubernetesObject>(
          'PATCH',
          `${base}${scope}/${r.name}/${body.metadata.name}`,
          {
            body,
            contentType: CONTENT_TYPE.apply,
            query: { fieldManager: TEST_FIELD_MANAGER, force: true },
          },
        ),
      );
    }
    return out;
  };

  const newNamespace = async (t: TestContext, prefix = 't'): Promise<string> => {
    const slug = `${prefix}-${t.name}`
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/, '');
    const name = `${slug}-${randomBytes(3).toString('hex')}`;
    await need(api).post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    t.after(async () => {
      if (process.env.EMQX_SANDBOX_KEEP === '1') return;
      await api?.delete(`/api/v1/namespaces/${name}`).catch(() => {});
    });
    return name;
  };

  return {
    get sandbox() {
      return need(sb);
    },
    get kubeConfig() {
      return need(sb).kubeConfig;
    },
    get api() {
      return need(api);
    },
    get core() {
      return need(core);
    },
    get apps() {
      return need(apps);
    },
    get objects() {
      return need(objects);
    },
    newNamespace,
    apply,
    waitFor,
    kubectl,
    started: () => started,
  };
}
