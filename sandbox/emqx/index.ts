// EMQX node emulator: an ImageHandler for the sandbox's kubelet emulator. Every container whose image is an EMQX
// 5.x/6.x image (`emqx/emqx`, `emqx/emqx-enterprise`, any registry prefix) becomes one emulated node, configured
// only from what the pod carries. See README.md.
import type { ImageHandler, RunningContainer } from '../kubelet/handler.ts';
import type { EmqxClock } from './clock.ts';
import { runExec } from './ctl.ts';
import { EmqxFabric } from './fabric.ts';
import { isEmqxImage } from './image.ts';
import { EmqxNode } from './node.ts';
import type { NodeTiming } from './node.ts';

export { ManualClock, ScaledClock } from './clock.ts';
export type { EmqxClock, TimerHandle } from './clock.ts';
export { startControlServer } from './control-http.ts';
export type { ControlServer } from './control-http.ts';
export { EmqxFabric } from './fabric.ts';
export type { ApiFault, FabricOptions, LoadCounts, NodeExit, NodeFaults, NodeSummary } from './fabric.ts';
export { DEFAULT_LATEST_VERSION, isEmqxImage, parseEmqxImage } from './image.ts';
export type { EmqxImageInfo, Edition } from './image.ts';
export { DEFAULT_TIMING } from './node.ts';
export type { NodeTiming } from './node.ts';

export interface EmqxHandlerOptions {
  /** The fabric to put nodes in; a new one (with `timeScale`/`clock`) when omitted. */
  fabric?: EmqxFabric;
  /** Emulated time runs this many times faster than real time (default 1). Only used to create the fabric. */
  timeScale?: number;
  clock?: EmqxClock;
  /** The version emulated for `latest`, digest-only or non-version tags (default 6.0.1). */
  latestVersion?: string;
  /** Emulated durations of boot, restarts and retries. */
  timing?: Partial<NodeTiming>;
}

export interface EmqxHandler extends ImageHandler {
  readonly fabric: EmqxFabric;
}

export function createEmqxHandler(opts: EmqxHandlerOptions = {}): EmqxHandler {
  const fabric =
    opts.fabric ??
    new EmqxFabric({
      ...(opts.timeScale === undefined ? {} : { timeScale: opts.timeScale }),
      ...(opts.clock === undefined ? {} : { clock: opts.clock }),
    });
  return {
    name: 'emqx',
    fabric,
    matches: (image: string) => isEmqxImage(image),
    async start(ctx): Promise<RunningContainer> {
      const node = new EmqxNode(fabric, ctx, {
        ...(opts.latestVersion === undefined ? {} : { latestVersion: opts.latestVersion }),
        ...(opts.timing === undefined ? {} : { timing: opts.timing }),
      });
      await node.start();
      return {
        exited: node.exited,
        stop: ({ graceful }) => node.shutdown(graceful),
        exec: async (command, timeoutMs) => {
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<{ exitCode: number; stdout: string; stderr: string }>((resolve) => {
            timer = setTimeout(
              () => resolve({ exitCode: 124, stdout: '', stderr: `exec timed out after ${timeoutMs}ms\n` }),
              Math.max(1, timeoutMs),
            );
          });
          try {
            return await Promise.race([runExec(node, command), timeout]);
          } finally {
            clearTimeout(timer);
          }
        },
      };
    },
  };
}
