/**
 * Containerizers: how the agent runs tasks. `ProcessContainerizer` runs real processes, detached
 * under a recording wrapper and in cgroups where the machine allows; `SimulatedContainerizer`
 * runs none, for benchmarks with thousands of agents. Both implement {@link Containerizer}.
 *
 * @example
 * ```ts
 * import { ProcessContainerizer, SimulatedContainerizer, type Containerizer } from './containerizer/index.js';
 * const c: Containerizer = simulate ? new SimulatedContainerizer() : await ProcessContainerizer.create({ workDir });
 * ```
 * @module
 */

export type { ContainerExit, ContainerLaunch, Containerizer, KnownContainer, RecoveredContainer } from './containerizer.js';
export type { CgroupMode } from './process/cgroups.js';
export { ProcessContainerizer, type ProcessContainerizerOptions, type ProcessContainerizerState } from './process/process-containerizer.js';
export { SimulatedContainerizer, type SimulatedContainerizerOptions, type SimulatedContainerizerState } from './simulated.js';
