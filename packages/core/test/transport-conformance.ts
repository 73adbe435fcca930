/**
 * The conformance suite every {@link Transport} must pass: one set of tests, run against the
 * in-memory and the NATS implementation alike.
 *
 * `setup` makes two transports that hear each other (one bus, or one server) for each test;
 * `cleanup` closes them. Tests wait on messages or on `flush()`, never on sleeps: for both
 * implementations, `await a.flush(); await b.flush()` after `a` published means everything
 * already reached `b`'s subscribers.
 *
 * @example
 * ```ts
 * describeTransportConformance('memory', async () => {
 *   const bus = new MemoryBus();
 *   const a = MemoryTransport.create({ bus });
 *   const b = MemoryTransport.create({ bus });
 *   return { a, b, cleanup: async () => { await a.close(); await b.close(); } };
 * });
 * ```
 * @module
 */

import { NoRespondersError, TimeoutError, UnavailableError } from '../src/errors.js';
import { waitFor } from '@stoa/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Transport, TransportMsg, TransportStatus } from '../src/transport/transport.js';

/** Two transports that hear each other, and how to get rid of them. */
export interface TransportPair {
  /** One side. */
  a: Transport;
  /** The other side. */
  b: Transport;
  /** Closes both (and anything else setup made); must not fail when they are already closed. */
  cleanup(): Promise<void>;
}

const TEST_TIMEOUT_MS = 15_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function enc(text: string): Uint8Array {
  return encoder.encode(text);
}

function dec(data: Uint8Array): string {
  return decoder.decode(data);
}

/** What a function threw or a promise rejected with (fails the test when nothing was thrown). */
async function thrownBy(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, got none');
}

