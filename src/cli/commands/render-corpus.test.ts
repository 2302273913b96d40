// The malformed-resource corpus of issue 11 (test/support/corpus.ts) through `render`, in-process: every entry is
// refused with exactly its expected line, naming the field, and no secret in it ever reaches the output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { render } from './render.ts';
import { conditionMessage } from '../../status/conditions.ts';
import { CORPUS, corpusResource } from '../../../test/support/corpus.ts';

async function run(text: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await render(['-f', 'x.yaml'], {
    readFile: () => text,
    readStdin: () => '',
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
  });
  return { code, stdout, stderr };
}

test('the corpus has at least 60 malformed resources, each named once', () => {
  assert.ok(CORPUS.length >= 60, `${CORPUS.length} entries`);
  assert.equal(new Set(CORPUS.map((e) => e.name)).size, CORPUS.length);
});

for (const entry of CORPUS) {
  test(`corpus: ${entry.name} is refused (${entry.outcome})`, async () => {
    const obj = corpusResource(entry, 'default');
    const r = await run(stringify(obj, { lineWidth: 0 }));
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const name = (obj.metadata as { name: string }).name;
    const where = `x.yaml: document 1 (EMQX "${name}"): `;
    const lines = r.stderr.trimEnd().split('\n');
    if (entry.outcome === 'config') {
      assert.deepEqual(lines, [`${where}spec.config.data: ${entry.message}`]);
    } else {
      assert.deepEqual(lines, [`${where}${entry.path}: ${entry.message}`]);
    }
    assert.doesNotMatch(r.stderr, /SECRET/, 'no secret value is quoted');
  });
}

test('corpus: the shared redaction leaves every config message readable in conditions and Events', () => {
  for (const entry of CORPUS.filter((e) => e.outcome === 'config')) {
    const text = `spec.config.data: ${entry.message}`;
    assert.equal(conditionMessage(text), text, entry.name);
  }
});
