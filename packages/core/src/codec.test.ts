import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { decode, encode, encodeTrusted, safeDecode } from './codec.js';
import { ProtocolError, StoaError } from './errors.js';
import {
  exampleAgentCalls,
  exampleAgentCommands,
  exampleBroadcasts,
  exampleExecutorMessages,
  exampleOperatorCalls,
  exampleSchedulerCalls,
  exampleSchedulerEvents,
} from './protocol-examples.js';
import { AgentCallSchema, AgentCommandSchema } from './protocol/agent.js';
import { ClusterEventSchema, LeaderElectedSchema } from './protocol/events.js';
import { ExecutorCallSchema, ExecutorEventSchema } from './protocol/executor.js';
import { OperatorCallSchema } from './protocol/operator.js';
import { SchedulerCallSchema, SchedulerEventSchema } from './protocol/scheduler.js';

const cases: [string, z.ZodType, unknown[]][] = [
  ['scheduler call', SchedulerCallSchema, exampleSchedulerCalls()],
  ['scheduler event', SchedulerEventSchema, exampleSchedulerEvents()],
  ['agent call', AgentCallSchema, exampleAgentCalls()],
  ['agent command', AgentCommandSchema, exampleAgentCommands()],
  ['executor call', ExecutorCallSchema, exampleExecutorMessages().calls],
  ['executor event', ExecutorEventSchema, exampleExecutorMessages().events],
  ['operator call', OperatorCallSchema, exampleOperatorCalls()],
  ['leader', LeaderElectedSchema, [exampleBroadcasts().leader]],
  ['cluster event', ClusterEventSchema, exampleBroadcasts().events],
];

/** Every message decodes to exactly what was encoded (bytes come back as bytes). */
function normalizeBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(normalizeBytes);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalizeBytes(v)]));
  return value;
}

describe('codec round trips', () => {
  for (const [name, schema, examples] of cases) {
    it(`${name}: every type decodes to what was encoded`, () => {
      for (const example of examples) {
        const bytes = encode(schema, example as never);
        expect(normalizeBytes(decode(schema, bytes))).toEqual(normalizeBytes(example));
      }
    });
  }

  it('covers every type of each discriminated union', () => {
    for (const [name, schema, examples] of cases) {
      const options = (schema as unknown as { options?: { shape: { type: { value: string } } }[] }).options;
      if (!options) continue;
      const declared = options.map((o) => o.shape.type.value).sort();
      const covered = [...new Set(examples.map((e) => (e as { type: string }).type))].sort();
      expect(covered, name).toEqual(declared);
    }
  });
});

describe('codec errors', () => {
  it('refuses to encode an invalid message, naming the path', () => {
    const error = (() => {
      try {
        encode(SchedulerCallSchema, { v: 1, type: 'DECLINE', frameworkId: 'f-1', offerIds: [] } as never);
      } catch (e) {
        return e;
      }
    })();
    expect(ProtocolError.isInstance(error)).toBe(true);
    expect((error as ProtocolError).message).toContain('offerIds');
  });

  it('rejects another protocol version', () => {
    const bytes = encodeTrusted({ v: 2, type: 'HEARTBEAT', frameworkId: 'f-1' });
    const r = safeDecode(SchedulerCallSchema, bytes);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.details.issues).toEqual([expect.stringContaining('v:')]);
  });

  it('rejects a subject-breaking id', () => {
    const bytes = encodeTrusted({ v: 1, type: 'HEARTBEAT', frameworkId: 'f.>' });
    expect(() => decode(SchedulerCallSchema, bytes)).toThrow(ProtocolError);
  });

  it('rejects bytes that are not msgpack and trailing garbage', () => {
    expect(safeDecode(SchedulerCallSchema, new Uint8Array([0xc1])).ok).toBe(false);
    const good = encode(SchedulerCallSchema, { v: 1, type: 'HEARTBEAT', frameworkId: 'f-1' });
    const glued = new Uint8Array([...good, ...good]);
    expect(safeDecode(SchedulerCallSchema, glued).ok).toBe(false);
  });

  it('rejects a task with neither command nor executor', () => {
    const [, , accept] = exampleSchedulerCalls();
    const broken = structuredClone(accept) as { operations: { tasks: { command?: unknown }[] }[] };
    delete broken.operations[0]!.tasks[0]!.command;
    const r = safeDecode(SchedulerCallSchema, encodeTrusted(broken));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('operations.0.tasks.0.command');
  });
});

/** The property every decoder must keep: a value or a ProtocolError, never anything else. */
function onlyValueOrProtocolError(schema: z.ZodType, bytes: Uint8Array): boolean {
  const r = safeDecode(schema, bytes);
  if (!r.ok && !(r.error instanceof ProtocolError)) return false;
  try {
    decode(schema, bytes);
  } catch (e) {
    return e instanceof ProtocolError && StoaError.isInstance(e) && e.code === 'PROTOCOL_ERROR';
  }
  return true;
}

describe('decode under fuzzing', () => {
  const encodedExamples = cases.flatMap(([, schema, examples]) => examples.map((e) => ({ schema, bytes: encode(schema, e as never) })));
  const anyCase = fc.constantFrom(...encodedExamples);

  it('random bytes give a value or a ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.constantFrom(...cases.map((c) => c[1])), (bytes, schema) =>
        onlyValueOrProtocolError(schema, bytes),
      ),
      { numRuns: 2000 },
    );
  });

  it('valid messages with bytes flipped, cut or glued give a value or a ProtocolError', () => {
    fc.assert(
      fc.property(
        anyCase,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(),
        fc.nat(),
        (c, flips, cutAt, glueFrom) => {
          const mutated = new Uint8Array(c.bytes);
          for (const [at, value] of flips) mutated[at % mutated.length] = value;
          const cut = mutated.subarray(0, cutAt % (mutated.length + 1));
          const glued = new Uint8Array([...cut, ...c.bytes.subarray(glueFrom % (c.bytes.length + 1))]);
          return onlyValueOrProtocolError(c.schema, mutated) && onlyValueOrProtocolError(c.schema, cut) && onlyValueOrProtocolError(c.schema, glued);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('arbitrary msgpack values of the wrong shape give a ProtocolError', () => {
    const packr = new Packr({ useRecords: false });
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4, withBigInt: false, withMap: true, withSet: true, withDate: true, withTypedArray: true }), fc.constantFrom(...cases.map((c) => c[1])), (value, schema) => {
        let bytes: Uint8Array;
        try {
          bytes = packr.pack(value);
        } catch {
          return true; // not representable in msgpack: nothing to decode
        }
        return onlyValueOrProtocolError(schema, bytes);
      }),
      { numRuns: 1500 },
    );
  });

  it('valid messages with fields removed or replaced give a value or a ProtocolError', () => {
    const plain = cases.flatMap(([, schema, examples]) => examples.map((e) => ({ schema, value: e as Record<string, unknown> })));
    fc.assert(
      fc.property(fc.constantFrom(...plain), fc.nat(), fc.anything({ maxDepth: 2 }), (c, pick, replacement) => {
        const keys = Object.keys(c.value);
        const key = keys[pick % keys.length]!;
        const changed = { ...c.value, [key]: replacement };
        const removed = { ...c.value };
        delete removed[key];
        return onlyValueOrProtocolError(c.schema, encodeTrusted(changed)) && onlyValueOrProtocolError(c.schema, encodeTrusted(removed));
      }),
      { numRuns: 1500 },
    );
  });
});
