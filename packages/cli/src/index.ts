/**
 * The `stoa` command as a library: the dev cluster, cluster discovery and the program itself.
 *
 * @module
 */
export { banner, type DevCluster, type DevClusterOptions, MEMORY_NOTICE, startDevCluster } from './dev.js';
export {
  type ClusterAddress,
  type ClusterFile,
  clusterFilePath,
  DEFAULT_DATA_DIR,
  type DiscoverOptions,
  discoverCluster,
  NoClusterError,
  readClusterFile,
  writeClusterFile,
} from './cluster-file.js';
export { buildProgram, type Io, run } from './program.js';
