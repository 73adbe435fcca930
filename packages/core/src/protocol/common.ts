/**
 * Shapes shared by every channel of the protocol: ids, labels, bytes, the version field, and the
 * reply envelope of request/reply calls.
 *
 * Ids that appear inside NATS subjects (framework, agent, executor ids and principals) are single
 * subject tokens; task ids are free-form (Marathon's contain dots).
 *
 * @module
 */

import { z } from 'zod';
import { errorCodeList } from '../errors.js';

/** The protocol version every message carries as `v`. */
export const PROTOCOL_VERSION = 1 as const;

/** `v: 1`: every message carries it; another version is refused with a `ProtocolError`. */
export const VersionSchema = z.literal(PROTOCOL_VERSION);

/** An id that may stand as one NATS subject token (no `.`, `*`, `>` or white space). */
export const TokenIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\s.*>]+$/, 'must be one subject token: no ".", "*", ">" or spaces');

/** A framework id. */
export const FrameworkIdSchema = TokenIdSchema;
/** An agent id. */
export const AgentIdSchema = TokenIdSchema;
/** An executor id. */
export const ExecutorIdSchema = TokenIdSchema;
/** A principal: the identity a NATS user speaks for. */
export const PrincipalSchema = TokenIdSchema;
/** A task id: free-form, non-empty, at most 255 characters. */
export const TaskIdSchema = z.string().min(1).max(255);
/** An offer id. */
export const OfferIdSchema = z.string().min(1).max(128);
/** A role name (`*` is the default role of unreserved resources). */
export const RoleSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^(\*|[^\s.*>/][^\s*>]*)$/, 'must be "*" or a name without spaces, "*" or ">"');

/** Key/value labels. */
export const LabelsSchema = z.record(z.string(), z.string());

/** Opaque bytes (msgpack carries them as binary). */
export const BytesSchema = z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'expected bytes');

/** A duration or timestamp in milliseconds: a finite, non-negative number. */
export const MillisSchema = z.number().finite().nonnegative();

/** An error as it crosses the wire. */
export const WireErrorSchema = z.object({
  code: z.enum(errorCodeList),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

/**
 * The reply to any request/reply call: `{ ok: true, result }` or `{ ok: false, error }`.
 * `result`'s schema depends on the call; see each channel's reply schemas.
 */
export function replySchema<T extends z.ZodType>(result: T) {
  return z.discriminatedUnion('ok', [
    z.object({ v: VersionSchema, ok: z.literal(true), result }),
    z.object({ v: VersionSchema, ok: z.literal(false), error: WireErrorSchema }),
  ]);
}

/** The reply envelope when only success or failure matters. */
export const EmptyReplySchema = replySchema(z.object({}).loose());

/** Labels. */
export type Labels = z.infer<typeof LabelsSchema>;
/** A wire error. */
export type WireErrorData = z.infer<typeof WireErrorSchema>;
/** A reply: success with a result or failure with an error. */
export type Reply<T> = { v: 1; ok: true; result: T } | { v: 1; ok: false; error: WireErrorData };
