/**
 * Write Stoa frameworks: scheduler, executor and operator clients, placement and reconciliation.
 *
 * @module
 */

/** The version of this package. */
export const VERSION = '0.1.0';
