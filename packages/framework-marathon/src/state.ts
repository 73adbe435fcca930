/**
 * Marathon's durable state in the Store: one entry per app version, per deployment and per
 * instance, plus the framework id (so a restarted or new leader fails over to the same framework
 * and keeps its tasks) and the event subscriptions.
 *
 * | key | value |
 * | --- | --- |
 * | `marathon.apps.<app id>.<version ms>` | an {@link App} (`/shop/web` is written `shop/web`, a dot in a segment `=`) |
 * | `marathon.deployments.<id>` | a {@link DeploymentRecord} |
 * | `marathon.instances.<task id>` | an {@link InstanceRecord} |
 * | `marathon.framework` | `{ frameworkId }` |
 * | `marathon.subscriptions` | `{ callbackUrls }` |
 *
 * Values are JSON. Writes to one key are serialised in the order they were asked for, so a
 * later state of an instance never loses to an earlier one still in flight.
 *
 * @example
 * ```ts
 * const state = new MarathonState(store);
 * const loaded = await state.load();
 * await state.putInstance({ ...instance, state: 'staging' }); // before the launch is sent
 * ```
 * @module
 */

import type { Store } from '@stoa/sdk';
import type { App } from './app/schema.js';
import type { DeploymentActionName } from './deployment/plan.js';

/** Where an instance stands. `scheduled`: waiting for an offer, not launched yet. */
export type InstanceState = 'scheduled' | 'staging' | 'starting' | 'running' | 'killing' | 'unreachable';

/** One instance (one task) of an app, as stored. */
export interface InstanceRecord {
  /** The task id (`shop_web.<uuid>`). */
  taskId: string;
  /** The app it is an instance of. */
  appId: string;
  /** The app version it was launched with. */
  version: string;
  /** The config hash of that version (new or old during a restart). */
  configHash: string;
  /** Where it stands. */
  state: InstanceState;
  /** When the record was made (epoch ms). */
  createdAt: number;
  /** Its agent, once placed. */
  agentId?: string;
  /** Its agent's hostname, once placed. */
  hostname?: string;
  /** Its host ports, once placed. */
  ports: number[];
  /** When the launch was sent (epoch ms). */
  stagedAt?: number;
  /** When it first ran (epoch ms). */
  startedAt?: number;
  /** The latest health-check result; absent until the first. */
  healthy?: boolean;
  /** The latest readiness-check result (apps with a readiness check). */
  ready?: boolean;
  /** Since when it is unreachable (epoch ms). */
  unreachableSince?: number;
  /** When a kill was last sent (epoch ms). */
  killSentAt?: number;
  /** The latest status message. */
  message?: string;
}

/** A deployment in progress, as stored: enough to rebuild its plan and carry on. */
export interface DeploymentRecord {
  /** The deployment id. */
  id: string;
  /** The version of the change (ISO-8601). */
  version: string;
  /** The apps it acts on as they were before. */
  original: App[];
  /** The apps it acts on as they are to be. */
  target: App[];
  /** Apps restarted without a change (`POST /v2/apps/{id}/restart`). */
  restart: string[];
  /** The plan's steps, as planned over every app when it started. */
  steps: { actions: { action: DeploymentActionName; app: string }[] }[];
  /** The current step, 0-based. */
  step: number;
  /** When it started (epoch ms). */
  startedAt: number;
  /** The canary step reached per restarted app. */
  reachedStep: Record<string, number>;
}

/** Everything {@link MarathonState.load} reads. */
export interface LoadedState {
  /** Every stored version of every app, by app id. */
  versions: Map<string, App[]>;
  /** The deployments in progress. */
  deployments: DeploymentRecord[];
  /** The instances. */
  instances: InstanceRecord[];
  /** The framework id, once subscribed. */
  frameworkId: string | undefined;
  /** The event subscriptions' callback URLs. */
  callbackUrls: string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
}

