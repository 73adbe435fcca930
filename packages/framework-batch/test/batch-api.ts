/**
 * The batch REST API as the tests over NATS drive it: submit a spec, read a job, wait for a job
 * to reach a state. `baseUrl` is read at each call, as a test may restart the framework.
 */

import { waitFor } from '@stoa/testkit';
import { expect } from 'vitest';

/** A job as `GET /v1/jobs/{id}` answers, the fields the tests read. */
export interface Job {
  jobId: string;
  state: string;
  reason?: string;
  message?: string;
  stages: { stage: string; done: number; running: number; failed: number; total: number; failedAttempts: number }[];
  tasks?: {
    taskId: string;
    state: string;
    attempt: number;
    launchId?: string;
    agentId?: string;
    launchedAtMs?: number;
    message?: string;
    output?: { result?: unknown };
  }[];
  createdAtMs: number;
}

/** Calls on the batch framework at `baseUrl()`; relative module paths in specs resolve in `baseDir`. */
export function batchApi(baseUrl: () => string, baseDir: string) {
  const getJob = async (jobId: string): Promise<Job> => (await (await fetch(`${baseUrl()}/v1/jobs/${jobId}`)).json()) as Job;
  return {
    /** Submits a spec (an object, or YAML/JSON text); expects 201. */
    async submit(spec: unknown, dir = baseDir): Promise<Job> {
      const res = await fetch(`${baseUrl()}/v1/jobs?baseDir=${encodeURIComponent(dir)}`, { method: 'POST', body: typeof spec === 'string' ? spec : JSON.stringify(spec) });
      expect(res.status, await res.clone().text()).toBe(201);
      return (await res.json()) as Job;
    },
    getJob,
    /** Polls the job until `until` holds (by default: it ended); the error shows the job as last read. */
    async waitJob(jobId: string, what: string, until: (job: Job) => boolean = (j) => j.state !== 'RUNNING', timeoutMs = 20_000): Promise<Job> {
      let last: Job | undefined;
      try {
        await waitFor(
          async () => {
            last = await getJob(jobId);
            return until(last);
          },
          { timeoutMs, what },
        );
      } catch (error) {
        throw new Error(`${what}: ${JSON.stringify(last)?.slice(0, 2000)}`, { cause: error });
      }
      return last!;
    },
  };
}
