/**
 * On-demand batch jobs on Stoa: stages, retries, locality, gang scheduling.
 *
 * @module
 */

/** The version of this package. */
export const VERSION = '0.1.0';
