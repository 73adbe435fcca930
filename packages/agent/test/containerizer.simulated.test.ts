/**
 * Runs the containerizer conformance suite against the simulated containerizer.
 *
 * @module
 */

import { SimulatedContainerizer } from '../src/containerizer/index.js';
import { describeContainerizerConformance } from './containerizer-conformance.js';

describeContainerizerConformance('simulated', async () => {
  const containerizer = new SimulatedContainerizer();
  return {
    containerizer,
    sandbox: async (id) => `/nonexistent/sandboxes/${id}`,
    dispose: () => containerizer.close({ killAll: true }),
    many: 1_000,
  };
});
