/**
 * The durable registry: what a new leader needs to carry on. One Store entry per object —
 * admitted agents (with their totals, which dynamic reservations change), frameworks (with their
 * failover timeouts), torn-down framework ids, role weights and quota, and the epoch — each
 * written before the master acts on it. Task state is not here: agents report it when they
 * re-register, as in Mesos.
 *
 * @module
 */

import {
  AgentInfoSchema,
  decode,
  encode,
  FrameworkInfoSchema,
  QuotaSchema,
  ResourcesSchema,
  type Store,
  safeDecode,
} from '@stoa/core';
import { z } from 'zod';
import type { AgentRecord, FrameworkRecord } from '../records.js';

/** An admitted agent as the registry keeps it. */
export const RegistryAgentSchema = z.object({
  v: z.literal(1),
  id: z.string(),
  principal: z.string(),
  info: AgentInfoSchema,
  total: ResourcesSchema,
  registeredMs: z.number(),
  gone: z.boolean().optional(),
});

/** A framework as the registry keeps it. */
export const RegistryFrameworkSchema = z.object({
  v: z.literal(1),
  id: z.string(),
  principal: z.string(),
  info: FrameworkInfoSchema,
  registeredMs: z.number(),
  completed: z.boolean().optional(),
});

const WeightRecordSchema = z.object({ v: z.literal(1), role: z.string(), weight: z.number().positive() });
const QuotaRecordSchema = z.object({ v: z.literal(1), quota: QuotaSchema });
const EpochSchema = z.object({ v: z.literal(1), epoch: z.number().int().nonnegative() });

/** A registry agent entry. */
export type RegistryAgent = z.infer<typeof RegistryAgentSchema>;
/** A registry framework entry. */
export type RegistryFramework = z.infer<typeof RegistryFrameworkSchema>;

/** Role names may hold characters KV keys may not (`*`): keys carry them base64url-encoded. */
function roleKey(role: string): string {
  return Buffer.from(role).toString('base64url') || '_';
}

/** Everything the registry holds, as loaded at start. */
export interface RegistrySnapshot {
  agents: RegistryAgent[];
  frameworks: RegistryFramework[];
  weights: { role: string; weight: number }[];
  quotas: z.infer<typeof QuotaSchema>[];
}

/** The registry over a Store. */
export class Registry {
  constructor(private readonly store: Store) {}

  /** Takes the next epoch (compare-and-set, so two masters never get the same one). */
  async nextEpoch(): Promise<number> {
    for (;;) {
      const entry = await this.store.get('master.epoch');
      const epoch = entry ? decode(EpochSchema, entry.value).epoch + 1 : 1;
      try {
        if (entry) await this.store.update('master.epoch', encode(EpochSchema, { v: 1, epoch }), entry.revision);
        else await this.store.create('master.epoch', encode(EpochSchema, { v: 1, epoch }));
        return epoch;
      } catch (error) {
        if ((error as { code?: string }).code === 'CONFLICT' || (error as { code?: string }).code === 'ALREADY_EXISTS') continue;
        throw error;
      }
    }
  }

  /** Writes an agent's entry. */
  async saveAgent(agent: AgentRecord, gone = false): Promise<void> {
    const entry: RegistryAgent = { v: 1, id: agent.id, principal: agent.principal, info: agent.info, total: agent.total, registeredMs: agent.registeredMs };
    if (gone) entry.gone = true;
    await this.store.put(`agents.${agent.id}`, encode(RegistryAgentSchema, entry));
  }

  /** Removes an agent's entry. */
  async removeAgent(agentId: string): Promise<void> {
    await this.store.delete(`agents.${agentId}`);
  }

  /** Writes a framework's entry. */
  async saveFramework(fw: FrameworkRecord, completed = false): Promise<void> {
    const entry: RegistryFramework = { v: 1, id: fw.id, principal: fw.principal, info: fw.info, registeredMs: fw.registeredMs };
    if (completed) entry.completed = true;
    await this.store.put(`frameworks.${fw.id}`, encode(RegistryFrameworkSchema, entry));
  }

  /** Writes a role's weight. */
  async saveWeight(role: string, weight: number): Promise<void> {
    await this.store.put(`weights.${roleKey(role)}`, encode(WeightRecordSchema, { v: 1, role, weight }));
  }

  /** Writes (or, with no guarantee and no limit, removes) a role's quota. */
  async saveQuota(quota: z.infer<typeof QuotaSchema>): Promise<void> {
    const key = `quota.${roleKey(quota.role)}`;
    if (!quota.guarantee && !quota.limit) await this.store.delete(key);
    else await this.store.put(key, encode(QuotaRecordSchema, { v: 1, quota }));
  }

  /** Loads everything; entries that fail to decode are skipped and reported through `onInvalid`. */
  async load(onInvalid: (key: string, message: string) => void = () => {}): Promise<RegistrySnapshot> {
    const snapshot: RegistrySnapshot = { agents: [], frameworks: [], weights: [], quotas: [] };
    const read = async <S extends z.ZodType>(prefix: string, schema: S, push: (value: z.output<S>) => void) => {
      for (const key of await this.store.keys(`${prefix}.>`)) {
        const entry = await this.store.get(key);
        if (!entry) continue;
        const r = safeDecode(schema, entry.value);
        if (r.ok) push(r.value);
        else onInvalid(key, r.error.message);
      }
    };
    await read('agents', RegistryAgentSchema, (a) => snapshot.agents.push(a));
    await read('frameworks', RegistryFrameworkSchema, (f) => snapshot.frameworks.push(f));
    await read('weights', WeightRecordSchema, (w) => snapshot.weights.push({ role: w.role, weight: w.weight }));
    await read('quota', QuotaRecordSchema, (q) => snapshot.quotas.push(q.quota));
    return snapshot;
  }
}
