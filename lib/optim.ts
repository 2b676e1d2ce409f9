// rk.optim: optimizers for training loops driven from JS.
import { native } from './native';
import type { NativeTensor } from './native-types';
import { requireTensorList } from './nn/checks';
import { Tensor } from './tensor';

/** @internal The native optimizer handle. */
export interface NativeSGD {
  step(): void;
  zeroGrad(): void;
  setLr(lr: number): void;
  readonly lr: number;
  momentumBuffers(): (NativeTensor | null)[];
}

export interface SGDOptions {
  lr: number;
  /** Default 0. */
  momentum?: number;
  /** Default 0. */
  dampening?: number;
  /** L2 penalty added to every gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent (LibTorch's torch::optim::SGD, step for step identical to PyTorch's).
 *
 * @example
 * const opt = new rk.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
 * opt.zeroGrad(); loss.backward(); opt.step();
 */
export class SGD {
  private readonly handle: NativeSGD;

  constructor(params: Tensor[], options: SGDOptions) {
    const ps = requireTensorList('SGD', 'params', params);
    if (typeof options !== 'object' || options === null) throw new TypeError("SGD: argument 'options' must be an object with at least {lr}");
    const Ctor = native().NativeSGD as new (...args: unknown[]) => NativeSGD;
    this.handle = new Ctor(ps.map((p) => p.handle), options.lr, options.momentum ?? 0, options.dampening ?? 0, options.weightDecay ?? 0, options.nesterov ?? false);
  }

  /** Applies one update from the accumulated gradients (parameters without a gradient are skipped). */
  step(): void {
    this.handle.step();
  }
  /** Drops the gradients of every parameter. */
  zeroGrad(): void {
    this.handle.zeroGrad();
  }
  /** The learning rate; setting it affects the following steps. */
  get lr(): number {
    return this.handle.lr;
  }
  set lr(value: number) {
    this.handle.setLr(value);
  }
  /** The momentum buffer of each parameter (null before its first step). */
  momentumBuffers(): (Tensor | null)[] {
    return this.handle.momentumBuffers().map((b) => (b ? new Tensor(b) : null));
  }
}
