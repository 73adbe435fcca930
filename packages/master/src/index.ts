/**
 * The Stoa master: registry, DRF allocator, offers, task and agent lifecycle, operator API.
 *
 * @module
 */

/** The version of this package. */
export const VERSION = '0.1.0';
