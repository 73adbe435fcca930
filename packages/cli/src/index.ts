/**
 * The `stoa` command as a library: the dev cluster and the program itself. (Cluster discovery
 * lives in `@stoa/sdk`, which the examples and frameworks share.)
 *
 * @module
 */
export { banner, type DevCluster, type DevClusterOptions, MEMORY_NOTICE, startDevCluster } from './dev.js';
export { buildProgram, type Io, run } from './program.js';
