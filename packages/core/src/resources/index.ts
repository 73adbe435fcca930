/**
 * The resource algebra: arithmetic, role filters, ports and the text form of resources.
 *
 * @example
 * ```ts
 * import { add, contains, parseResources, subtract } from '@stoa/core';
 * const free = subtract(parseResources('cpus:4;mem:1024'), parseResources('cpus:1;mem:256'));
 * contains(free, parseResources('cpus:3'));   // true
 * ```
 * @module
 */
export {
  add,
  allocatableTo,
  contains,
  equals,
  isEmpty,
  isNormalized,
  normalize,
  quantities,
  reserve,
  reservedFor,
  scalar,
  stripReservations,
  subtract,
  trySubtract,
  unreserve,
  unreserved,
} from './algebra.js';
export {
  addRanges,
  allocatePorts,
  isNormalizedRanges,
  normalizeRanges,
  type PortAllocation,
  portsToRanges,
  rangesContain,
  rangesCount,
  rangesCover,
  subtractRanges,
} from './ranges.js';
export { Resources } from './resources.js';
export { formatResources, parseAttributes, parseResources } from './text.js';
