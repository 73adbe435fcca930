/**
 * Every NATS subject Stoa uses, built and parsed in one place.
 *
 * The prefix (default `stoa`) lets several clusters share one NATS. Tokens that go into a subject
 * (principals, ids) must be non-empty and free of `.`, `*`, `>` and white space: {@link assertToken}
 * checks that, so a hostile id cannot widen a subscription.
 *
 * @example
 * ```ts
 * const s = subjects('stoa');
 * s.schedulerCalls('alice');            // 'stoa.master.scheduler.alice'
 * s.parse('stoa.agent.a-1');            // { kind: 'agent', agentId: 'a-1' }
 * ```
 * @module
 */

import { ValidationError } from './errors.js';

/** The default subject prefix. */
export const DEFAULT_PREFIX = 'stoa';

const BAD_TOKEN = /[\s.*>]/;

/** Throws a {@link ValidationError} unless `value` may stand as one token of a subject. */
export function assertToken(value: string, field: string): string {
  if (value.length === 0 || BAD_TOKEN.test(value)) {
    throw new ValidationError(`${field} must be a non-empty subject token without '.', '*', '>' or spaces: ${JSON.stringify(value)}`, {
      details: { field },
    });
  }
  return value;
}

/** Whether `value` may stand as one token of a subject. */
export function isToken(value: string): boolean {
  return value.length > 0 && !BAD_TOKEN.test(value);
}

/** A subject as {@link Subjects.parse} understands it. */
export type ParsedSubject =
  | { kind: 'schedulerCalls'; principal: string }
  | { kind: 'frameworkEvents'; principal: string; frameworkId: string }
  | { kind: 'agentCalls'; principal: string }
  | { kind: 'agentCommands'; agentId: string }
  | { kind: 'executor'; agentId: string; executorId: string }
  | { kind: 'executorCalls'; agentId: string; executorId: string }
  | { kind: 'operator' }
  | { kind: 'leader' }
  | { kind: 'clusterEvents'; eventKind: string };

/** Builders and a parser for the subjects of one cluster. */
export interface Subjects {
  /** The prefix, without a trailing dot. */
  readonly prefix: string;
  /** framework → leading master, request/reply: `<p>.master.scheduler.<principal>`. */
  schedulerCalls(principal: string): string;
  /** All scheduler-call subjects (the master subscribes here). */
  readonly allSchedulerCalls: string;
  /** master → framework events: `<p>.framework.<principal>.<frameworkId>`. */
  frameworkEvents(principal: string, frameworkId: string): string;
  /** agent → leading master, request/reply: `<p>.master.agent.<principal>`. */
  agentCalls(principal: string): string;
  /** All agent-call subjects (the master subscribes here). */
  readonly allAgentCalls: string;
  /** master → agent commands: `<p>.agent.<agentId>`. */
  agentCommands(agentId: string): string;
  /** agent → executor events: `<p>.executor.<agentId>.<executorId>`. */
  executor(agentId: string, executorId: string): string;
  /** executor → agent calls, request/reply: `<p>.executor.<agentId>.<executorId>.calls`. */
  executorCalls(agentId: string, executorId: string): string;
  /** operator → master, request/reply. */
  readonly operator: string;
  /** leading master → all: LEADER_ELECTED. */
  readonly leader: string;
  /** master → anyone: the cluster event stream, `<p>.events.<kind>`. */
  clusterEvents(kind: string): string;
  /** All cluster events. */
  readonly allClusterEvents: string;
  /** Parses a concrete subject of this cluster; `undefined` for anything else. */
  parse(subject: string): ParsedSubject | undefined;
}

/** Makes the subject builders for a cluster prefix (itself one or more dotted tokens). */
export function subjects(prefix: string = DEFAULT_PREFIX): Subjects {
  for (const part of prefix.split('.')) assertToken(part, 'subjectPrefix');
  const p = prefix;
  const depth = prefix.split('.').length;
  return {
    prefix: p,
    schedulerCalls: (principal) => `${p}.master.scheduler.${assertToken(principal, 'principal')}`,
    allSchedulerCalls: `${p}.master.scheduler.*`,
    frameworkEvents: (principal, frameworkId) =>
      `${p}.framework.${assertToken(principal, 'principal')}.${assertToken(frameworkId, 'frameworkId')}`,
    agentCalls: (principal) => `${p}.master.agent.${assertToken(principal, 'principal')}`,
    allAgentCalls: `${p}.master.agent.*`,
    agentCommands: (agentId) => `${p}.agent.${assertToken(agentId, 'agentId')}`,
    executor: (agentId, executorId) => `${p}.executor.${assertToken(agentId, 'agentId')}.${assertToken(executorId, 'executorId')}`,
    executorCalls: (agentId, executorId) =>
      `${p}.executor.${assertToken(agentId, 'agentId')}.${assertToken(executorId, 'executorId')}.calls`,
    operator: `${p}.master.operator`,
    leader: `${p}.master.leader`,
    clusterEvents: (kind) => `${p}.events.${assertToken(kind, 'eventKind')}`,
    allClusterEvents: `${p}.events.>`,
    parse(subject) {
      if (!subject.startsWith(`${p}.`)) return undefined;
      const t = subject.split('.').slice(depth);
      if (t.some((x) => x.length === 0)) return undefined;
      const [a, b, c, d] = t;
      switch (t.length) {
        case 2:
          if (a === 'master' && b === 'operator') return { kind: 'operator' };
          if (a === 'master' && b === 'leader') return { kind: 'leader' };
          if (a === 'agent' && b) return { kind: 'agentCommands', agentId: b };
          if (a === 'events' && b) return { kind: 'clusterEvents', eventKind: b };
          return undefined;
        case 3:
          if (a === 'master' && b === 'scheduler' && c) return { kind: 'schedulerCalls', principal: c };
          if (a === 'master' && b === 'agent' && c) return { kind: 'agentCalls', principal: c };
          if (a === 'framework' && b && c) return { kind: 'frameworkEvents', principal: b, frameworkId: c };
          if (a === 'executor' && b && c) return { kind: 'executor', agentId: b, executorId: c };
          return undefined;
        case 4:
          if (a === 'executor' && b && c && d === 'calls') return { kind: 'executorCalls', agentId: b, executorId: c };
          return undefined;
        default:
          return undefined;
      }
    },
  };
}

/**
 * Whether a NATS subject pattern (with `*` for one token and a final `>` for one or more) matches a
 * concrete subject. Used by the in-memory transport and store, which must route as NATS does.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const tok = p[i];
    if (tok === '>') return i === p.length - 1 && s.length > i;
    if (i >= s.length) return false;
    if (tok !== '*' && tok !== s[i]) return false;
  }
  return p.length === s.length;
}
