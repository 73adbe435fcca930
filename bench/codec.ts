/**
 * `codec`: encode + decode + validate, msgpack against JSON, for an OFFERS event of 100 offers and
 * an agent's STATUS_UPDATE batch of 1,000 updates. Figures are µs per message and bytes per message.
 */
import { AgentCallSchema, decode, encode, SchedulerEventSchema } from '@stoa/core';
import { exampleOffer, exampleStatus } from '@stoa/core/internal';
import type { z } from 'zod';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function timeUs(fn: () => void, minMs: number): number {
  for (let i = 0; i < 20; i++) fn(); // warm up the JIT
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  const budget = BigInt(minMs) * 1_000_000n;
  while (elapsed < budget) {
    fn();
    n++;
    elapsed = process.hrtime.bigint() - start;
  }
  return Number(elapsed) / 1000 / n;
}

function measure<S extends z.ZodType>(schema: S, message: z.input<S>, minMs: number) {
  const packed = encode(schema, message);
  const json = encoder.encode(JSON.stringify(message));
  const msgpackUs = timeUs(() => {
    decode(schema, encode(schema, message));
  }, minMs);
  const jsonUs = timeUs(() => {
    const bytes = encoder.encode(JSON.stringify(schema.parse(message)));
    schema.parse(JSON.parse(decoder.decode(bytes)));
  }, minMs);
  return { msgpackUs: round(msgpackUs), jsonUs: round(jsonUs), msgpackBytes: packed.length, jsonBytes: json.length };
}

const round = (x: number) => Math.round(x * 10) / 10;

/** Runs the codec scenario. `--ms N` sets the time per case (default 1500). */
export async function run(flags: Record<string, string | boolean | undefined>) {
  const minMs = Number(flags.ms ?? 1500);
  const offers = { v: 1 as const, seq: 1, type: 'OFFERS' as const, offers: Array.from({ length: 100 }, (_, i) => exampleOffer(i)) };
  const updates = {
    v: 1 as const,
    type: 'STATUS_UPDATE' as const,
    agentId: 'a-1',
    updates: Array.from({ length: 1000 }, (_, i) => ({ frameworkId: 'f-1', status: exampleStatus(i) })),
  };
  console.error('codec: OFFERS x100 …');
  const o = measure(SchedulerEventSchema, offers, minMs);
  console.error('codec: STATUS_UPDATE x1000 …');
  const s = measure(AgentCallSchema, updates, minMs);
  return {
    note: 'µs per message for encode + validate + decode + validate, one message a round trip',
    offers100: o,
    statusUpdates1000: s,
    perStatusUpdateUs: { msgpack: round(s.msgpackUs / 1000), json: round(s.jsonUs / 1000) },
  };
}
