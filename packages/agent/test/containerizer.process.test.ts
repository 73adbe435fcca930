/**
 * Runs the containerizer conformance suite against the process containerizer, with real `sh`
 * processes in temp sandboxes (and cgroups, where the machine has them).
 *
 * @module
 */

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessContainerizer } from '../src/containerizer/index.js';
import { describeContainerizerConformance } from './containerizer-conformance.js';

describeContainerizerConformance('process', async () => {
  const workDir = await mkdtemp(join(tmpdir(), 'stoa-conformance-'));
  const containerizer = await ProcessContainerizer.create({ workDir });
  return {
    containerizer,
    sandbox: async (id) => {
      const dir = join(workDir, 'sandboxes', id);
      await mkdir(dir, { recursive: true });
      return dir;
    },
    dispose: async () => {
      await containerizer.close({ killAll: true });
      await rm(workDir, { recursive: true, force: true });
    },
  };
});
