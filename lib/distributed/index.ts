// rk.distributed: data-parallel training over PyTorch's c10d (docs/distributed.md).
export { init, isLaunched, ProcessGroup, DEFAULT_TIMEOUT_MS } from './process-group';
export type { InitOptions, ReduceOp } from './process-group';
export { launcherEnv, DEFAULT_MASTER_PORT } from './env';
export type { LauncherEnv } from './env';
export { recordError } from './error-file';
export { ShardedBatchSampler } from './sampler';
