/**
 * The batch framework's Prometheus metrics (prom-client, one registry per instance). Gauges of
 * state are computed when scraped, never on the hot path.
 *
 * @module
 */

import { Counter, Gauge, Registry } from 'prom-client';

/** The metrics of one batch framework instance. */
export class BatchMetrics {
  /** The registry `/metrics` serves. */
  readonly registry = new Registry();
  /** Jobs accepted. */
  readonly jobsSubmitted = new Counter({ name: 'stoa_batch_jobs_submitted_total', help: 'Jobs accepted', registers: [this.registry] });
  /** Jobs ended, by state. */
  readonly jobsEnded = new Counter({ name: 'stoa_batch_jobs_ended_total', help: 'Jobs ended, by state', labelNames: ['state'], registers: [this.registry] });
  /** Attempts launched. */
  readonly tasksLaunched = new Counter({ name: 'stoa_batch_tasks_launched_total', help: 'Task attempts launched', registers: [this.registry] });
  /** Attempts ended, by the agent's state. */
  readonly tasksEnded = new Counter({ name: 'stoa_batch_tasks_ended_total', help: 'Task attempts ended, by state', labelNames: ['state'], registers: [this.registry] });
  /** ACCEPT calls sent. */
  readonly accepts = new Counter({ name: 'stoa_batch_accepts_total', help: 'ACCEPT calls sent', registers: [this.registry] });
  /** Offers declined. */
  readonly offersDeclined = new Counter({ name: 'stoa_batch_offers_declined_total', help: 'Offers declined', registers: [this.registry] });

  /** Registers the gauges read at scrape time. */
  constructor(read?: { runningJobs(): number; activeTasks(): number; leading(): boolean }) {
    if (read === undefined) return;
    new Gauge({ name: 'stoa_batch_jobs_running', help: 'Jobs running', registers: [this.registry], collect() { this.set(read.runningJobs()); } });
    new Gauge({ name: 'stoa_batch_tasks_active', help: 'Tasks launching or running', registers: [this.registry], collect() { this.set(read.activeTasks()); } });
    new Gauge({ name: 'stoa_batch_leading', help: '1 when this instance leads', registers: [this.registry], collect() { this.set(read.leading() ? 1 : 0); } });
  }
}
