/**
 * Live updates: a component's event stream moves a counter, at most a few times a second however
 * many events arrive, and the views reload their polled data when it moves. Polling goes on beside
 * it, so a dropped stream only slows the page down.
 */

import { useEffect, useRef, useState } from 'preact/hooks';
import { useEvents } from './hooks';

/** A counter that moves when the component reports something, and whether the stream is connected. */
export interface LiveTick {
  tick: number;
  connected: boolean;
}

/** Subscribes to the event stream at `url` for `types`; a burst of events moves the counter once. */
export function useLiveTick(url: string, types: readonly string[]): LiveTick {
  const [tick, setTick] = useState(0);
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const connected = useEvents(url, types, () => {
    if (pending.current !== undefined) return;
    pending.current = setTimeout(() => {
      pending.current = undefined;
      setTick((t) => t + 1);
    }, 200);
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
