// The native fused-step object (native/engine/distiller_binding.cc), typed for lib/train.
import type { NativeTensor } from '../native-types';

export interface NativeDistiller {
  step(indices: NativeTensor, featureScale: number, lr: number): Promise<void>;
  /** [ce, feature, kd, total, correct, samples, steps, badSteps] summed since the last call, then the current run of consecutive bad steps. */
  takeStats(): number[];
  evaluate(images: NativeTensor, labels: NativeTensor, batchSize: number, numClasses: number): Promise<{
    lossSum: number;
    top1: number;
    top5: number;
    count: number;
    classCorrect: number[];
    classCount: number[];
  }>;
  generatorState(): NativeTensor;
  setGeneratorState(state: NativeTensor): void;
  momentumBuffers(): (NativeTensor | null)[];
  setMomentumBuffers(buffers: (NativeTensor | null)[]): void;
  injectLossOffset(value: number): void;
  readonly busy: boolean;
}
