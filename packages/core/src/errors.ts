/**
 * Stoa's errors: one class per condition, one table of codes, and the wire form.
 *
 * Every error Stoa raises is a {@link StoaError} with a stable `code` from {@link ErrorCodes}.
 * Errors cross the wire as data ({@link WireError}) and are rebuilt into classes on the other side
 * with {@link fromWire}. `StoaError.isInstance()` works across duplicate installs of this package
 * because it checks a `Symbol.for` marker, not the prototype chain.
 *
 * @example
 * ```ts
 * try { await store.update(key, value, rev); }
 * catch (e) { if (ConflictError.isInstance(e)) retry(); else throw e; }
 * ```
 * @module
 */

/**
 * The error codes, each with whether a caller may retry the same call unchanged, and the HTTP
 * status an HTTP API answers it with.
 */
export const ErrorCodes = {
  /** A message could not be decoded or failed its schema. */
  PROTOCOL_ERROR: { retryable: false, http: 400 },
  /** An input (flag, definition, request body) is invalid; `field` names what. */
  VALIDATION_ERROR: { retryable: false, http: 400 },
  /** The thing asked for does not exist. */
  NOT_FOUND: { retryable: false, http: 404 },
  /** A create found the key already there. */
  ALREADY_EXISTS: { retryable: false, http: 409 },
  /** A compare-and-set met another revision. */
  CONFLICT: { retryable: true, http: 409 },
  /** A request got no reply in time. */
  TIMEOUT: { retryable: true, http: 504 },
  /** Nobody listens on the subject of a request. */
  NO_RESPONDERS: { retryable: true, http: 502 },
  /** The caller may not do this (for example a call about another principal's framework). */
  UNAUTHORIZED: { retryable: false, http: 403 },
  /** The receiver is not the leading master; `leader` says who is, when known. */
  NOT_LEADER: { retryable: true, http: 503 },
  /** The connection or store is closed or unreachable. */
  UNAVAILABLE: { retryable: true, http: 503 },
  /** The operation was cancelled (for example by `stop()`). */
  CANCELLED: { retryable: false, http: 500 },
  /** An operation is not valid in the current state (for example ACCEPT of a rescinded offer). */
  INVALID_OPERATION: { retryable: false, http: 409 },
  /** Anything else: a bug, reported with its cause. */
  INTERNAL: { retryable: false, http: 500 },
} as const satisfies Record<string, { retryable: boolean; http: number }>;

/** One of the keys of {@link ErrorCodes}. */
export type ErrorCode = keyof typeof ErrorCodes;

/** The list of codes, for schemas that validate a wire error. */
export const errorCodeList = Object.keys(ErrorCodes) as [ErrorCode, ...ErrorCode[]];

/** Whether a code names a condition worth retrying unchanged. */
export function isRetryable(code: ErrorCode): boolean {
  return ErrorCodes[code].retryable;
}

const MARKER = Symbol.for('stoa.error');

/** Structured fields an error may carry besides its message. */
export type ErrorDetails = Record<string, unknown>;

/** Options of every Stoa error: the standard `cause` plus structured details. */
export interface StoaErrorOptions extends ErrorOptions {
  /** Structured fields that travel with the error (field, key, subject, leader…). */
  details?: ErrorDetails;
}

/** The base of every error Stoa raises. */
export class StoaError extends Error {
  /** The code a subclass stands for; the base class stands for every code. */
  static readonly code: ErrorCode | undefined = undefined;
  /** The stable code of the condition. */
  readonly code: ErrorCode;
  /** Structured fields: what was asked, which field, which key. */
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options?: StoaErrorOptions) {
    super(message, options);
    this.name = 'StoaError';
    this.code = code;
    this.details = options?.details ?? {};
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** Whether the same call may succeed if tried again unchanged. */
  get retryable(): boolean {
    return ErrorCodes[this.code].retryable;
  }

  /**
   * True for a Stoa error of this class's code (any code on `StoaError` itself), also one made
   * by another copy of this package.
   */
  static isInstance(value: unknown): value is StoaError {
    if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[MARKER] !== true) return false;
    return this.code === undefined || (value as StoaError).code === this.code;
  }

  /** The wire form of this error. */
  toWire(): WireError {
    return Object.keys(this.details).length > 0
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

/** A message failed to decode or to validate. `details.issues` lists the failing paths. */
export class ProtocolError extends StoaError {
  static override readonly code = 'PROTOCOL_ERROR' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('PROTOCOL_ERROR', message, options);
    this.name = 'ProtocolError';
  }
}

/** An input is invalid; `details.field` names the field (a dotted path). */
export class ValidationError extends StoaError {
  static override readonly code = 'VALIDATION_ERROR' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('VALIDATION_ERROR', message, options);
    this.name = 'ValidationError';
  }
  /** The first failing field, as a dotted path. */
  get field(): string | undefined {
    const field = this.details.field;
    return typeof field === 'string' ? field : undefined;
  }
}

