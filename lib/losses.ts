// rk.losses: HCL and the classic distillation losses, each usable alone. All return scalar tensors that
// back-propagate.
import { native } from './native';
import { optionsOf, requireTensor, requireTensorList } from './nn/checks';
import type { HintRegressor } from './nn/hint-regressor';
import { Tensor } from './tensor';

/**
 * Hierarchical context loss, summed over aligned pairs: per pair, MSE at full resolution plus MSEs of
 * adaptive-average-pooled levels (default [4, 2, 1], a level skipped when >= the map height) with
 * halving weights, normalised by the total weight. Lists of different length or pairs of different
 * shape are an error naming the pair. `levels: []` gives plain MSE.
 *
 * @example
 * const loss = rk.losses.hcl(headOutputs, teacherFeatures);
 */
export function hcl(studentMaps: Tensor[], teacherMaps: Tensor[], options: { levels?: number[] } = {}): Tensor {
  options = optionsOf('hcl', options);
  const s = requireTensorList('hcl', 'studentMaps', studentMaps);
  const t = requireTensorList('hcl', 'teacherMaps', teacherMaps);
  return new Tensor(native().hcl(s.map((x) => x.handle), t.map((x) => x.handle), options.levels ?? null));
}

/**
 * Cross-entropy of logits (N×classes) against int64 class indices (N), batch mean.
 *
 * @example
 * const loss = rk.losses.crossEntropy(logits, labels, { labelSmoothing: 0.1 });
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: { labelSmoothing?: number } = {}): Tensor {
  options = optionsOf('crossEntropy', options);
  requireTensor('crossEntropy', 'logits', logits);
  requireTensor('crossEntropy', 'targets', targets);
  return new Tensor(native().crossEntropy(logits.handle, targets.handle, options.labelSmoothing ?? 0));
}

/**
 * Hinton's KD: KL(teacher ‖ student) of temperature-softened distributions, batch mean, times T².
 *
 * @example
 * const loss = rk.losses.kd(studentLogits, teacherLogits, { temperature: 4 });
 */
export function kd(studentLogits: Tensor, teacherLogits: Tensor, options: { temperature?: number } = {}): Tensor {
  options = optionsOf('kd', options);
  requireTensor('kd', 'studentLogits', studentLogits);
  requireTensor('kd', 'teacherLogits', teacherLogits);
  return new Tensor(native().kdLoss(studentLogits.handle, teacherLogits.handle, options.temperature ?? 4));
}

/**
 * Attention transfer (p = 2) between feature maps with equal N, H, W: mean squared difference of the
 * L2-normalised spatial maps of mean squared activations.
 *
 * @example
 * const loss = rk.losses.at(studentFeature, teacherFeature);
 */
export function at(studentFeature: Tensor, teacherFeature: Tensor): Tensor {
  requireTensor('at', 'studentFeature', studentFeature);
  requireTensor('at', 'teacherFeature', teacherFeature);
  return new Tensor(native().atLoss(studentFeature.handle, teacherFeature.handle));
}

/**
 * FitNet hint: MSE between regressor(studentFeature) and teacherFeature (same N, H, W).
 *
 * @example
 * const loss = rk.losses.fitnet(regressor, studentFeature, teacherFeature);
 */
export function fitnet(regressor: HintRegressor, studentFeature: Tensor, teacherFeature: Tensor): Tensor {
  requireTensor('fitnet', 'studentFeature', studentFeature);
  requireTensor('fitnet', 'teacherFeature', teacherFeature);
  if (typeof regressor !== 'object' || regressor === null || !('handle' in regressor)) {
    throw new TypeError("fitnet: argument 'regressor' must be a HintRegressor");
  }
  return new Tensor(native().fitnetLoss(regressor.handle, studentFeature.handle, teacherFeature.handle));
}
