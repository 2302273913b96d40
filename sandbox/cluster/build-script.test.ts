import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BuildScriptError, runBuildScript } from './build-script.ts';

function script(body: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'build-script-')), 'run.sh');
  writeFileSync(file, body);
  return file;
}

describe('runBuildScript', () => {
  it('resolves with the last stdout line and passes stderr on as progress', async () => {
    const progress: string[] = [];
    const dir = await runBuildScript(script('echo noise\necho step >&2\necho "$WHERE"\n'), {
      env: { ...process.env, WHERE: '/cache/bin' },
      onProgress: (d) => progress.push(d),
    });
    assert.equal(dir, '/cache/bin');
    assert.equal(progress.join(''), 'step\n');
  });

  it('rejects with the exit code and the stderr a caller quotes', async () => {
    const err = await runBuildScript(script('for i in 1 2 3; do echo line$i >&2; done\nexit 3\n')).catch(
      (e: unknown) => e,
    );
    assert.ok(err instanceof BuildScriptError);
    assert.equal(err.code, 3);
    assert.equal(err.tail(2), 'line2\nline3');
  });

  it('kills a script past its time budget (code null)', async () => {
    const err = await runBuildScript(script('sleep 30\n'), { timeoutMs: 200 }).catch((e: unknown) => e);
    assert.ok(err instanceof BuildScriptError);
    assert.equal(err.code, null);
    assert.match(err.message, /killed by SIGTERM/);
  });
});
