/**
 * Scheduled and dependent jobs on Stoa with a Chronos-style REST API.
 *
 * @module
 */

/** The version of this package. */
export const VERSION = '0.1.0';
