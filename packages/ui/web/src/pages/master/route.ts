/**
 * The dashboard's place in the URL hash, `#<tab>?<param>=<value>&…` (`#tasks?state=TASK_RUNNING&task=web.1`),
 * so every view, filter and selected task can be linked and survives a reload.
 */

import { useCallback, useEffect, useState } from 'preact/hooks';

/** A view and its parameters. */
export interface Route {
  tab: string;
  params: Readonly<Record<string, string>>;
}

/** Reads a route from a hash (with or without its `#`). Unknown tabs are the caller's business. */
export function parseRoute(hash: string): Route {
  const raw = hash.startsWith('#') ? hash.slice(1) : hash;
  const q = raw.indexOf('?');
  const tab = decodeURIComponent(q < 0 ? raw : raw.slice(0, q));
  const params: Record<string, string> = {};
  if (q >= 0) for (const [k, v] of new URLSearchParams(raw.slice(q + 1))) if (v !== '') params[k] = v;
  return { tab, params };
}

/** Writes a route as a hash (without the `#`), leaving out empty parameters. */
export function formatRoute(route: Route): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(route.params)) if (v) search.set(k, v);
  const s = search.toString();
  return s ? `${encodeURIComponent(route.tab)}?${s}` : encodeURIComponent(route.tab);
}

/**
 * The route in the address bar, and a function to go to another one (a new history entry, so the
 * back button walks through views and filters).
 */
export function useRoute(): [Route, (next: Route) => void] {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const go = useCallback((next: Route) => {
    const hash = formatRoute(next);
    if (hash !== location.hash.slice(1)) location.hash = hash;
  }, []);
  return [route, go];
}
