import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const packages = readdirSync(new URL('./packages', import.meta.url));

// Package names resolve to their sources, so tests run without a build.
// The subpath entries come first: a bare `@stoa/core` must not swallow `@stoa/core/nats`.
const alias = [
  { find: /^@stoa\/core\/nats$/, replacement: `${root}packages/core/src/nats/index.ts` },
  { find: /^@stoa\/core\/internal$/, replacement: `${root}packages/core/src/internal.ts` },
  ...packages.map((name) => ({
    find: new RegExp(`^@stoa/${name}$`),
    replacement: `${root}packages/${name}/src/index.ts`,
  })),
];

export default defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    projects: packages.map((name) => ({
      extends: true,
      test: {
        name,
        root: `${root}packages/${name}`,
        include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      },
    })),
  },
});
