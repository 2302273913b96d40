// Parses spec.config.data. Invalid HOCON changes nothing: every step that would write from the config is skipped,
// the ConfigApplied condition carries the line and column, and an Event says so.
import { HoconError } from '../../hocon/index.ts';
import { parseEmqxConfig } from '../../resources/index.ts';
import type { Step } from '../context.ts';

export const parseConfig: Step = {
  name: 'parseConfig',
  async run(ctx) {
    try {
      ctx.conf = parseEmqxConfig(ctx.emqx.spec.config?.data);
    } catch (err) {
      if (!(err instanceof HoconError)) throw err;
      const message = `spec.config.data: ${err.message}`;
      ctx.observed.config = { state: 'Invalid', message };
      void ctx.events.warning(ctx.raw, 'InvalidConfig', `${message}; nothing was changed`);
      return { halt: 'invalid config' };
    }
  },
};
