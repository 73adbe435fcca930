#!/usr/bin/env node
// The `stoa` command. In a source checkout (src/ beside this file) it runs the TypeScript sources
// through tsx, resolving @stoa/* to their sources by the repository's tsconfig, so what runs is
// always what is checked out. The published package ships dist/ and no src/, and runs dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/bin.ts', import.meta.url);
if (existsSync(fileURLToPath(source))) {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.json', import.meta.url)) });
  await import(source.href);
} else {
  await import(new URL('../dist/bin.js', import.meta.url).href);
}
