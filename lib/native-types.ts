// The shape of the C++ binding (native/). Internal: users go through Tensor and the typed helpers.
// Each concern types its own functions in lib/<concern>/binding.ts; NativeBinding joins them.
import type { DataBinding } from './data/binding';
import type { IoBinding } from './io/binding';
import type { ModelsBinding } from './models/binding';
import type { ReviewBinding } from './nn/binding';

/** Opaque handle of a LibTorch tensor owned by the addon. */
export interface NativeTensor {
  readonly disposed: boolean;
  readonly shape: number[];
  readonly dtype: string;
  readonly device: string;
  readonly requiresGrad: boolean;
  readonly isContiguous: boolean;
  readonly numel: number;
  dispose(): void;
}

/** Opaque handle of a LibTorch module owned by the addon. */
export interface NativeModule {
  readonly kind: string;
  readonly disposed: boolean;
  readonly training: boolean;
  dispose(): void;
  train(mode?: boolean): void;
  namedParameters(): Record<string, NativeTensor>;
  namedBuffers(): Record<string, NativeTensor>;
  numParameters(): number;
  to(dtype: string | null, device: string | null): void;
  loadStateDict(record: Record<string, NativeTensor>, strict: boolean): { missing: string[]; unexpected: string[]; mismatched: string[] };
  zeroGrad(): void;
}

/** Values of a loss term's parameters. */
export type TermParamValue = number | boolean | string | number[];
export type TermParamValues = Record<string, TermParamValue>;

/** What a loss term is built from. */
export interface NativeTermSetup {
  studentShapes: number[][];
  teacherShapes: number[][];
  numClasses?: number;
  datasetSize?: number;
  datasetLabels?: NativeTensor;
  teacher?: NativeModule;
}

/** The inputs of a loss term's compute(). */
export interface NativeTermInputs {
  studentLogits?: NativeTensor;
  teacherLogits?: NativeTensor;
  labels?: NativeTensor;
  indices?: NativeTensor;
  studentFeatures?: NativeTensor[];
  teacherFeatures?: NativeTensor[];
  seed?: number;
}

export interface NativeTerm {
  compute(inputs: NativeTermInputs): Record<string, NativeTensor>;
  afterUpdate(inputs: NativeTermInputs): void;
  module(): NativeModule | null;
  lossNames(): string[];
  needs(): { teacherLogits: boolean; features: boolean };
}

type T = NativeTensor;
type Operand = NativeTensor | number | boolean;

export interface NativeBinding extends DataBinding, IoBinding, ModelsBinding, ReviewBinding {
  NativeTensor: unknown;
  NativeModule: unknown;
  NativeSGD: unknown;
  NativeDistiller: unknown;
  /** new NativeTerm(name, setup, params): one loss term on its own (native/engine/terms/term_binding.cc). */
  NativeTerm: new (name: string, setup: NativeTermSetup, params?: TermParamValues) => NativeTerm;
  /** The registered loss terms. */
  termNames(): string[];
  augmentImages: unknown;
  // creation
  fromTypedArray(data: ArrayBufferView, shape: number[], dtype?: string | null, device?: string | null): T;
  full(shape: number[], value: number, dtype?: string | null, device?: string | null): T;
  rand(shape: number[], dtype?: string | null, device?: string | null): T;
  randn(shape: number[], dtype?: string | null, device?: string | null): T;
  randint(low: number, high: number, shape: number[], device?: string | null): T;
  arange(start: number, end: number, step: number, dtype?: string | null, device?: string | null): T;
  manualSeed(seed: number): void;
  // math
  add(a: T, b: Operand): T;
  sub(a: T, b: Operand): T;
  mul(a: T, b: Operand): T;
  div(a: T, b: Operand): T;
  pow(a: T, b: Operand): T;
  maximum(a: T, b: Operand): T;
  minimum(a: T, b: Operand): T;
  eq(a: T, b: Operand): T;
  ne(a: T, b: Operand): T;
  lt(a: T, b: Operand): T;
  le(a: T, b: Operand): T;
  gt(a: T, b: Operand): T;
  ge(a: T, b: Operand): T;
  neg(a: T): T;
  abs(a: T): T;
  exp(a: T): T;
  log(a: T): T;
  sqrt(a: T): T;
  relu(a: T): T;
  sigmoid(a: T): T;
  tanh(a: T): T;
  matmul(a: T, b: T): T;
  sum(a: T, dim?: number | number[] | null, keepdim?: boolean): T;
  mean(a: T, dim?: number | number[] | null, keepdim?: boolean): T;
  amax(a: T, dim?: number | number[] | null, keepdim?: boolean): T;
  amin(a: T, dim?: number | number[] | null, keepdim?: boolean): T;
  argmax(a: T, dim?: number | null, keepdim?: boolean): T;
  argmin(a: T, dim?: number | null, keepdim?: boolean): T;
  softmax(a: T, dim: number): T;
  logSoftmax(a: T, dim: number): T;
  clamp(a: T, min: number | null, max: number | null): T;
  // shape
  reshape(a: T, shape: number[]): T;
  view(a: T, shape: number[]): T;
  permute(a: T, dims: number[]): T;
  transpose(a: T, dim0: number, dim1: number): T;
  squeeze(a: T, dim?: number | null): T;
  unsqueeze(a: T, dim: number): T;
  flatten(a: T, startDim?: number | null, endDim?: number | null): T;
  slice(a: T, dim: number, start?: number | null, end?: number | null, step?: number | null): T;
  indexSelect(a: T, dim: number, index: T): T;
  cat(tensors: T[], dim?: number): T;
  stack(tensors: T[], dim?: number): T;
  to(a: T, dtype: string | null, device: string | null, channelsLast?: boolean): T;
  contiguous(a: T): T;
  clone(a: T): T;
  detach(a: T): T;
  // readback
  toArray(a: T, raw16?: boolean): Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;
  item(a: T): number | boolean | bigint;
  // autograd
  setRequiresGrad(a: T, flag: boolean): void;
  backward(a: T, gradient?: T | null): void;
  grad(a: T): T | null;
  zeroGrad(a: T): void;
  isGradEnabled(): boolean;
  setGradEnabled(enabled: boolean): boolean;
  // async
  matmulAsync(a: T, b: T): Promise<T>;
  conv2dAsync(input: T, weight: T, bias: T | null, stride: number, padding: number): Promise<T>;
  // runtime
  buildInfo(): {
    libtorchVersion: string;
    variant: string;
    torchVersionMajor: number;
    torchVersionMinor: number;
    cudaAvailable: boolean;
    cudaDeviceCount: number;
    /** Empty when a CUDA device is usable; else why not (CPU build, no driver, no device). */
    cudaUnavailableReason: string;
    numThreads: number;
    numInteropThreads: number;
    parallelInfo: string;
  };
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  memoryStats(): { liveTensors: number; liveBytes: number };
  /** Freed activations are kept for the next step: glibc's mallopt, plus a reusing allocator with 'cache' (native/common/cpu_memory.cc). */
  keepFreedCpuMemory(how: 'malloc' | 'cache'): boolean;
  /** malloc_trim(0): gives freed heap memory back to the OS. */
  releaseFreedCpuMemory(): boolean;
  /** Turns reviewkd's fused CPU kernels (BatchNorm, ABF's attention mix) on or off; returns the new state. */
  setFusedKernels(on: boolean): boolean;
  /** Whether the fused CPU kernels are in use. */
  fusedKernelsEnabled(): boolean;
  noop(): undefined;
}
