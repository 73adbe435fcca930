/**
 * Test fixtures for Stoa and for framework authors: real `nats-server` processes on free ports
 * with temp dirs (one server or a cluster, with kill/restart/pause helpers), and `waitFor`, which
 * polls a condition with a deadline instead of sleeping.
 *
 * @example
 * ```ts
 * import { startNats, waitFor } from '@stoa/testkit';
 * await using nats = await startNats();
 * ```
 * @module
 */
export {
  findNatsServer,
  freePort,
  type NatsClusterHandle,
  type NatsNode,
  NatsServerNotFoundError,
  type NatsServerHandle,
  natsServerVersion,
  type StartNatsClusterOptions,
  type StartNatsOptions,
  startNats,
  startNatsCluster,
} from './nats-server.js';
export { type WaitForOptions, WaitTimeoutError, waitFor } from './wait-for.js';
export {
  type BrowserHandle,
  CHROMIUM_ARGS,
  CHROMIUM_PATHS,
  ChromiumNotFoundError,
  findChromium,
  type StartBrowserOptions,
  startBrowser,
} from './browser.js';
