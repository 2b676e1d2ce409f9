// Module: the typed face over a native LibTorch module (review head, ABF, zoo model...). Parameters,
// buffers, modes, device moves and state dicts; subclasses add their forward.
import type { Device, Dtype } from './dtype';
import type { NativeModule, NativeTensor } from './native-types';
import { optionsOf } from './nn/checks';
import { track, type Disposable } from './scope';
import { Tensor } from './tensor';

/** What loadStateDict found; with strict (the default) any non-empty list is an error instead. */
export interface LoadReport {
  missing: string[];
  unexpected: string[];
  /** "name (file [..], module [..])" for each key whose shape differs. */
  mismatched: string[];
}

export class Module implements Disposable {
  /** @internal */
  readonly handle: NativeModule;

  /** @internal Wraps a native module; use the factories (rk.nn, rk.models). */
  constructor(handle: NativeModule) {
    this.handle = handle;
    track(this);
  }

  /** The module type, e.g. 'ABF', 'ReviewHead', 'resnet20'. */
  get kind(): string {
    return this.handle.kind;
  }
  get disposed(): boolean {
    return this.handle.disposed;
  }
  /** True in training mode (BatchNorm uses batch statistics and updates running ones). */
  get training(): boolean {
    return this.handle.training;
  }
  /** Switches to training mode (or evaluation mode with `train(false)`). Returns this. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError(`Module.train: argument 'mode' must be a boolean; got ${typeof mode}`);
    this.handle.train(mode);
    return this;
  }
  /** Switches to evaluation mode (BatchNorm uses running statistics). Returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Trainable parameters by their PyTorch-style names (e.g. 'abfs.0.conv1.0.weight'). The tensors share storage with the module. */
  namedParameters(): Record<string, Tensor> {
    return wrapRecord(this.handle.namedParameters());
  }
  parameters(): Tensor[] {
    return Object.values(this.namedParameters());
  }
  /** Buffers (BatchNorm running_mean, running_var, num_batches_tracked) by name. */
  namedBuffers(): Record<string, Tensor> {
    return wrapRecord(this.handle.namedBuffers());
  }
  /** Parameters and buffers by name, as PyTorch's state_dict (sharing storage with the module). */
  stateDict(): Record<string, Tensor> {
    return { ...this.namedParameters(), ...this.namedBuffers() };
  }
  /** Number of trainable parameter elements. */
  numParameters(): number {
    return this.handle.numParameters();
  }

  /**
   * Copies tensors into the parameters and buffers with the same names. `prefix` selects and strips a
   * key prefix (e.g. 'module.' from a DataParallel checkpoint, or 'student.'). With `strict` (default)
   * missing, unexpected or mis-shaped keys are an error listing each, and nothing is copied.
   */
  loadStateDict(record: Record<string, Tensor>, options: { strict?: boolean; prefix?: string } = {}): LoadReport {
    options = optionsOf('Module.loadStateDict', options);
    if (typeof record !== 'object' || record === null) throw new TypeError('Module.loadStateDict: argument \'record\' must be an object of name -> Tensor');
    const prefix = options.prefix ?? '';
    const handles: Record<string, NativeTensor> = {};
    for (const [key, value] of Object.entries(record)) {
      if (!key.startsWith(prefix)) continue;
      if (!(value instanceof Tensor)) throw new TypeError(`Module.loadStateDict: record['${key}'] must be a Tensor; got ${value === null ? 'null' : typeof value}`);
      handles[key.slice(prefix.length)] = value.handle;
    }
    return this.handle.loadStateDict(handles, options.strict ?? true);
  }

  /** Moves parameters and buffers to a device and/or floating dtype, in place. Returns this. */
  to(target: Dtype | Device | { dtype?: Dtype; device?: Device }): this {
    if (typeof target === 'string') {
      if (target === 'cpu' || target.startsWith('cuda')) this.handle.to(null, target);
      else this.handle.to(target, null);
    } else if (typeof target === 'object' && target !== null) {
      this.handle.to(target.dtype ?? null, target.device ?? null);
    } else {
      throw new TypeError(`Module.to: argument 'target' must be a dtype, a device or {dtype, device}; got ${String(target)}`);
    }
    return this;
  }

  /** Drops the gradients of all parameters. */
  zeroGrad(): void {
    this.handle.zeroGrad();
  }

  /** Frees the module's native memory (tensors handed out earlier stay valid). Idempotent. */
  dispose(): void {
    this.handle.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

function wrapRecord(record: Record<string, NativeTensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(record)) out[k] = new Tensor(v);
  return out;
}
