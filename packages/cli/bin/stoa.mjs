#!/usr/bin/env node
// The `stoa` command. A built package runs dist/; a source checkout (no dist yet) runs the
// TypeScript sources through tsx, resolving @stoa/* to the sources by the repository's tsconfig.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/bin.js', import.meta.url);
if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.json', import.meta.url)) });
  await import(new URL('../src/bin.ts', import.meta.url).href);
}
