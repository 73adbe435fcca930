/**
 * The agent's protocol tests (agent-protocol.test.ts) again, over a real nats-server: every test
 * that builds its cluster with `setup()` runs with NATS transports for the agent and the fake
 * master. (The few that build in-memory transports by hand stay in-memory.)
 */
import { type NatsServerHandle, startNats } from '@stoa/testkit';
import { afterAll, beforeAll } from 'vitest';

let nats: NatsServerHandle;
beforeAll(async () => {
  nats = await startNats({ jetstream: false });
  (globalThis as { __stoaAgentTestNatsUrl?: string }).__stoaAgentTestNatsUrl = nats.url;
});
afterAll(async () => {
  delete (globalThis as { __stoaAgentTestNatsUrl?: string }).__stoaAgentTestNatsUrl;
  await nats?.stop();
});

await import('./agent-protocol.test.js');
