// rk.nn: the ReviewKD modules.
export { ABF } from './abf';
export type { ABFOptions } from './abf';
export { ReviewHead, createReviewHead } from './review-head';
export type { LevelShape, ReviewHeadOptions, ReviewVariant } from './review-head';
export { HintRegressor } from './hint-regressor';
export { batchNorm } from './batch-norm';
export type { BatchNormOptions } from './batch-norm';
