/**
 * Leader election on the Store: one lease entry, compare-and-set on its revision. Masters elect
 * their leader with it, and so do the frameworks that run several instances (marathon, chronos,
 * batch), each under its own key. The field `masterId` names the candidate, whatever it is.
 *
 * - The leader renews the lease every `renewMs` (an update on the revision it last wrote).
 * - A follower remembers when it last saw the lease's revision change, by its own clock, and tries
 *   to take over (an update on that revision) only when it has not changed for `leaseMs`. No clocks
 *   of different machines are ever compared.
 * - A leader that has not renewed for `leaseMs − renewMs` stops acting at once ({@link
 *   LeaderElector.isLeading} turns false before any follower may take over) and becomes a follower:
 *   it does not crash. A leader frozen by SIGSTOP finds, when it wakes, that its lease has lapsed.
 *
 * Per-key TTL is not used (nats-server 2.9 has none); the new leader's epoch comes from the
 * registry, so commands of a deposed leader carry an older epoch and agents drop them.
 *
 * @example
 * ```ts
 * const elector = new LeaderElector(store, { masterId, info: { httpUrl }, onElected, onDeposed });
 * await elector.start();
 * if (elector.isLeading()) handle(call);
 * ```
 * @module
 */

import { decode, encode, safeDecode } from './codec.js';
import { AlreadyExistsError, ConflictError, TimeoutError } from './errors.js';
import type { Store, StoreEntry, StoreWatch } from './store/store.js';
import { z } from 'zod';

/** The lease entry. */
export const LeaseSchema = z.object({
  v: z.literal(1),
  masterId: z.string(),
  httpUrl: z.string().optional(),
  hostname: z.string().optional(),
  /** When it was taken or renewed, by the holder's clock (informational only). */
  renewedMs: z.number(),
});

/** The lease entry. */
export type Lease = z.infer<typeof LeaseSchema>;

/** Options of a {@link LeaderElector}. */
export interface LeaderElectorOptions {
  /** This candidate's id (a master's id, a framework instance's id). */
  masterId: string;
  /** What followers and clients learn of the leader. */
  info?: { httpUrl?: string; hostname?: string };
  /** The lease key. @default 'master.leader' */
  key?: string;
  /** How long a lease lasts without renewal. @default 5000 */
  leaseMs?: number;
  /** How often the leader renews (well inside the lease). @default leaseMs / 4 */
  renewMs?: number;
  /** Called when this master became leader. */
  onElected(): void | Promise<void>;
  /** Called when this master stopped leading (lost or could not renew the lease, or stopped). */
  onDeposed(why: string): void | Promise<void>;
  /** Called whenever the known leader changes (including to none). */
  onLeader?(lease: Lease | undefined): void;
  /** The clock. @default performance.now, which no wall-clock jump moves */
  now?: () => number;
  /** Reports errors it rides out (store unavailable…). */
  onError?(error: unknown): void;
}

/** Elects one leader among candidates (masters, framework instances) sharing a Store and a key. */
export class LeaderElector {
  private readonly key: string;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly now: () => number;
  private role: 'follower' | 'leader' | 'stopped' = 'follower';
  /** The lease revision last seen (follower) or written (leader). */
  private revision = 0;
  /** When the revision last changed, by our clock. */
  private seenAt = 0;
  /** When the leader last renewed successfully, by our clock. */
  private renewedAt = 0;
  /** When the latest renewal was sent, by our clock. */
  private renewStartedAt = 0;
  private current: Lease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watch: StoreWatch | undefined;
  private busy = false;

  constructor(
    private readonly store: Store,
    private readonly options: LeaderElectorOptions,
  ) {
    this.key = options.key ?? 'master.leader';
    this.leaseMs = options.leaseMs ?? 5000;
    this.renewMs = options.renewMs ?? Math.max(1, Math.floor(this.leaseMs / 4));
    this.now = options.now ?? (() => performance.now());
  }

  /** The lease as last seen: who leads. */
  get leader(): Lease | undefined {
    return this.current;
  }

  /** `leader`, `follower`, or `stopped`. */
  get state(): 'follower' | 'leader' | 'stopped' {
    return this.role;
  }

  /**
   * Whether this master may act as leader right now: it holds the lease and renewed it within
   * `leaseMs − renewMs`. Checked before acting on anything, so a master that wakes from SIGSTOP
   * does nothing before it learns it was deposed.
   */
  isLeading(): boolean {
    return this.role === 'leader' && this.now() - this.renewedAt < this.leaseMs - this.renewMs;
  }

  /** Starts: reads the lease, watches it, and contends when it lapses (or is absent). */
  async start(): Promise<void> {
    this.role = 'follower';
    this.seenAt = this.now();
    this.watch = await this.store.watch({ key: this.key });
    void this.follow(this.watch);
    await this.tick();
    this.schedule();
  }

