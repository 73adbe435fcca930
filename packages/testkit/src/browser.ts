/**
 * A headless chromium for browser tests, driven by playwright-core: Debian's `chromium` (or the
 * one `STOA_CHROMIUM` names), a fresh profile, and screenshots saved under `test-artifacts/`.
 */

import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Where {@link startBrowser} looks for chromium when `STOA_CHROMIUM` is not set. */
export const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** Thrown when no chromium is installed. */
export class ChromiumNotFoundError extends Error {
  constructor() {
    super(
      `chromium was not found (looked at STOA_CHROMIUM and ${CHROMIUM_PATHS.join(', ')}): install Debian's package \`chromium\` (npm test does so)`,
    );
    this.name = 'ChromiumNotFoundError';
  }
}

/** The chromium binary to drive, or undefined when none is installed. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.STOA_CHROMIUM;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  return CHROMIUM_PATHS.find((p) => existsSync(p));
}

/** Options of {@link startBrowser}. */
export interface StartBrowserOptions {
  /** Where screenshots go. @default `$STOA_TEST_ARTIFACTS` or `test-artifacts/` in the working directory */
  artifactsDir?: string;
  /** The viewport. @default 1280×900 */
  viewport?: { width: number; height: number };
  /** How long a page action or wait may take. @default 15000 */
  timeoutMs?: number;
}

/** A running headless browser with one page. */
export interface BrowserHandle extends AsyncDisposable {
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Messages the page logged as errors and exceptions it threw, for assertions. */
  readonly pageErrors: string[];
  /** Saves a full-page screenshot as `<artifactsDir>/screenshots/<name>.png` and returns its path. */
  screenshot(name: string): Promise<string>;
  /** Closes the browser. Safe to call twice. */
  close(): Promise<void>;
}

/** The flags a headless chromium needs in a container: no sandbox, no GPU, no network of its own. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/**
 * Starts headless chromium with one page.
 *
 * @example
 * ```ts
 * await using b = await startBrowser();
 * await b.page.goto(url);
 * await b.screenshot('dashboard');
 * ```
 */
export async function startBrowser(options: StartBrowserOptions = {}): Promise<BrowserHandle> {
  const executablePath = findChromium();
  if (!executablePath) throw new ChromiumNotFoundError();
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 } });
  context.setDefaultTimeout(options.timeoutMs ?? 15_000);
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${m.text()} (${m.location().url})`);
  });
  const artifacts = resolve(options.artifactsDir ?? process.env.STOA_TEST_ARTIFACTS ?? 'test-artifacts');
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await browser.close().catch(() => undefined);
  };
  return {
    browser,
    context,
    page,
    pageErrors,
    async screenshot(name) {
      const dir = join(artifacts, 'screenshots');
      mkdirSync(dir, { recursive: true });
      const path = join(dir, `${name.replace(/[^\w.-]+/g, '-')}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
