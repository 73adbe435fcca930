/**
 * The stoa command: a whole cluster on one machine (stoa dev) and operator commands.
 *
 * @module
 */

/** The version of this package. */
export const VERSION = '0.1.0';
