// Builds the pages into dist/web: one HTML entry per component, shared chunks, relative asset
// URLs so a page works wherever its server mounts it.
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const web = fileURLToPath(new URL('./web/', import.meta.url));

export default defineConfig({
  root: web,
  base: './',
  plugins: [preact()],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('./dist/web/', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    rollupOptions: {
      input: {
        master: `${web}master.html`,
        marathon: `${web}marathon.html`,
        chronos: `${web}chronos.html`,
        batch: `${web}batch.html`,
      },
    },
  },
});