/** Registers the conformance tests for one implementation. */
export function describeTransportConformance(name: string, setup: () => Promise<TransportPair>): void {
  describe(`Transport conformance: ${name}`, () => {
    let a: Transport;
    let b: Transport;
    let pair: TransportPair | undefined;

    beforeEach(async () => {
      pair = await setup();
      a = pair.a;
      b = pair.b;
    });

    afterEach(async () => {
      await pair?.cleanup();
      pair = undefined;
    });

    /** Everything `a` published before this has reached `b`'s (and `a`'s) subscribers. */
    async function settle(): Promise<void> {
      await a.flush();
      await b.flush();
    }

    function collect(): { msgs: TransportMsg[]; callback: (msg: TransportMsg) => void } {
      const msgs: TransportMsg[] = [];
      return { msgs, callback: (msg) => void msgs.push(msg) };
    }

    describe('publish and subscribe', () => {
      it(
        'delivers a message to a subscriber on the other transport',
        async () => {
          const got = collect();
          b.subscribe('conf.pub.one', { callback: got.callback });
          await b.flush();
          a.publish('conf.pub.one', enc('hello'));
          await waitFor(() => got.msgs.length === 1, { timeoutMs: 5000, what: 'the message' });
          const [msg] = got.msgs;
          expect(msg?.subject).toBe('conf.pub.one');
          expect(dec(msg!.data)).toBe('hello');
          expect(msg?.reply || undefined).toBeUndefined();
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'delivers asynchronously, to every subscriber, the publisher\'s own included',
        async () => {
          const own = collect();
          const other = collect();
          a.subscribe('conf.pub.all', { callback: own.callback });
          b.subscribe('conf.pub.all', { callback: other.callback });
          await settle();
          a.publish('conf.pub.all', enc('x'));
          expect(own.msgs).toHaveLength(0);
          await settle();
          expect(own.msgs).toHaveLength(1);
          expect(other.msgs).toHaveLength(1);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'does not deliver messages of other subjects',
        async () => {
          const got = collect();
          b.subscribe('conf.pub.mine', { callback: got.callback });
          await b.flush();
          a.publish('conf.pub.other', enc('no'));
          a.publish('conf.pub.mine.deeper', enc('no'));
          a.publish('conf.pub.mine', enc('yes'));
          await settle();
          expect(got.msgs.map((m) => dec(m.data))).toEqual(['yes']);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'delivers 10,000 messages of one publisher in order',
        async () => {
          const count = 10_000;
          const seen: number[] = [];
          b.subscribe('conf.order', {
            callback: (m) => void seen.push(new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength).getUint32(0)),
          });
          await b.flush();
          for (let i = 0; i < count; i++) {
            const data = new Uint8Array(4);
            new DataView(data.buffer).setUint32(0, i);
            a.publish('conf.order', data);
          }
          await waitFor(() => seen.length >= count, { timeoutMs: 10_000, what: `${count} messages` });
          expect(seen.length).toBe(count);
          for (let i = 0; i < count; i++) if (seen[i] !== i) expect.fail(`message ${i} arrived as ${seen[i]}`);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'hands messages to an async iterator when there is no callback',
        async () => {
          const sub = b.subscribe('conf.iter');
          await b.flush();
          for (const text of ['one', 'two', 'three']) a.publish('conf.iter', enc(text));
          const got: string[] = [];
          for await (const msg of sub) {
            got.push(dec(msg.data));
            if (got.length === 3) break;
          }
          expect(got).toEqual(['one', 'two', 'three']);
          expect(sub.isClosed).toBe(true);
          await sub.closed;
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'gives a callback subscription an iterator that yields nothing',
        async () => {
          const sub = b.subscribe('conf.iter.cb', { callback: () => {} });
          const result = await sub[Symbol.asyncIterator]().next();
          expect(result.done).toBe(true);
          expect(sub.isClosed).toBe(false);
          expect(sub.subject).toBe('conf.iter.cb');
        },
        TEST_TIMEOUT_MS,
      );
    });

    describe('wildcards', () => {
      it(
        '`*` matches exactly one token',
        async () => {
          const got = collect();
          b.subscribe('conf.star.*.end', { callback: got.callback });
          await b.flush();
          for (const subject of ['conf.star.x.end', 'conf.star.end', 'conf.star.x.y.end', 'conf.star.x.endx', 'conf.star.y.end']) {
            a.publish(subject, enc(subject));
          }
          await settle();
          expect(got.msgs.map((m) => m.subject)).toEqual(['conf.star.x.end', 'conf.star.y.end']);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        '`>` matches one or more trailing tokens, not none',
        async () => {
          const got = collect();
          b.subscribe('conf.gt.>', { callback: got.callback });
          await b.flush();
          for (const subject of ['conf.gt', 'conf.gt.a', 'conf.gtx.a', 'conf.gt.a.b.c', 'conf.gt.end']) a.publish(subject, enc(subject));
          await settle();
          expect(got.msgs.map((m) => m.subject)).toEqual(['conf.gt.a', 'conf.gt.a.b.c', 'conf.gt.end']);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'delivers once to each matching subscription, exact and wildcard alike',
        async () => {
          const exact = collect();
          const star = collect();
          const gt = collect();
          b.subscribe('conf.mix.a.b', { callback: exact.callback });
          b.subscribe('conf.mix.*.b', { callback: star.callback });
          b.subscribe('conf.mix.>', { callback: gt.callback });
          await b.flush();
          a.publish('conf.mix.a.b', enc('1'));
          a.publish('conf.mix.z.b', enc('2'));
          a.publish('conf.mix.z', enc('3'));
          await settle();
          expect(exact.msgs.map((m) => dec(m.data))).toEqual(['1']);
          expect(star.msgs.map((m) => dec(m.data))).toEqual(['1', '2']);
          expect(gt.msgs.map((m) => dec(m.data))).toEqual(['1', '2', '3']);
        },
        TEST_TIMEOUT_MS,
      );
    });

    describe('queue groups', () => {
      it(
        'gives each message to exactly one member, uses every member, and still feeds plain subscribers',
        async () => {
          const count = 200;
          const first = collect();
          const second = collect();
          const plain = collect();
          a.subscribe('conf.queue', { queue: 'workers', callback: first.callback });
          b.subscribe('conf.queue', { queue: 'workers', callback: second.callback });
          b.subscribe('conf.queue', { callback: plain.callback });
          await settle();
          for (let i = 0; i < count; i++) a.publish('conf.queue', enc(String(i)));
          await waitFor(() => first.msgs.length + second.msgs.length >= count && plain.msgs.length >= count, {
            timeoutMs: 5000,
            what: 'every queued message',
          });
          await settle();
          expect(plain.msgs).toHaveLength(count);
          const taken = [...first.msgs, ...second.msgs].map((m) => Number(dec(m.data)));
          expect(taken).toHaveLength(count);
          expect(new Set(taken).size).toBe(count);
          expect(first.msgs.length).toBeGreaterThan(0);
          expect(second.msgs.length).toBeGreaterThan(0);
        },
        TEST_TIMEOUT_MS,
      );
    });

    describe('request and reply', () => {
      it(
        'answers a request through an _INBOX reply subject',
        async () => {
          const replies: boolean[] = [];
          let replySubject: string | undefined;
          b.subscribe('conf.rr', {
            callback: (m) => {
              replySubject = m.reply;
              replies.push(m.respond(enc(`re:${dec(m.data)}`)));
            },
          });
          await b.flush();
          const reply = await a.request('conf.rr', enc('ping'), { timeoutMs: 5000 });
          expect(dec(reply.data)).toBe('re:ping');
          expect(replySubject).toMatch(/^_INBOX\./);
          expect(replies).toEqual([true]);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'keeps many concurrent requests apart',
        async () => {
          b.subscribe('conf.rr.many', { callback: (m) => m.respond(enc(`re:${dec(m.data)}`)) });
          await b.flush();
          const replies = await Promise.all(
            Array.from({ length: 100 }, (_, i) => a.request('conf.rr.many', enc(String(i)), { timeoutMs: 5000 })),
          );
          expect(replies.map((r) => dec(r.data))).toEqual(Array.from({ length: 100 }, (_, i) => `re:${i}`));
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'says respond() is false for a message without a reply subject',
        async () => {
          const results: boolean[] = [];
          b.subscribe('conf.rr.none', { callback: (m) => void results.push(m.respond(enc('lost'))) });
          await b.flush();
          a.publish('conf.rr.none', enc('fire and forget'));
          await waitFor(() => results.length === 1, { timeoutMs: 5000, what: 'the message' });
          expect(results).toEqual([false]);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'fails with TimeoutError when nobody answers in time',
        async () => {
          b.subscribe('conf.rr.silent', { callback: () => {} });
          await b.flush();
          const started = Date.now();
          const error = await thrownBy(() => a.request('conf.rr.silent', enc('hello?'), { timeoutMs: 200 }));
          expect(TimeoutError.isInstance(error), String(error)).toBe(true);
          expect(Date.now() - started).toBeGreaterThanOrEqual(150);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'fails with NoRespondersError at once when nobody listens',
        async () => {
          const started = Date.now();
          const error = await thrownBy(() => a.request('conf.rr.nobody', enc('anyone?'), { timeoutMs: 10_000 }));
          expect(NoRespondersError.isInstance(error), String(error)).toBe(true);
          expect((error as NoRespondersError).details.subject).toBe('conf.rr.nobody');
          expect(Date.now() - started).toBeLessThan(5000);
        },
        TEST_TIMEOUT_MS,
      );
    });

    describe('ending subscriptions', () => {
      it(
        'stops after `max` messages',
        async () => {
          const limited = collect();
          const all = collect();
          const sub = b.subscribe('conf.max', { max: 3, callback: limited.callback });
          b.subscribe('conf.max', { callback: all.callback });
          await b.flush();
          for (let i = 0; i < 5; i++) a.publish('conf.max', enc(String(i)));
          await settle();
          expect(all.msgs).toHaveLength(5);
          expect(limited.msgs.map((m) => dec(m.data))).toEqual(['0', '1', '2']);
          expect(sub.isClosed).toBe(true);
          await sub.closed;
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'ends an iterator after `max` messages',
        async () => {
          const sub = b.subscribe('conf.max.iter', { max: 2 });
          await b.flush();
          for (let i = 0; i < 3; i++) a.publish('conf.max.iter', enc(String(i)));
          const got: string[] = [];
          for await (const msg of sub) got.push(dec(msg.data));
          expect(got).toEqual(['0', '1']);
          expect(sub.isClosed).toBe(true);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'stops delivery on unsubscribe',
        async () => {
          const got = collect();
          const all = collect();
          const sub = b.subscribe('conf.unsub', { callback: got.callback });
          b.subscribe('conf.unsub', { callback: all.callback });
          await b.flush();
          a.publish('conf.unsub', enc('1'));
          await waitFor(() => got.msgs.length === 1, { timeoutMs: 5000, what: 'the first message' });
          sub.unsubscribe();
          expect(sub.isClosed).toBe(true);
          await sub.closed;
          a.publish('conf.unsub', enc('2'));
          a.publish('conf.unsub', enc('3'));
          await settle();
          expect(all.msgs).toHaveLength(3);
          expect(got.msgs).toHaveLength(1);
          sub.unsubscribe(); // twice is harmless
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'stops the rest of a batch when a callback unsubscribes',
        async () => {
          let calls = 0;
          const sub = b.subscribe('conf.unsub.inside', {
            callback: () => {
              calls++;
              sub.unsubscribe();
            },
          });
          await b.flush();
          for (let i = 0; i < 3; i++) a.publish('conf.unsub.inside', enc(String(i)));
          await settle();
          expect(calls).toBe(1);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'ends a waiting iterator on unsubscribe',
        async () => {
          const sub = b.subscribe('conf.unsub.iter');
          await b.flush();
          const got: string[] = [];
          const reading = (async () => {
            for await (const msg of sub) got.push(dec(msg.data));
          })();
          a.publish('conf.unsub.iter', enc('1'));
          await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the first message' });
          sub.unsubscribe();
          await reading;
          expect(got).toEqual(['1']);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'drains a subscription: what was sent before is still yielded, then it ends',
        async () => {
          const sub = b.subscribe('conf.drain.sub');
          await b.flush();
          for (let i = 0; i < 5; i++) a.publish('conf.drain.sub', enc(String(i)));
          await a.flush();
          await sub.drain();
          expect(sub.isClosed).toBe(true);
          a.publish('conf.drain.sub', enc('late'));
          await settle();
          const got: string[] = [];
          for await (const msg of sub) got.push(dec(msg.data));
          expect(got).toEqual(['0', '1', '2', '3', '4']);
          await sub.closed;
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'keeps a subscription alive when its callback throws',
        async () => {
          const errors: unknown[] = [];
          const seen: string[] = [];
          const sub = b.subscribe('conf.throw', {
            callback: (m) => {
              seen.push(dec(m.data));
              if (seen.length === 1) throw new Error('boom');
            },
            onError: (error, m) => errors.push([error, dec(m.data)]),
          });
          const quiet: string[] = [];
          b.subscribe('conf.throw', {
            callback: (m) => {
              quiet.push(dec(m.data));
              throw new Error('nobody listens to this');
            },
          });
          await b.flush();
          a.publish('conf.throw', enc('1'));
          a.publish('conf.throw', enc('2'));
          await waitFor(() => seen.length === 2 && quiet.length === 2, { timeoutMs: 5000, what: 'both messages twice' });
          expect(sub.isClosed).toBe(false);
          expect(errors).toHaveLength(1);
          const [[error, data]] = errors as [[Error, string]];
          expect(error.message).toBe('boom');
          expect(data).toBe('1');
          // The transport itself still works.
          a.publish('conf.throw', enc('3'));
          await waitFor(() => seen.length === 3, { timeoutMs: 5000, what: 'a third message' });
        },
        TEST_TIMEOUT_MS,
      );
    });

    describe('drain and close', () => {
      it(
        'drains a transport: its own buffered messages are delivered, then it closes',
        async () => {
          const statuses: TransportStatus[] = [];
          b.onStatus((s) => statuses.push(s));
          const got = collect();
          b.subscribe('conf.drain.own', { callback: got.callback });
          for (let i = 0; i < 100; i++) b.publish('conf.drain.own', enc(String(i)));
          await b.drain();
          expect(got.msgs).toHaveLength(100);
          expect(b.isClosed).toBe(true);
          expect(statuses).toContainEqual({ type: 'close' });
          await b.drain(); // a drained transport drains again without complaint
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'drains a transport: messages that reached it are delivered before it closes',
        async () => {
          const got = collect();
          b.subscribe('conf.drain.other', { callback: got.callback });
          await b.flush();
          for (let i = 0; i < 100; i++) a.publish('conf.drain.other', enc(String(i)));
          await a.flush();
          await b.drain();
          expect(got.msgs.map((m) => Number(dec(m.data)))).toEqual(Array.from({ length: 100 }, (_, i) => i));
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'throws UnavailableError on every operation after close, and reports the close',
        async () => {
          const statuses: TransportStatus[] = [];
          a.onStatus((s) => statuses.push(s));
          await a.close();
          expect(a.isClosed).toBe(true);
          expect(statuses).toContainEqual({ type: 'close' });
          const errors = [
            await thrownBy(() => a.publish('conf.closed', enc('x'))),
            await thrownBy(() => a.subscribe('conf.closed')),
            await thrownBy(() => a.request('conf.closed', enc('x'), { timeoutMs: 1000 })),
            await thrownBy(() => a.flush()),
          ];
          for (const error of errors) expect(UnavailableError.isInstance(error), String(error)).toBe(true);
          await a.close(); // closing twice is harmless
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'ends subscriptions and fails pending requests on close',
        async () => {
          b.subscribe('conf.close.silent', { callback: () => {} });
          await b.flush();
          const sub = a.subscribe('conf.close.sub');
          const reading = (async () => {
            for await (const _ of sub) expect.fail('no message was sent');
          })();
          const pending = thrownBy(() => a.request('conf.close.silent', enc('x'), { timeoutMs: 10_000 }));
          await a.flush();
          await a.close();
          expect(UnavailableError.isInstance(await pending), 'pending request fails with UnavailableError').toBe(true);
          await reading;
          await sub.closed;
          expect(sub.isClosed).toBe(true);
        },
        TEST_TIMEOUT_MS,
      );

      it(
        'stops telling a listener once it unsubscribed from status',
        async () => {
          const statuses: TransportStatus[] = [];
          const stop = a.onStatus((s) => statuses.push(s));
          stop();
          await a.close();
          expect(statuses).toEqual([]);
        },
        TEST_TIMEOUT_MS,
      );
    });
  });
}
