/**
 * Placement helpers for frameworks: {@link placeTasks} packs tasks into offers under Marathon-style
 * constraints, and {@link validateConstraints} checks constraints as a framework's API receives them.
 *
 * @example
 * ```ts
 * import { placeTasks, validateConstraints } from '@stoa/sdk';
 * const constraints = validateConstraints([['hostname', 'UNIQUE'], ['@zone', 'GROUP_BY', '3']]);
 * const { accepts, declineOfferIds, unplaced } = placeTasks(offers, [
 *   { taskId: 'web.1', name: 'web', resources: 'cpus:1;mem:512', ports: 1, command: { value: './serve' }, constraints },
 * ]);
 * ```
 * @module
 */
export {
  CONSTRAINT_OPERATORS,
  type Constraint,
  type ConstraintOperator,
  type ConstraintTarget,
  constraintFieldValue,
  formatConstraint,
  validateConstraints,
} from './constraints.js';
export {
  type ExistingTask,
  type OfferAccept,
  type PlaceTasksOptions,
  type Placement,
  placeTasks,
  type TaskDemand,
  type UnplacedDemand,
} from './place-tasks.js';
