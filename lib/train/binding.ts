// The native fused-step object (native/engine/distiller_binding.cc), typed for lib/train.
import type { NativeProcessGroup } from '../distributed/binding';
import type { NativeModule, NativeTensor, TermParamValues } from '../native-types';

/** One loss term of a run, as the fused step takes it. */
export interface NativeTermSpec {
  name: string;
  /** Outer weight (e.g. ReviewKD's λ). */
  weight: number;
  /** Ramped by the warm-up factor of each step. */
  warmup: boolean;
  params: TermParamValues;
}

/** Statistics summed since the last takeStats(). */
export interface NativeStepStats {
  /** Unweighted mean-per-step sums by loss name, 'ce' first, then each term's losses. */
  losses: Record<string, number>;
  /** The weighted total. */
  loss: number;
  correct: number;
  samples: number;
  steps: number;
  badSteps: number;
  /** The current run of consecutive non-finite steps (not reset by reading). */
  consecutiveBad: number;
}

/** Sums of one evaluation pass (native evaluate, or a stream's chunks added up). */
export interface EvalSums {
  lossSum: number;
  top1: number;
  top5: number;
  count: number;
  classCorrect: number[];
  classCount: number[];
}

export interface NativeDistiller {
  step(indices: NativeTensor, warmup: number, lr: number): Promise<void>;
  /** One step on a whole batch (a decoded stream batch): uint8 [N, C, H, W] (any strides), int64 labels [N]. */
  stepBatch(images: NativeTensor, labels: NativeTensor, warmup: number, lr: number): Promise<void>;
  takeStats(): NativeStepStats;
  /** The loss terms' trainable modules. */
  termModules(): { term: string; module: NativeModule }[];
  evaluate(images: NativeTensor, labels: NativeTensor, batchSize: number, numClasses: number): Promise<EvalSums>;
  generatorState(): NativeTensor;
  setGeneratorState(state: NativeTensor): void;
  momentumBuffers(): (NativeTensor | null)[];
  setMomentumBuffers(buffers: (NativeTensor | null)[]): void;
  injectLossOffset(value: number): void;
  /** Data-parallel: average the gradients over this group's ranks in every step (null: stop). */
  setProcessGroup(group: NativeProcessGroup | null): void;
  readonly busy: boolean;
}
