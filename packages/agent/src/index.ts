/**
 * The Stoa agent: resources, containerizers, sandboxes, health checks, reliable status updates.
 *
 * @module
 */

/** The version of this package. */
export const VERSION = '0.1.0';
