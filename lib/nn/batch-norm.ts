// rk.nn.batchNorm: functional BatchNorm over N x C x ... maps, as torch.nn.functional.batch_norm.
import { optionsOf } from '../checks';
import { native } from '../native';
import { Tensor } from '../tensor';
import { requireTensor } from './checks';

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  /** Per-channel scale (C); omitted: 1. */
  weight?: Tensor;
  /** Per-channel shift (C); omitted: 0. */
  bias?: Tensor;
  /** Running mean (C), updated in place in training mode; required in evaluation mode. */
  runningMean?: Tensor;
  /** Running variance (C), updated in place (unbiased) in training mode; required in evaluation mode. */
  runningVar?: Tensor;
  /** true (default): normalise with the batch statistics and update the running ones; false: use the running ones. */
  training?: boolean;
  /** Weight of the new batch statistic in the running update (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/**
 * BatchNorm of an N x C x ... map, differentiable. On the CPU, 4-d float32 and bfloat16 maps (NCHW or
 * channels-last, float32 parameters) use reviewkd's fused kernels, as every BatchNorm layer of the models
 * does (`REVIEWKD_FUSED_KERNELS=0` or {@link setFusedKernels} switches them off).
 *
 * @example
 * const x = rk.randn([8, 4, 5, 5]);
 * const y = rk.nn.batchNorm(x, { weight: rk.ones([4]), bias: rk.zeros([4]) });
 * console.log(y.shape); // [8, 4, 5, 5]
 */
export function batchNorm(input: Tensor, options: BatchNormOptions = {}): Tensor {
  const o = optionsOf<BatchNormOptions>('batchNorm', options);
  requireTensor('batchNorm', 'input', input);
  const optional = (name: keyof BatchNormOptions) => {
    const v = o[name];
    return v === undefined || v === null ? null : requireTensor('batchNorm', name, v).handle;
  };
  const training = o.training ?? true;
  if (typeof training !== 'boolean') throw new TypeError(`batchNorm: option 'training' must be a boolean; got ${typeof training}`);
  return new Tensor(
    native().batchNorm(input.handle, optional('weight'), optional('bias'), optional('runningMean'), optional('runningVar'), training, o.momentum ?? 0.1, o.eps ?? 1e-5),
  );
}
