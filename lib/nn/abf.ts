// ABF (attention-based fusion), one level of the review head. See the ReviewKD paper (Chen et al., CVPR 2021), Sec. 3.
import { Module } from '../module';
import { native } from '../native';
import { Tensor } from '../tensor';
import { optionsOf, requireOptions, requireTensor } from './checks';

export interface ABFOptions {
  /** Channels of the student feature this level takes. */
  inChannels: number;
  /** Channels of the fused (residual) map. */
  midChannels: number;
  /** Channels of the teacher feature this level predicts. */
  outChannels: number;
  /** Whether this level fuses a deeper level's residual (false only for the deepest level). */
  fuse: boolean;
  /** Attention maps for the fusion (default true); false sums the maps (an ablation). */
  attention?: boolean;
}

/**
 * Attention-based fusion: 1×1 conv + BN; with `fuse`, the deeper residual is nearest-resized to this
 * level's size and mixed in with two sigmoid attention maps; optional nearest resize to the teacher's
 * size; 3×3 conv + BN. Parameter names follow the reference (`conv1.0.weight`, `att_conv.0.bias`, ...).
 *
 * @example
 * const abf = new rk.nn.ABF({ inChannels: 64, midChannels: 64, outChannels: 64, fuse: true });
 * const [out, residual] = abf.forward(feature, deeperResidual, { outSize: [8, 8] });
 */
export class ABF extends Module {
  readonly options: Readonly<ABFOptions>;

  constructor(options: ABFOptions) {
    const o = requireOptions('ABF', options) as unknown as ABFOptions;
    super(native().abfCreate(o.inChannels, o.midChannels, o.outChannels, o.fuse, o.attention ?? true));
    this.options = Object.freeze({ ...o });
  }

  /**
   * Runs the module on a student feature `x` (N×inChannels×h×w) and, when it fuses, the deeper level's
   * `residual` (N×midChannels×h'×w'). `outSize` is the teacher's [H, W]. Returns
   * [output for the loss (outChannels at outSize), residual for the next shallower ABF].
   */
  forward(x: Tensor, residual?: Tensor | null, options: { outSize?: [number, number] } = {}): [Tensor, Tensor] {
    options = optionsOf('ABF.forward', options);
    requireTensor('ABF.forward', 'x', x);
    if (residual !== undefined && residual !== null) requireTensor('ABF.forward', 'residual', residual);
    const size = options.outSize;
    if (size !== undefined && (!Array.isArray(size) || size.length !== 2)) {
      throw new TypeError("ABF.forward: argument 'outSize' must be an [height, width] pair");
    }
    const [out, res] = native().abfForward(this.handle, x.handle, residual ? residual.handle : null, size ? size[0] : null, size ? size[1] : null);
    return [new Tensor(out), new Tensor(res)];
  }
}
