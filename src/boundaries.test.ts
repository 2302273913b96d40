// The operator's code must not know whether it runs in the sandbox: nothing under src/ imports from sandbox/ (the
// operator image ships src/ alone). This test reads every source file under src/ and resolves its imports.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '..');
const SRC = path.join(ROOT, 'src');
const SANDBOX = path.join(ROOT, 'sandbox');

/** Every module specifier of a source text: static and dynamic imports, re-exports, require(). */
export function importSpecifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\b(?:import|require)\s*\(\s*['"`]([^'"`]+)['"`]/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) found.push(m[1]!);
  return found;
}

/** The specifiers of `file` (text `text`) that lead into sandbox/. */
export function sandboxImports(file: string, text: string): string[] {
  return importSpecifiers(text).filter((spec) => {
    if (spec.startsWith('.') || spec.startsWith('/')) {
      const target = path.resolve(path.dirname(file), spec);
      return target === SANDBOX || target.startsWith(SANDBOX + path.sep);
    }
    return /(^|\/)sandbox(\/|$)/.test(spec);
  });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|js|mjs|cjs)$/.test(e.name) ? [p] : [];
  });
}

test('the import finder sees every form of import that could reach sandbox/', () => {
  const file = path.join(SRC, 'cli/commands/x.ts');
  const text = [
    "import { a } from '../../../sandbox/index.ts';",
    "import type { B } from '../../../sandbox/kubelet/handler.ts';",
    "export { c } from '../../../sandbox/emqx/api.ts';",
    "import '../../../sandbox/side-effect.ts';",
    "const d = await import('../../../sandbox/operator.ts');",
    "import {\n  e,\n  f,\n} from '../../../sandbox/cluster/binaries.ts';",
    "import { ok } from '../../k8s/rest.ts';",
    "import { sandboxy } from './sandbox-free.ts';",
  ].join('\n');
  assert.deepEqual(sandboxImports(file, text), [
    '../../../sandbox/index.ts',
    '../../../sandbox/kubelet/handler.ts',
    '../../../sandbox/emqx/api.ts',
    '../../../sandbox/cluster/binaries.ts',
    '../../../sandbox/side-effect.ts',
    '../../../sandbox/operator.ts',
  ]);
});

test('no file under src/ imports from sandbox/', () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 50, `found ${files.length} source files under src/`);
  const offenders = files.flatMap((f) =>
    sandboxImports(f, readFileSync(f, 'utf8')).map((spec) => `${path.relative(ROOT, f)}: ${spec}`),
  );
  assert.deepEqual(offenders, [], 'src/ must not import sandbox/ (move the code to sandbox/ instead)');
});
