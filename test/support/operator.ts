// A test sandbox with the EMQX node emulator, the CRDs and RBAC, and one operator process running, unchanged, as
// the restricted `emqx-operator` user (see sandbox/operator.ts).
import { after, before } from 'node:test';
import { createEmqxHandler, type EmqxHandler } from '../../sandbox/emqx/index.ts';
import type { SandboxOptions } from '../../sandbox/index.ts';
import { prepareForOperator, startOperatorProcess, type OperatorProcess } from '../../sandbox/operator.ts';
import { useSandbox, type TestSandbox } from './sandbox.ts';

export { OPERATOR_NAMESPACE, startOperatorProcess, type OperatorProcess } from '../../sandbox/operator.ts';

export interface OperatorSandbox extends TestSandbox {
  readonly emqx: EmqxHandler;
  /** The operator of this file; tests that stop or kill it start a new one and assign it here. */
  operator: OperatorProcess;
}

/**
 * `timeScale` speeds up emulated EMQX time (boot, evacuation, waits); `startOperator: false` leaves starting the
 * operator to the tests.
 */
export function useOperatorSandbox(
  opts: SandboxOptions & { timeScale?: number; startOperator?: boolean; operatorArgs?: string[] } = {},
): OperatorSandbox {
  const emqx = createEmqxHandler({ timeScale: opts.timeScale ?? 10 });
  const sb = useSandbox({ ...opts, handlers: [emqx, ...(opts.handlers ?? [])] });
  let operator: OperatorProcess | undefined;
  before(async () => {
    // node:test runs a file's top-level before() hooks concurrently: wait for the sandbox's own hook.
    for (;;) {
      try {
        if (sb.sandbox) break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await prepareForOperator(sb.sandbox);
    if (opts.startOperator !== false)
      operator = startOperatorProcess(sb.sandbox, { args: opts.operatorArgs, logLevel: 'debug' });
  });
  after(async () => {
    await operator?.stop();
  });
  const out = Object.create(sb) as OperatorSandbox;
  Object.defineProperty(out, 'emqx', { value: emqx });
  Object.defineProperty(out, 'operator', {
    get: () => operator!,
    set: (op: OperatorProcess) => (operator = op),
  });
  return out;
}
