/**
 * The wire codec: every message is `msgpack(value)` of a zod-validated object.
 *
 * `decode` validates and throws a {@link ProtocolError} naming the failing paths; `safeDecode`
 * returns a discriminated result for hot paths that count and drop bad messages instead of
 * throwing. `encode` validates too (a bug caught at the sender beats a message every receiver
 * drops); `encodeTrusted` skips that for hot paths whose values are built from validated parts.
 *
 * @example
 * ```ts
 * const bytes = encode(SchedulerCallSchema, { v: 1, type: 'HEARTBEAT', frameworkId: 'f-1' });
 * const r = safeDecode(SchedulerCallSchema, bytes);
 * if (r.ok) handle(r.value); else metrics.invalid.inc();
 * ```
 * @module
 */

import { Packr } from 'msgpackr';
import type { z } from 'zod';
import { ProtocolError } from './errors.js';

// Plain msgpack maps (no msgpackr records), so any msgpack implementation can read Stoa's wire.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', moreTypes: false });

/** The outcome of {@link safeDecode}. */
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

/** Formats zod issues as `path: message` lines. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.slice(0, 10).map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`);
}

/** Encodes without validating. Only for values built from already validated parts. */
export function encodeTrusted(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Validates `value` against `schema` and encodes it; throws {@link ProtocolError} when invalid. */
export function encode<S extends z.ZodType>(schema: S, value: z.input<S>): Uint8Array {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error.issues);
    throw new ProtocolError(`refusing to encode an invalid message: ${issues.join('; ')}`, { details: { issues } });
  }
  return packr.pack(value);
}

/** Decodes and validates without throwing. */
export function safeDecode<S extends z.ZodType>(schema: S, bytes: Uint8Array): DecodeResult<z.output<S>> {
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (cause) {
    return { ok: false, error: new ProtocolError(`not msgpack: ${(cause as Error)?.message ?? String(cause)}`, { cause, details: { issues: ['(root): not msgpack'] } }) };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = formatIssues(parsed.error.issues);
  return { ok: false, error: new ProtocolError(`invalid message: ${issues.join('; ')}`, { details: { issues } }) };
}

/** Decodes and validates; throws {@link ProtocolError} when the bytes are not a valid message. */
export function decode<S extends z.ZodType>(schema: S, bytes: Uint8Array): z.output<S> {
  const result = safeDecode(schema, bytes);
  if (!result.ok) throw result.error;
  return result.value;
}

/** Decodes msgpack without validating (for tools that print raw messages). Throws {@link ProtocolError} on bad bytes. */
export function decodeRaw(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (cause) {
    throw new ProtocolError(`not msgpack: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}
