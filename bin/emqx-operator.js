#!/usr/bin/env node
// The package binary. Node 24 runs the TypeScript sources directly (type stripping), so there is no build step;
// an older Node cannot load them, so the version is checked first and the CLI is imported only then.
import { checkNode } from './check-node.js';

checkNode();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
