/**
 * Every message of the Stoa protocol as a zod schema with its derived type.
 *
 * @module
 */
export * from './common.js';
export * from './resources.js';
export * from './task.js';
export * from './scheduler.js';
export * from './agent.js';
export * from './executor.js';
export * from './operator.js';
export * from './events.js';
