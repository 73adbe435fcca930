/**
 * The browser tests' cluster: `stoa dev` in this process (real nats-server, process agents,
 * marathon, chronos and batch on free ports, data in a temp dir) and a headless chromium.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserHandle, startBrowser } from '@stoa/testkit';
import { type DevCluster, startDevCluster } from '../../src/dev.js';

/** A dev cluster and a browser, stopped together. */
export interface UiCluster extends AsyncDisposable {
  readonly cluster: DevCluster;
  readonly browser: BrowserHandle;
  /** The HTTP URL of a component (`master`, `marathon`, `chronos`, `batch`). */
  url(component: 'master' | 'marathon' | 'chronos' | 'batch'): string;
  stop(): Promise<void>;
}

/** Starts the cluster (two process agents unless told) and the browser. */
export async function startUiCluster(options: { agents?: number } = {}): Promise<UiCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stoa-ui-'));
  let cluster: DevCluster | undefined;
  let browser: BrowserHandle | undefined;
  const stop = async () => {
    await browser?.close();
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    cluster = await startDevCluster({
      dataDir,
      agents: options.agents ?? 2,
      masterPort: 0,
      frameworks: { marathon: 0, chronos: 0, batch: 0 },
    });
    browser = await startBrowser();
  } catch (error) {
    await stop();
    throw error;
  }
  const c = cluster;
  return {
    cluster: c,
    browser,
    url(component) {
      const u = c.urls[component];
      if (!u) throw new Error(`the dev cluster has no ${component}`);
      return u;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
