/**
 * The cluster's event stream (`/api/v1/events`, server-sent events) kept for the whole page: the
 * last {@link MAX_EVENTS} events newest first for the events view, and a counter that moves when
 * events arrive so the other views refresh at once instead of waiting for their next poll.
 */

import { useEffect, useRef, useState } from 'preact/hooks';
import { type ServerEvent, useEvents } from '../../lib/hooks';
import type { AgentSummary, FrameworkSummary, TaskSummary } from './model';

/** How many events the page keeps. */
export const MAX_EVENTS = 200;

/** The event types the master streams. */
export const CLUSTER_EVENT_TYPES = [
  'TASK_ADDED',
  'TASK_UPDATED',
  'AGENT_ADDED',
  'AGENT_UPDATED',
  'AGENT_REMOVED',
  'FRAMEWORK_ADDED',
  'FRAMEWORK_UPDATED',
  'FRAMEWORK_REMOVED',
] as const;

/** One cluster event as the master sends it. */
export interface ClusterEvent {
  type: string;
  timestampMs?: number;
  task?: TaskSummary;
  agent?: AgentSummary;
  framework?: FrameworkSummary;
  agentId?: string;
  frameworkId?: string;
}

/** An event with the order it arrived in. */
export interface FeedEvent {
  /** 1 for the first event since the page opened. */
  seq: number;
  /** When the page received it. */
  receivedMs: number;
  event: ClusterEvent;
}

/** The feed: events newest first, whether the stream is open, and counters. */
export interface ClusterFeed {
  events: readonly FeedEvent[];
  connected: boolean;
  /** Every event received since the page opened (more than are kept). */
  received: number;
  /** Moves (at most once a second) when events arrived. */
  tick: number;
  /** Forgets the kept events. */
  clear: () => void;
}

/** How often arriving events are shown: a burst of thousands is one render, not thousands. */
const FLUSH_MS = 250;
/** How often at most events make the views refresh (each refresh is a few requests to the master). */
const TICK_MS = 1000;

/** Subscribes to the event stream while `enabled`, batching renders. */
export function useClusterFeed(enabled: boolean): ClusterFeed {
  const pending = useRef<FeedEvent[]>([]);
  const seq = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const tickTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const lastTick = useRef(0);
  const [events, setEvents] = useState<readonly FeedEvent[]>([]);
  const [tick, setTick] = useState(0);

  /** Moves the tick now, or when {@link TICK_MS} have passed since it last moved. */
  const bump = () => {
    if (tickTimer.current !== undefined) return;
    tickTimer.current = setTimeout(
      () => {
        tickTimer.current = undefined;
        lastTick.current = Date.now();
        setTick((t) => t + 1);
      },
      Math.max(0, lastTick.current + TICK_MS - Date.now()),
    );
  };

  const onEvent = (e: ServerEvent) => {
    if (!e.data || typeof e.data !== 'object') return;
    seq.current += 1;
    pending.current.push({ seq: seq.current, receivedMs: e.at, event: { ...(e.data as ClusterEvent), type: e.type } });
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      const batch = pending.current.reverse();
      pending.current = [];
      setEvents((old) => [...batch, ...old].slice(0, MAX_EVENTS));
      bump();
    }, FLUSH_MS);
  };
  useEffect(
    () => () => {
      clearTimeout(timer.current);
      clearTimeout(tickTimer.current);
    },
    [],
  );

  const connected = useEvents(enabled ? '/api/v1/events' : null, CLUSTER_EVENT_TYPES, onEvent);
  return { events, connected, received: seq.current, tick, clear: () => setEvents([]) };
}
