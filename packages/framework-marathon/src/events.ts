/**
 * Marathon's event bus: every event has Marathon's `eventType` and `timestamp`; listeners get
 * them in order (the SSE stream `/v2/events`), and HTTP callback subscribers
 * (`/v2/eventSubscriptions`) get each one as a JSON POST, retried with backoff.
 *
 * @example
 * ```ts
 * const bus = new EventBus({ logger });
 * const stop = bus.listen((event) => console.log(event.eventType));
 * bus.emit('deployment_success', { id, plan });
 * ```
 * @module
 */

import type { Logger } from 'pino';

/** Marathon's event types that Stoa emits. */
export const MARATHON_EVENT_TYPES = [
  'api_post_event',
  'deployment_info',
  'deployment_success',
  'deployment_failed',
  'deployment_step_success',
  'status_update_event',
  'health_status_changed_event',
  'instance_changed_event',
  'app_terminated_event',
  'subscribe_event',
  'unsubscribe_event',
  'event_stream_attached',
  'event_stream_detached',
] as const;

/** A Marathon event type. */
export type MarathonEventType = (typeof MARATHON_EVENT_TYPES)[number];

/** An event as Marathon sends it: `eventType`, `timestamp` and the fields of its type. */
export interface MarathonEvent {
  /** The event type. */
  eventType: MarathonEventType;
  /** When it happened (ISO-8601). */
  timestamp: string;
  /** The fields of the event type. */
  [field: string]: unknown;
}

/** Options of an {@link EventBus}. */
export interface EventBusOptions {
  /** Where delivery failures are logged. */
  logger: Logger;
  /** How many times a callback is retried after its first attempt. @default 3 */
  callbackRetries?: number;
  /** The delay before the first retry, doubled each time (ms). @default 200 */
  callbackBackoffMs?: number;
}

/** Fans events out to listeners and HTTP callbacks. */
export class EventBus {
  private readonly listeners = new Set<(event: MarathonEvent) => void>();
  private readonly callbacks = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: EventBusOptions) {}

  /** Sends an event to every listener and callback URL. */
  emit(eventType: MarathonEventType, fields: Record<string, unknown> = {}): MarathonEvent {
    const event: MarathonEvent = { ...fields, eventType, timestamp: new Date().toISOString() };
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.options.logger.warn({ err: String(error) }, 'an event listener threw');
      }
    }
    for (const url of this.callbacks) void this.deliver(url, event, 0);
    return event;
  }

  /** Calls `listener` for every event from now on; returns a function that stops it. */
  listen(listener: (event: MarathonEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The callback URLs. */
  get callbackUrls(): string[] {
    return [...this.callbacks];
  }

  /** Replaces the callback URLs (as loaded from the store). */
  setCallbackUrls(urls: readonly string[]): void {
    this.callbacks.clear();
    for (const url of urls) this.callbacks.add(url);
  }

  /** Adds a callback URL; false when it was there already. */
  subscribe(url: string): boolean {
    if (this.callbacks.has(url)) return false;
    this.callbacks.add(url);
    return true;
  }

  /** Removes a callback URL; false when it was not there. */
  unsubscribe(url: string): boolean {
    return this.callbacks.delete(url);
  }

  /** Stops retries in flight. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.listeners.clear();
  }

  private async deliver(url: string, event: MarathonEvent, attempt: number): Promise<void> {
    try {
      const answer = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(5000),
      });
      await answer.body?.cancel();
      if (answer.ok) return;
      throw new Error(`HTTP ${answer.status}`);
    } catch (error) {
      const retries = this.options.callbackRetries ?? 3;
      if (attempt >= retries || !this.callbacks.has(url)) {
        this.options.logger.warn({ url, eventType: event.eventType, err: String(error) }, 'event callback failed; giving up');
        return;
      }
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          void this.deliver(url, event, attempt + 1);
        },
        (this.options.callbackBackoffMs ?? 200) * 2 ** attempt,
      );
      timer.unref();
      this.timers.add(timer);
    }
  }
}
