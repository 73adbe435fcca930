/**
 * A {@link Transport} that loses messages on purpose, for testing what a framework does when core
 * NATS drops one (it may: at-most-once delivery). It wraps another transport and drops, on
 * delivery to subscriptions whose messages arrive on matching subjects, a chosen fraction of
 * them or the ones a predicate picks. Publishing, requests and their replies pass untouched.
 *
 * @example
 * ```ts
 * const lossy = new LossyTransport(MemoryTransport.create({ bus }));
 * // Lose every third UPDATE event of every framework:
 * const rule = lossy.drop({
 *   subject: 'stoa.framework.>',
 *   select: (msg) => decode(SchedulerEventSchema, msg.data).type === 'UPDATE',
 *   fraction: 1 / 3,
 * });
 * const client = await SchedulerClient.connect({ transport: lossy, framework });
 * // … later
 * expect(rule.dropped).toBeGreaterThan(0);
 * rule.remove();
 * ```
 * @module
 */

import {
  type RequestOptions,
  type SubscribeOptions,
  subjectMatches,
  type Transport,
  type TransportMsg,
  type TransportStatus,
  type TransportSubscription,
} from '@stoa/core';

/** Which messages a {@link LossyTransport} drops. */
export interface LossRuleOptions {
  /** A subject or a pattern (`*`, `>`) the message's subject must match. */
  subject: string;
  /**
   * Picks candidate messages; `index` counts the messages on matching subjects that this rule
   * has seen, from 0. @default every message on a matching subject is a candidate
   */
  select?: (msg: TransportMsg, index: number) => boolean;
  /** The share of candidates dropped, from 0 to 1, drawn with the transport's `random`. @default 1 */
  fraction?: number;
  /** Drop at most this many, then let everything through. @default unlimited */
  limit?: number;
}

/** A rule in force: what it dropped so far, and a way to lift it. */
export interface LossRule {
  /** How many messages it dropped. */
  readonly dropped: number;
  /** The messages it dropped, in order. */
  readonly droppedMessages: readonly TransportMsg[];
  /** Lifts the rule. */
  remove(): void;
}

/** Options of {@link LossyTransport}. */
export interface LossyTransportOptions {
  /** Random numbers in [0, 1) for `fraction`; pass a seeded one for repeatable tests. @default Math.random */
  random?: () => number;
}

class Rule implements LossRule {
  dropped = 0;
  readonly droppedMessages: TransportMsg[] = [];
  private seen = 0;

  constructor(
    private readonly options: LossRuleOptions,
    private readonly owner: Set<Rule>,
  ) {}

  /** Whether this rule drops `msg`. */
  takes(msg: TransportMsg, random: () => number): boolean {
    const { subject, select, fraction = 1, limit = Number.POSITIVE_INFINITY } = this.options;
    if (!subjectMatches(subject, msg.subject)) return false;
    const index = this.seen++;
    if (this.dropped >= limit) return false;
    if (select !== undefined && !select(msg, index)) return false;
    if (fraction < 1 && random() >= fraction) return false;
    this.dropped++;
    this.droppedMessages.push(msg);
    return true;
  }

  remove(): void {
    this.owner.delete(this);
  }
}

/** A subscription whose iterator skips the messages the transport drops. */
class LossySubscription implements TransportSubscription {
  constructor(
    private readonly inner: TransportSubscription,
    private readonly lost: (msg: TransportMsg) => boolean,
  ) {}

  get subject(): string {
    return this.inner.subject;
  }
  get isClosed(): boolean {
    return this.inner.isClosed;
  }
  get closed(): Promise<void> {
    return this.inner.closed;
  }
  unsubscribe(): void {
    this.inner.unsubscribe();
  }
  drain(): Promise<void> {
    return this.inner.drain();
  }

  [Symbol.asyncIterator](): AsyncIterator<TransportMsg> {
    const it = this.inner[Symbol.asyncIterator]();
    return {
      next: async () => {
        for (;;) {
          const r = await it.next();
          if (r.done || !this.lost(r.value)) return r;
        }
      },
      return: async () => {
        this.inner.unsubscribe();
        return it.return ? it.return() : { value: undefined, done: true };
      },
    };
  }
}

/**
 * Wraps a transport and drops messages delivered to its subscriptions by the rules given to
 * {@link LossyTransport.drop}. A subscription's `max` counts dropped messages too.
 */
export class LossyTransport implements Transport {
  private readonly rules = new Set<Rule>();
  private readonly random: () => number;
  private droppedTotal = 0;

  /** Wraps `inner`, which it closes when closed. */
  constructor(
    readonly inner: Transport,
    options: LossyTransportOptions = {},
  ) {
    this.random = options.random ?? Math.random;
  }

  /** `lossy(<inner kind>)`. */
  get kind(): string {
    return `lossy(${this.inner.kind})`;
  }

  /** Whether the inner transport is closed. */
  get isClosed(): boolean {
    return this.inner.isClosed;
  }

  /** How many messages all rules dropped, including rules since removed. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Adds a rule; the returned handle counts what it dropped and lifts it. */
  drop(options: LossRuleOptions): LossRule {
    const rule = new Rule(options, this.rules);
    this.rules.add(rule);
    return rule;
  }

  /** Lifts every rule. */
  clear(): void {
    this.rules.clear();
  }

  publish(subject: string, data: Uint8Array, options?: { reply?: string }): void {
    this.inner.publish(subject, data, options);
  }

  subscribe(subject: string, options: SubscribeOptions = {}): TransportSubscription {
    const callback = options.callback;
    if (callback !== undefined) {
      return this.inner.subscribe(subject, {
        ...options,
        callback: (msg) => {
          if (!this.lost(msg)) callback(msg);
        },
      });
    }
    return new LossySubscription(this.inner.subscribe(subject, options), this.lost);
  }

  request(subject: string, data: Uint8Array, options?: RequestOptions): Promise<TransportMsg> {
    return this.inner.request(subject, data, options);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    return this.inner.onStatus(listener);
  }

  drain(): Promise<void> {
    return this.inner.drain();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private readonly lost = (msg: TransportMsg): boolean => {
    for (const rule of this.rules) {
      if (rule.takes(msg, this.random)) {
        this.droppedTotal++;
        return true;
      }
    }
    return false;
  };
}