/** The thing asked for does not exist. */
export class NotFoundError extends StoaError {
  static override readonly code = 'NOT_FOUND' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('NOT_FOUND', message, options);
    this.name = 'NotFoundError';
  }
}

/** A create found the key already present. */
export class AlreadyExistsError extends StoaError {
  static override readonly code = 'ALREADY_EXISTS' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('ALREADY_EXISTS', message, options);
    this.name = 'AlreadyExistsError';
  }
}

/** A compare-and-set found another revision. */
export class ConflictError extends StoaError {
  static override readonly code = 'CONFLICT' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('CONFLICT', message, options);
    this.name = 'ConflictError';
  }
}

/** A request got no reply in time. */
export class TimeoutError extends StoaError {
  static override readonly code = 'TIMEOUT' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('TIMEOUT', message, options);
    this.name = 'TimeoutError';
  }
}

/** A request found nobody listening on its subject. */
export class NoRespondersError extends StoaError {
  static override readonly code = 'NO_RESPONDERS' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('NO_RESPONDERS', message, options);
    this.name = 'NoRespondersError';
  }
}

/** The caller may not do this. */
export class UnauthorizedError extends StoaError {
  static override readonly code = 'UNAUTHORIZED' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('UNAUTHORIZED', message, options);
    this.name = 'UnauthorizedError';
  }
}

/** The receiver is not the leader; `details.leader` names the leader when known. */
export class NotLeaderError extends StoaError {
  static override readonly code = 'NOT_LEADER' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('NOT_LEADER', message, options);
    this.name = 'NotLeaderError';
  }
}

/** The connection or store is closed or unreachable. */
export class UnavailableError extends StoaError {
  static override readonly code = 'UNAVAILABLE' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('UNAVAILABLE', message, options);
    this.name = 'UnavailableError';
  }
}

/** The operation was cancelled. */
export class CancelledError extends StoaError {
  static override readonly code = 'CANCELLED' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('CANCELLED', message, options);
    this.name = 'CancelledError';
  }
}

/** The operation is not valid in the current state. */
export class InvalidOperationError extends StoaError {
  static override readonly code = 'INVALID_OPERATION' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('INVALID_OPERATION', message, options);
    this.name = 'InvalidOperationError';
  }
}

/** A bug or an unexpected failure, with its cause. */
export class InternalError extends StoaError {
  static override readonly code = 'INTERNAL' as const;
  constructor(message: string, options?: StoaErrorOptions) {
    super('INTERNAL', message, options);
    this.name = 'InternalError';
  }
}

const classes = {
  PROTOCOL_ERROR: ProtocolError,
  VALIDATION_ERROR: ValidationError,
  NOT_FOUND: NotFoundError,
  ALREADY_EXISTS: AlreadyExistsError,
  CONFLICT: ConflictError,
  TIMEOUT: TimeoutError,
  NO_RESPONDERS: NoRespondersError,
  UNAUTHORIZED: UnauthorizedError,
  NOT_LEADER: NotLeaderError,
  UNAVAILABLE: UnavailableError,
  CANCELLED: CancelledError,
  INVALID_OPERATION: InvalidOperationError,
  INTERNAL: InternalError,
} satisfies Record<ErrorCode, new (message: string, options?: StoaErrorOptions) => StoaError>;

/** An error as it travels on the wire. */
export interface WireError {
  /** One of {@link ErrorCodes}. */
  code: ErrorCode;
  /** A message for people. */
  message: string;
  /** Structured fields. */
  details?: ErrorDetails;
}

/** Makes a Stoa error of the class that belongs to `code`. */
export function errorOf(code: ErrorCode, message: string, options?: StoaErrorOptions): StoaError {
  return new classes[code](message, options);
}

/** Rebuilds a class from the wire form; an unknown code becomes an {@link InternalError}. */
export function fromWire(wire: WireError): StoaError {
  const Cls = (classes as Record<string, (typeof classes)[ErrorCode] | undefined>)[wire.code];
  if (!Cls) return new InternalError(wire.message, { details: { ...wire.details, code: wire.code } });
  return new Cls(wire.message, wire.details ? { details: wire.details } : undefined);
}

/**
 * How an HTTP API answers an error: the status from {@link ErrorCodes} and the body
 * `{ error: { code, message, field? } }` (`field` from the error's details, naming the bad input).
 * The master's API and the frameworks' share it.
 */
export function httpError(error: StoaError): { status: (typeof ErrorCodes)[ErrorCode]['http']; body: { error: { code: ErrorCode; message: string; field?: string } } } {
  const field = typeof error.details.field === 'string' ? error.details.field : undefined;
  return { status: ErrorCodes[error.code].http, body: { error: { code: error.code, message: error.message, ...(field !== undefined ? { field } : {}) } } };
}

/** Turns anything thrown into a Stoa error, keeping the original as `cause`. */
export function fromUnknown(error: unknown): StoaError {
  if (StoaError.isInstance(error)) return error;
  if (error instanceof Error) return new InternalError(error.message, { cause: error });
  return new InternalError(typeof error === 'string' ? error : `non-error thrown: ${String(error)}`, { cause: error });
}
