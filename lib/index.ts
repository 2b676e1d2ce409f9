// reviewkd: train and distill convolutional networks from TypeScript on LibTorch.
export type { Device, Dtype, AnyTypedArray } from './dtype';
export { DTYPES } from './dtype';
export type { NestedArray } from './tensor-data';
export {
  Tensor,
  tensor,
  zeros,
  ones,
  full,
  rand,
  randn,
  randint,
  arange,
  cat,
  stack,
  conv2dAsync,
  manualSeed,
  noGrad,
  isGradEnabled,
} from './tensor';
export type { Operand, TensorOptions } from './tensor';
export { Module } from './module';
export type { LoadReport } from './module';
export { scope, keep } from './scope';
export type { Disposable } from './scope';
export { info, setNumThreads, getNumThreads, setFusedKernels, fusedKernelsEnabled, cuda, memory } from './runtime';
export * as io from './io';
export * as models from './models';
export type { RuntimeInfo } from './runtime';
export { doctor } from './doctor';
export type { DoctorReport } from './doctor';
export * as nn from './nn';
export * as losses from './losses';
export * as optim from './optim';
export * as data from './data';
export * as train from './train';
export * as recipes from './recipes';
export * as report from './report';
export * as bench from './bench';
export * as distributed from './distributed';
