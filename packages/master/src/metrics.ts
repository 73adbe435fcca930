/**
 * The master's Prometheus metrics (prom-client, one registry per master so several masters can
 * live in one process). Gauges of state are computed when scraped, not on hot paths.
 *
 * @module
 */

import type { TaskState } from '@stoa/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The metrics of one master. */
export class MasterMetrics {
  /** The registry `/metrics` serves. */
  readonly registry = new Registry();
  readonly messagesIn = new Counter({ name: 'stoa_master_messages_in_total', help: 'Messages received, by channel', labelNames: ['channel'], registers: [this.registry] });
  readonly messagesOut = new Counter({ name: 'stoa_master_messages_out_total', help: 'Messages sent, by channel', labelNames: ['channel'], registers: [this.registry] });
  readonly messagesInvalid = new Counter({ name: 'stoa_master_messages_invalid_total', help: 'Messages dropped because they failed to decode or validate, by channel', labelNames: ['channel'], registers: [this.registry] });
  readonly messagesDropped = new Counter({ name: 'stoa_master_messages_dropped_total', help: 'Valid messages dropped (unknown sender, not leader…), by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly allocationCycle = new Histogram({
    name: 'stoa_master_allocation_cycle_seconds',
    help: 'Time of one allocation cycle',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly offersMade = new Counter({ name: 'stoa_master_offers_total', help: 'Offers made', registers: [this.registry] });
  readonly offersDeclined = new Counter({ name: 'stoa_master_offers_declined_total', help: 'Offers declined', registers: [this.registry] });
  readonly offersRescinded = new Counter({ name: 'stoa_master_offers_rescinded_total', help: 'Offers rescinded', registers: [this.registry] });
  readonly invalidAccepts = new Counter({ name: 'stoa_master_invalid_accepts_total', help: 'ACCEPTs naming an offer that is gone', registers: [this.registry] });
  readonly invalidTasks = new Counter({ name: 'stoa_master_invalid_tasks_total', help: 'Tasks refused with TASK_ERROR', registers: [this.registry] });
  readonly invalidOperations = new Counter({ name: 'stoa_master_invalid_operations_total', help: 'Resource operations refused', registers: [this.registry] });
  readonly statusUpdates = new Counter({ name: 'stoa_master_status_updates_total', help: 'Status updates received from agents', registers: [this.registry] });
  readonly tasksLaunched = new Counter({ name: 'stoa_master_tasks_launched_total', help: 'Tasks launched', registers: [this.registry] });
  private readonly taskStates = new Map<TaskState, number>();

  /** Counts a task's move between states (`from` undefined for a new task). */
  taskTransition(from: TaskState | undefined, to: TaskState): void {
    if (from === to) return;
    if (from) this.taskStates.set(from, (this.taskStates.get(from) ?? 1) - 1);
    else this.tasksLaunched.inc();
    this.taskStates.set(to, (this.taskStates.get(to) ?? 0) + 1);
  }

  /** Forgets the counts by state: a deposed master forgets its tasks, and a later leadership counts afresh. */
  resetTaskCounts(): void {
    this.taskStates.clear();
  }

  /** Tasks by state (terminal states count every task that ever reached them). */
  taskCounts(): Record<string, number> {
    return Object.fromEntries([...this.taskStates].filter(([, n]) => n > 0));
  }

  /** Registers gauges that read the master's state when scraped. */
  addCollectedGauge(name: string, help: string, labelNames: string[], collect: (set: (labels: Record<string, string>, value: number) => void) => void): void {
    const gauge: Gauge = new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        gauge.reset();
        collect((labels, value) => gauge.set(labels, value));
      },
    });
  }
}
