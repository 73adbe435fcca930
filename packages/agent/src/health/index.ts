/**
 * Health checks the agent runs for its tasks: the {@link HealthChecker} (timing, grace period,
 * change reporting, kill after consecutive failures) over one-shot HTTP(S), TCP and command probes.
 *
 * @example
 * ```ts
 * const checker = new HealthChecker(task.healthCheck, { sandboxDir, onChange, onKill });
 * checker.start();
 * ```
 * @module
 */
export {
  HEALTH_CHECK_DEFAULTS,
  HealthChecker,
  type HealthCheckerOptions,
  type HealthCheckerState,
  type ResolvedHealthCheck,
  resolveHealthCheck,
  type TaskHealth,
} from './health-checker.js';
export {
  type CommandProbeTarget,
  type HttpProbeTarget,
  type ProbeResult,
  probeCommand,
  probeHttp,
  probeTcp,
  type TcpProbeTarget,
} from './probes.js';
