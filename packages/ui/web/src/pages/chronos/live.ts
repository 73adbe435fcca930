/**
 * Live updates for the Chronos page: the scheduler's event stream bumps a counter (at most a few
 * times a second, however many events arrive), and views reload their polled data when it moves.
 */

import { useEffect, useRef, useState } from 'preact/hooks';
import { useEvents } from '../../lib/hooks';
import { API, EVENT_TYPES } from './chronos-api';

/** A counter that moves when the scheduler reports something, and whether the stream is connected. */
export interface LiveTick {
  tick: number;
  connected: boolean;
}

/** Subscribes to `/v1/scheduler/events`; bursts of events move the counter once. */
export function useLiveTick(): LiveTick {
  const [tick, setTick] = useState(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const connected = useEvents(`${API}/events`, EVENT_TYPES, () => {
    if (pending.current !== undefined) return;
    pending.current = setTimeout(() => {
      pending.current = undefined;
      setTick((t) => t + 1);
    }, 150);
  });
  useEffect(() => () => clearTimeout(pending.current), []);
  return { tick, connected };
}

/** Calls `reload` whenever `tick` moves (not on the first render: the poll has just loaded). */
export function useReloadOn(tick: number, reload: () => void): void {
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    reload();
  }, [tick, reload]);
}
