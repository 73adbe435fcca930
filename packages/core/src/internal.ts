/**
 * Pieces shared by Stoa's own packages (tests, benchmarks, the protocol reference) that are not
 * part of the public API.
 *
 * @module
 */
export * from './protocol-examples.js';
export * from './protocol-doc.js';
export * from './component-options.js';
