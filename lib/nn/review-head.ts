// The review head: ABF modules that map student stage features onto the teacher's, built from feature
// shapes (no hand-typed channel tables). See the ReviewKD paper (Chen et al., CVPR 2021), Sec. 3, and docs/models.md.
import { hcl } from '../losses';
import { Module } from '../module';
import { native } from '../native';
import type { NativeModule } from '../native-types';
import { Tensor } from '../tensor';
import { optionsOf, requireOptions, requireTensorList } from './checks';

/** [channels, height, width] of one feature level (the batch dimension left out). */
export type LevelShape = [number, number, number];

/**
 * 'residual': the paper's residual ABF chain (default).
 * 'no-attention': the same chain, fusing by plain sum (ablation: ABF removed).
 * 'no-residual': per teacher level, all same-or-deeper student levels fused by 1×1 conv + BN, resize and
 *   sum (ablation: review mechanism without the residual chain, Fig. 2b).
 * 'naive': every student level against every same-or-shallower teacher level through its own
 *   transform (Fig. 2a).
 * Plain MSE instead of HCL is a loss option: `head.loss(..., { levels: [] })`.
 */
export type ReviewVariant = 'residual' | 'no-attention' | 'no-residual' | 'naive';

export interface ReviewHeadOptions {
  /** Student feature shapes, shallow to deep, the pooled [C, 1, 1] feature last; stem excluded. */
  studentShapes: LevelShape[];
  /** Teacher feature shapes aligned with studentShapes. */
  teacherShapes: LevelShape[];
  /** Channels of the fused maps; default min(512, channels of the deepest student level). */
  midChannels?: number;
  variant?: ReviewVariant;
}

/** The student-side modules of ReviewKD; drop them after training. */
export class ReviewHead extends Module {
  readonly studentShapes: readonly LevelShape[];
  readonly teacherShapes: readonly LevelShape[];
  readonly variant: ReviewVariant;
  readonly midChannels: number;
  /** The teacher level each output of forward() is compared with (0 = shallowest). */
  readonly targets: readonly number[];

  /** @param existing @internal a native head built elsewhere (the trainer's ReviewKD term). */
  constructor(options: ReviewHeadOptions, existing?: NativeModule) {
    const o = requireOptions('createReviewHead', options) as unknown as ReviewHeadOptions;
    const handle = existing ?? native().reviewHeadCreate(o.studentShapes, o.teacherShapes, o.midChannels ?? null, o.variant ?? 'residual');
    super(handle);
    const info = native().reviewHeadInfo(handle);
    const variant = info.variant as ReviewVariant;
    this.studentShapes = o.studentShapes.map((s) => [...s] as LevelShape);
    this.teacherShapes = o.teacherShapes.map((s) => [...s] as LevelShape);
    this.variant = variant;
    this.midChannels = info.midChannels;
    this.targets = Object.freeze(info.targets);
  }

  /** @internal Wraps the head of a trainer's ReviewKD term. */
  static fromHandle(handle: NativeModule, studentShapes: LevelShape[], teacherShapes: LevelShape[]): ReviewHead {
    return new ReviewHead({ studentShapes, teacherShapes }, handle);
  }

  /**
   * Maps student features (shallow to deep, N×C×H×W each, the pooled N×C×1×1 last) to predictions of
   * the teacher features, one per entry of `targets` (for the default variant: aligned level by level).
   */
  forward(studentFeatures: Tensor[]): Tensor[] {
    const feats = requireTensorList('ReviewHead.forward', 'studentFeatures', studentFeatures);
    return native().reviewHeadForward(this.handle, feats.map((f) => f.handle)).map((h) => new Tensor(h));
  }

  /** forward() on a worker thread. */
  async forwardAsync(studentFeatures: Tensor[]): Promise<Tensor[]> {
    const feats = requireTensorList('ReviewHead.forwardAsync', 'studentFeatures', studentFeatures);
    const out = await native().reviewHeadForwardAsync(this.handle, feats.map((f) => f.handle));
    return (Array.isArray(out) ? out : [out]).map((h) => new Tensor(h));
  }

  /**
   * The review loss: HCL summed over (prediction, teacher feature) pairs. `levels` sets the HCL pyramid
   * (default [4, 2, 1]; [] gives plain MSE, the "without HCL" ablation).
   */
  loss(studentFeatures: Tensor[], teacherFeatures: Tensor[], options: { levels?: number[] } = {}): Tensor {
    options = optionsOf('ReviewHead.loss', options);
    const teachers = requireTensorList('ReviewHead.loss', 'teacherFeatures', teacherFeatures);
    if (teachers.length !== this.teacherShapes.length) {
      throw new RangeError(`ReviewHead.loss: got ${teachers.length} teacher features but the head was built for ${this.teacherShapes.length} levels`);
    }
    const predictions = this.forward(studentFeatures);
    return hcl(predictions, this.targets.map((j) => teachers[j]), options);
  }
}

/**
 * Builds a review head from student and teacher feature shapes.
 *
 * @example
 * const head = rk.nn.createReviewHead({
 *   studentShapes: [[16, 32, 32], [32, 16, 16], [64, 8, 8], [64, 1, 1]],
 *   teacherShapes: [[16, 32, 32], [32, 16, 16], [64, 8, 8], [64, 1, 1]],
 * });
 */
export function createReviewHead(options: ReviewHeadOptions): ReviewHead {
  return new ReviewHead(options);
}