  /** Stops; a leader deletes its lease so a follower takes over at once. */
  async stop(): Promise<void> {
    const wasLeader = this.role === 'leader';
    this.role = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.watch?.stop();
    if (wasLeader) {
      await this.store.delete(this.key, { revision: this.revision }).catch(() => {});
      await this.options.onDeposed('stopped');
    }
  }

  private async follow(watch: StoreWatch): Promise<void> {
    try {
      for await (const entry of watch) this.observe(entry);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** A change of the lease entry. */
  private observe(entry: StoreEntry): void {
    if (entry.revision <= this.revision && entry.operation === 'PUT') return;
    this.revision = Math.max(this.revision, entry.revision);
    this.seenAt = this.now();
    const lease = entry.operation === 'PUT' ? safeDecode(LeaseSchema, entry.value) : undefined;
    const next = lease?.ok ? lease.value : undefined;
    if (next?.masterId !== this.current?.masterId) this.options.onLeader?.(next);
    this.current = next;
    if (this.role === 'leader' && next?.masterId !== this.options.masterId) void this.depose('another master took the lease');
    // A deleted lease (a leader stopped cleanly) can be taken at once.
    if (entry.operation === 'DEL' && this.role === 'follower') void this.tick();
  }

  private schedule(): void {
    if (this.role === 'stopped') return;
    // A leader renews every renewMs counted from the start of the last renewal, not its end: a
    // slow write (a busy server) does not push the next one back and let the lease run short.
    const delay = this.role === 'leader' ? Math.max(0, this.renewStartedAt + this.renewMs - this.now()) : Math.max(10, Math.floor(this.renewMs / 2));
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }

  private lease(): Uint8Array {
    return encode(LeaseSchema, { v: 1, masterId: this.options.masterId, ...this.options.info, renewedMs: Date.now() });
  }

  /** One step: renew (leader) or contend when the lease lapsed (follower). */
  private async tick(): Promise<void> {
    if (this.busy || this.role === 'stopped') return;
    this.busy = true;
    try {
      if (this.role === 'leader') await this.renew();
      else await this.contend();
    } finally {
      this.busy = false;
    }
  }

  /**
   * A late renewal (the process was paused, or too busy) is still tried: it succeeds only when no
   * one wrote the lease since our last renewal — a follower takes over only by a write on the
   * revision it saw, ours — so nobody took over, and this leader goes on with its state instead
   * of forgetting it. Meanwhile {@link LeaderElector.isLeading} was false, so it did not act. When
   * another candidate did take over, the write fails and this one becomes a follower.
   */
  private async renew(): Promise<void> {
    // Counted from before the request: followers see the new revision only after it is written.
    const started = this.now();
    this.renewStartedAt = started;
    try {
      this.revision = await this.store.update(this.key, this.lease(), this.revision);
      this.renewedAt = started;
      this.seenAt = started;
    } catch (error) {
      if (ConflictError.isInstance(error)) await this.depose('another master took the lease');
      else this.options.onError?.(error);
    }
  }

  private async contend(): Promise<void> {
    let entry: StoreEntry | null;
    try {
      entry = await this.boundedRead(this.store.get(this.key));
    } catch (error) {
      this.options.onError?.(error);
      return;
    }
    if (entry && entry.revision !== this.revision) this.observe(entry);
    const lapsed = !entry || this.now() - this.seenAt >= this.leaseMs;
    if (!lapsed) return;
    try {
      const started = this.now();
      this.revision = entry ? await this.store.update(this.key, this.lease(), entry.revision) : await this.store.create(this.key, this.lease());
      this.renewedAt = started;
      this.seenAt = started;
      this.current = decode(LeaseSchema, this.lease());
      this.role = 'leader';
      this.options.onLeader?.(this.current);
      await this.options.onElected();
    } catch (error) {
      if (!ConflictError.isInstance(error) && !AlreadyExistsError.isInstance(error)) this.options.onError?.(error);
    }
  }

  /**
   * A read given up after `leaseMs`: one sent while the store had no leader (the server of its
   * stream died) can hang for the store's whole timeout (5 s on NATS), and the next try, once the
   * store is back, should not wait for it. Only reads: a write given up on could still land.
   */
  private boundedRead<T>(call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`the store did not answer within the lease (${this.leaseMs} ms)`)), this.leaseMs);
      timer.unref();
    });
    return Promise.race([call, deadline]).finally(() => clearTimeout(timer));
  }

  private async depose(why: string): Promise<void> {
    if (this.role !== 'leader') return;
    this.role = 'follower';
    this.seenAt = this.now();
    await this.options.onDeposed(why);
  }
}
