/**
 * Stoa's web UI, served as static assets built ahead of time (`npm run build -w @stoa/ui`).
 * The master, marathon, chronos and batch each mount their page at `/` of their HTTP API:
 *
 * ```ts
 * const app = new Hono();
 * mountUi(app, 'marathon');   // GET / → the marathon page, GET /assets/* → its scripts and styles
 * ```
 *
 * The pages talk to the REST API and event stream of the server that serves them, on the same origin.
 *
 * @packageDocumentation
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Hono } from 'hono';

/** The pages the UI has, one per component. */
export type UiPage = 'master' | 'marathon' | 'chronos' | 'batch';

/** Options of {@link mountUi}. */
export interface MountUiOptions {
  /** Where the built assets are. @default the `@stoa/ui` package's `dist/web` */
  assetsDir?: string;
}

/**
 * The directory of the built assets, or undefined when they have not been built. Found beside the
 * sources (`src/` → `../dist/web`) and beside the built package (`dist/` → `./web`).
 */
export function uiAssetsDir(): string | undefined {
  for (const candidate of ['../dist/web/', './web/']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(`${dir}master.html`)) return dir;
  }
  return undefined;
}

/** What a server answers at `/` when the assets were not built. */
export const UI_NOT_BUILT =
  'The Stoa web UI is not built in this checkout: run `npm run build -w @stoa/ui` (or `npm run build`), then reload. The REST API works without it.';

/**
 * Serves `page` at `GET /` and the shared assets at `GET /assets/*` on `app`. Mount it before the
 * API's catch-all routes. Assets have content hashes in their names and are cached for a year;
 * the page itself is never cached, so a new build shows on the next reload.
 */
export function mountUi(app: Hono, page: UiPage, options: MountUiOptions = {}): void {
  const dir = options.assetsDir ?? uiAssetsDir();
  if (!dir) {
    app.get('/', (c) => c.text(UI_NOT_BUILT, 503));
    return;
  }
  app.get('/', serveStatic({ root: dir, path: `${page}.html`, onFound: (_path, c) => c.header('cache-control', 'no-cache') }));
  app.get(
    '/assets/*',
    serveStatic({ root: dir, onFound: (_path, c) => c.header('cache-control', 'public, max-age=31536000, immutable') }),
  );
}
