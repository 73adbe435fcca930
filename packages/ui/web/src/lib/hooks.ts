/** Hooks the pages share: polled JSON, server-sent events, the URL hash as state. */

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { getJson } from './api';

/** The state of a polled resource. */
export interface Polled<T> {
  data: T | undefined;
  error: string | undefined;
  /** Fetches again now. */
  reload: () => void;
}

/**
 * GETs `path` now, every `intervalMs`, and whenever `reload` is called. Keeps the last good data
 * while a later fetch fails. A null path fetches nothing.
 */
export function usePolled<T>(path: string | null, intervalMs = 2000): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    const load = () =>
      getJson<T>(path).then(
        (d) => {
          if (!live) return;
          setData(d);
          setError(undefined);
        },
        (e: unknown) => live && setError(e instanceof Error ? e.message : String(e)),
      );
    void load();
    const timer = intervalMs > 0 ? setInterval(load, intervalMs) : undefined;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [path, intervalMs, tick]);
  return { data, error, reload };
}

/** One server-sent event as the page sees it. */
export interface ServerEvent {
  type: string;
  data: unknown;
  at: number;
}

/**
 * Subscribes to the event stream at `url` (EventSource, reconnecting by itself) and calls `onEvent`
 * for each event of the named `types` (all `message` events when none are named). Returns whether the
 * stream is connected.
 */
export function useEvents(url: string | null, types: readonly string[], onEvent: (e: ServerEvent) => void): boolean {
  const [open, setOpen] = useState(false);
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const key = types.join(',');
  useEffect(() => {
    if (url === null) return;
    const source = new EventSource(url);
    source.onopen = () => setOpen(true);
    source.onerror = () => setOpen(source.readyState === EventSource.OPEN);
    const listen = (type: string) => {
      source.addEventListener(type, (ev) => {
        const raw = (ev as MessageEvent<string>).data;
        let data: unknown = raw;
        try {
          data = JSON.parse(raw);
        } catch {
          // not JSON: pass the text on
        }
        handler.current({ type, data, at: Date.now() });
      });
    };
    for (const t of key ? key.split(',') : ['message']) listen(t);
    return () => source.close();
  }, [url, key]);
  return open;
}

/** The part of `location.hash` after `#`, kept in state and in the address bar (so views can be linked). */
export function useHash(): [string, (next: string) => void] {
  const [hash, setHash] = useState(() => decodeURIComponent(location.hash.slice(1)));
  useEffect(() => {
    const on = () => setHash(decodeURIComponent(location.hash.slice(1)));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const set = useCallback((next: string) => {
    location.hash = next;
  }, []);
  return [hash, set];
}
