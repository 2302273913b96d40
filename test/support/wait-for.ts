// Bounded polling for unit tests against in-process stand-ins: resolves once `cond()` holds, fails naming `what`
// after `timeoutMs`. Checks every 5 ms (the stand-ins answer in microseconds).
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
