import { MemoryStore, type Store, UnavailableError } from '@stoa/core';
import { waitFor } from '@stoa/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaderElector } from '@stoa/core';

const electors: LeaderElector[] = [];
afterEach(async () => {
  for (const e of electors.splice(0)) await e.stop();
});

function elector(store: Store, masterId: string, extra: Partial<ConstructorParameters<typeof LeaderElector>[1]> = {}) {
  const events: string[] = [];
  const e = new LeaderElector(store, {
    masterId,
    leaseMs: 300,
    info: { httpUrl: `http://${masterId}` },
    onElected: () => {
      events.push('elected');
    },
    onDeposed: (why) => {
      events.push(`deposed: ${why}`);
    },
    ...extra,
  });
  electors.push(e);
  return { e, events };
}

/** A store whose updates fail while `broken` is set (a leader cut off from NATS). */
function breakable(store: Store): Store & { broken: boolean } {
  const s = Object.create(store) as Store & { broken: boolean };
  s.broken = false;
  s.update = (key, value, revision) => (s.broken ? Promise.reject(new UnavailableError('cut off')) : store.update(key, value, revision));
  s.get = (key) => (s.broken ? Promise.reject(new UnavailableError('cut off')) : store.get(key));
  return s;
}

describe('LeaderElector', () => {
  it('elects exactly one of several masters, and another takes over at once when the leader stops', async () => {
    const store = new MemoryStore();
    const all = ['m1', 'm2', 'm3'].map((id) => elector(store, id));
    await Promise.all(all.map((x) => x.e.start()));
    const leader = await waitFor(() => all.find((x) => x.e.isLeading()), { what: 'a leader' });
    await waitFor(() => all.every((x) => x.e.leader?.masterId === leader.e.leader?.masterId), { what: 'everyone to know the leader' });
    expect(all.filter((x) => x.e.isLeading())).toHaveLength(1);

    const stoppedAt = performance.now();
    await leader.e.stop();
    const next = await waitFor(() => all.find((x) => x !== leader && x.e.isLeading()), { what: 'a new leader' });
    expect(performance.now() - stoppedAt).toBeLessThan(300); // a deleted lease needs no waiting
    expect(next.e.leader?.httpUrl).toBe(`http://${next.e.leader?.masterId}`);
  });

  it('a leader that cannot renew stops leading before anyone takes over, and a follower takes over after the lease', async () => {
    const store = new MemoryStore();
    const cut = breakable(store);
    const a = elector(cut, 'a');
    await a.e.start();
    await waitFor(() => a.e.isLeading(), { what: 'a to lead' });
    const b = elector(store, 'b');
    await b.e.start();

    cut.broken = true;
    const brokeAt = performance.now();
    await waitFor(() => !a.e.isLeading(), { what: 'a to stop leading' });
    const aStopped = performance.now();
    await waitFor(() => b.e.isLeading(), { what: 'b to take over', timeoutMs: 3000 });
    const bLeads = performance.now();
    expect(aStopped).toBeLessThan(bLeads);
    expect(aStopped - brokeAt).toBeLessThan(300);
    expect(bLeads - brokeAt).toBeLessThan(300 + 2 * 100 + 100); // lease + one renewal + slack
    await waitFor(() => a.events.some((e) => e.startsWith('deposed')), { what: 'a deposed' });
    expect(a.e.state).toBe('follower');
  });

  it('a leader frozen past its lease (SIGSTOP) does not lead when it wakes', async () => {
    const store = new MemoryStore();
    let skew = 0;
    const frozen = elector(store, 'frozen', { now: () => performance.now() + skew });
    await frozen.e.start();
    await waitFor(() => frozen.e.isLeading(), { what: 'leading' });
    skew = 1000; // as if the process had been stopped for a second
    expect(frozen.e.isLeading()).toBe(false);
  });

  it('never has two masters leading at once while leaders come and go', async () => {
    const store = new MemoryStore();
    const all = ['x', 'y', 'z'].map((id) => elector(store, id, { leaseMs: 150 }));
    await Promise.all(all.map((x) => x.e.start()));
    let changes = 0;
    const deadline = performance.now() + 1500;
    while (performance.now() < deadline) {
      const leading = all.filter((x) => x.e.isLeading());
      expect(leading.length).toBeLessThanOrEqual(1);
      if (leading.length === 1 && changes < 3 && Math.random() < 0.02) {
        changes++;
        await leading[0]!.e.stop();
        await leading[0]!.e.start();
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(changes).toBeGreaterThan(0);
    // A restarted elector contends again: after its peers stop, it leads.
    const last = all[0]!;
    for (const x of all.slice(1)) await x.e.stop();
    await waitFor(() => last.e.isLeading(), { what: 'the remaining master to lead', timeoutMs: 2000 });
  });
});
