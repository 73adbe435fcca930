/**
 * Long-running services on Stoa with a Marathon-style REST API.
 *
 * @module
 */

/** The version of this package. */
export const VERSION = '0.1.0';