/** The key of an app version. */
export function appVersionKey(appId: string, version: string): string {
  return `marathon.apps.${encodeAppId(appId)}.${Date.parse(version)}`;
}

function encodeAppId(appId: string): string {
  return appId.slice(1).replaceAll('.', '=');
}

/** Reads and writes Marathon's records. */
export class MarathonState {
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(private readonly store: Store) {}

  /** Reads every record. */
  async load(): Promise<LoadedState> {
    const versions = new Map<string, App[]>();
    for (const app of await this.values<App>('marathon.apps.>')) {
      const list = versions.get(app.id) ?? [];
      list.push(app);
      versions.set(app.id, list);
    }
    for (const list of versions.values()) list.sort((a, b) => Date.parse(a.version ?? '') - Date.parse(b.version ?? ''));
    const framework = await this.store.get('marathon.framework');
    const subscriptions = await this.store.get('marathon.subscriptions');
    return {
      versions,
      deployments: await this.values<DeploymentRecord>('marathon.deployments.>'),
      instances: await this.values<InstanceRecord>('marathon.instances.>'),
      frameworkId: framework && framework.value.length > 0 ? decodeJson<{ frameworkId: string }>(framework.value).frameworkId : undefined,
      callbackUrls: subscriptions && subscriptions.value.length > 0 ? decodeJson<{ callbackUrls: string[] }>(subscriptions.value).callbackUrls : [],
    };
  }

  private async values<T>(filter: string): Promise<T[]> {
    const out: T[] = [];
    for (const key of await this.store.keys(filter)) {
      const entry = await this.store.get(key);
      if (entry && entry.operation === 'PUT' && entry.value.length > 0) out.push(decodeJson<T>(entry.value));
    }
    return out;
  }

  /** Runs writes of one key one after the other. */
  private serial(key: string, write: () => Promise<unknown>): Promise<void> {
    const next = (this.chains.get(key) ?? Promise.resolve()).catch(() => {}).then(write);
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    }).catch(() => {});
    return next.then(() => {});
  }

  private put(key: string, value: unknown): Promise<void> {
    const bytes = encodeJson(value);
    return this.serial(key, () => this.store.put(key, bytes));
  }

  private remove(key: string): Promise<void> {
    return this.serial(key, () => this.store.delete(key));
  }

  /** Stores a version of an app (its `version` set). */
  putAppVersion(app: App): Promise<void> {
    return this.put(appVersionKey(app.id, app.version ?? new Date().toISOString()), app);
  }

  /** Deletes every stored version of an app. */
  async deleteApp(appId: string): Promise<void> {
    const keys = await this.store.keys(`marathon.apps.${encodeAppId(appId)}.*`);
    await Promise.all(keys.map((key) => this.remove(key)));
  }

  /** Deletes one stored version of an app. */
  deleteAppVersion(appId: string, version: string): Promise<void> {
    return this.remove(appVersionKey(appId, version));
  }

  /** Stores a deployment. */
  putDeployment(record: DeploymentRecord): Promise<void> {
    return this.put(`marathon.deployments.${record.id}`, record);
  }

  /** Forgets a deployment. */
  deleteDeployment(id: string): Promise<void> {
    return this.remove(`marathon.deployments.${id}`);
  }

  /** Stores an instance. */
  putInstance(record: InstanceRecord): Promise<void> {
    return this.put(`marathon.instances.${record.taskId}`, record);
  }

  /** Forgets an instance. */
  deleteInstance(taskId: string): Promise<void> {
    return this.remove(`marathon.instances.${taskId}`);
  }

  /** Stores the framework id. */
  putFrameworkId(frameworkId: string): Promise<void> {
    return this.put('marathon.framework', { frameworkId });
  }

  /** Stores the event subscriptions. */
  putCallbackUrls(callbackUrls: string[]): Promise<void> {
    return this.put('marathon.subscriptions', { callbackUrls });
  }

  /** Resolves once every write asked for so far has landed (or failed). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }
}
