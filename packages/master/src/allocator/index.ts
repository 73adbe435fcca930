/**
 * The master's allocator: hierarchical weighted DRF over roles and frameworks, with quota
 * (guarantees and limits), reservations, decline filters, suppress/revive and `minAllocatable`.
 * Pure: no I/O, no clock — time is passed in.
 *
 * @example
 * ```ts
 * import { Allocator } from './allocator/index.js';
 * const allocator = new Allocator({ minAllocatable: [{ cpus: 0.1 }] });
 * allocator.addAgent('a1', parseResources('cpus:8;mem:32768'));
 * allocator.addFramework('f1', { roles: ['web'] });
 * const offers = allocator.runCycle(now);
 * ```
 * @module
 */
export {
  type Allocation,
  Allocator,
  type AllocatorOptions,
  type AllocatorStats,
  type FrameworkOptions,
  type QuotaSpec,
  type RecoverOptions,
  type ResolvedAllocatorOptions,
  type RoleView,
  resolveAllocatorOptions,
} from './allocator.js';
