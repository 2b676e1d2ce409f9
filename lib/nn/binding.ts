// Native functions of native/review (ABF, review head, HCL and the classic losses), typed for lib/nn.
import type { NativeModule, NativeTensor } from '../native-types';

export interface ReviewBinding {
  abfCreate(inChannels: number, midChannels: number, outChannels: number, fuse: boolean, attention: boolean): NativeModule;
  abfForward(abf: NativeModule, x: NativeTensor, residual: NativeTensor | null, outHeight: number | null, outWidth: number | null): [NativeTensor, NativeTensor];
  /**
   * ABF's attention mix by one path ('fused': native/kernels/attention_mix.cc; 'composed': LibTorch's
   * operators), forward and backward on copies of the inputs, on the compute thread. For tests and
   * comparisons: resolves [output, gradX, gradResidual, gradWeight, gradBias].
   */
  attentionMixGrads(x: NativeTensor, residual: NativeTensor, weight: NativeTensor, bias: NativeTensor, gradOutput: NativeTensor, path: 'fused' | 'composed'): Promise<NativeTensor[]>;
  reviewHeadCreate(studentShapes: number[][], teacherShapes: number[][], midChannels: number | null, variant: string): NativeModule;
  reviewHeadForward(head: NativeModule, features: NativeTensor[]): NativeTensor[];
  reviewHeadForwardAsync(head: NativeModule, features: NativeTensor[]): Promise<NativeTensor[] | NativeTensor>;
  reviewHeadInfo(head: NativeModule): { targets: number[]; midChannels: number; variant: string };
  batchNorm(
    input: NativeTensor,
    weight: NativeTensor | null,
    bias: NativeTensor | null,
    runningMean: NativeTensor | null,
    runningVar: NativeTensor | null,
    training: boolean,
    momentum: number,
    eps: number,
  ): NativeTensor;
  /**
   * relu(bn(x) + residual) by one path ('fused': native/kernels/batch_norm_act.cc; 'composed': LibTorch's
   * operators) on copies of the inputs, on the compute thread. For tests: resolves [out, sum, runningMean,
   * runningVar] and, in training mode, [gradX, gradResidual, gradWeight, gradBias] after them.
   */
  batchNormReluGrads(
    x: NativeTensor,
    residual: NativeTensor | null,
    weight: NativeTensor,
    bias: NativeTensor,
    runningMean: NativeTensor,
    runningVar: NativeTensor,
    gradOut: NativeTensor,
    gradSum: NativeTensor | null,
    training: boolean,
    path: 'fused' | 'composed',
  ): Promise<NativeTensor[]>;
  hcl(studentMaps: NativeTensor[], teacherMaps: NativeTensor[], levels: number[] | null): NativeTensor;
  crossEntropy(logits: NativeTensor, targets: NativeTensor, labelSmoothing: number): NativeTensor;
  atLoss(studentFeature: NativeTensor, teacherFeature: NativeTensor): NativeTensor;
  hintRegressorCreate(inChannels: number, outChannels: number): NativeModule;
  fitnetLoss(regressor: NativeModule, studentFeature: NativeTensor, teacherFeature: NativeTensor): NativeTensor;
}
