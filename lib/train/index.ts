// rk.train: the training engine.
export { Trainer, METHODS, NumericalFaultError } from './trainer';
export type { Method, TrainerOptions, FitOptions, FitResult, EvaluateResult } from './trainer';
export type { EpochLog, ProgressMode } from './log';
export type { Schedule } from './schedule';
export { learningRate, lossWarmup, defaultLossWarmup } from './schedule';
export type { Preprocessing } from './preprocessing';
export { REVIEWKD_LAMBDA, pairDefaults, defaultLr } from './recipes';
export { listCheckpoints, removeOrphans } from './checkpoint';
export { augmentImages } from './augment';
export type { AugmentOptions } from './augment';
