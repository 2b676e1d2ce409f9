// The Tensor class: a typed face over a native LibTorch tensor. Every method that computes returns a
// new Tensor (tracked by the enclosing scope); the native side validates arguments and throws
// TypeError/RangeError naming the argument.
// The published types use Symbol.dispose: bring its lib to consumers that do not set it (or @types/node).
/// <reference lib="esnext.disposable" preserve="true" />

import type { AnyTypedArray, Device, Dtype } from './dtype';
import { native } from './native';
import type { NativeTensor } from './native-types';
import { track, type Disposable } from './scope';
import { dtypeOfTypedArray, flattenNested, type NestedArray } from './tensor-data';

// Node's util.inspect.custom (a registered symbol), declared here so the published types need no @types/node.
const inspectCustom: unique symbol = Symbol.for('nodejs.util.inspect.custom');

/** A Tensor, a number or a boolean: the right-hand side of arithmetic and comparisons. */
export type Operand = Tensor | number | boolean;

function operand(x: Operand): NativeTensor | number | boolean {
  return x instanceof Tensor ? x.handle : x;
}

/** A LibTorch tensor. Create one with {@link tensor}, {@link zeros}, {@link randn}, ... */
export class Tensor implements Disposable {
  /** @internal The native handle; not part of the public API. */
  readonly handle: NativeTensor;

  /** @internal Wraps a native handle; use the factory functions instead. */
  constructor(handle: NativeTensor) {
    this.handle = handle;
    track(this);
  }

  /** Sizes of each dimension, e.g. `[64, 3, 32, 32]`. */
  get shape(): number[] {
    return this.handle.shape;
  }
  /** Number of dimensions. */
  get rank(): number {
    return this.handle.shape.length;
  }
  /** Number of elements. */
  get numel(): number {
    return this.handle.numel;
  }
  get dtype(): Dtype {
    return this.handle.dtype as Dtype;
  }
  get device(): Device {
    return this.handle.device as Device;
  }
  get isContiguous(): boolean {
    return this.handle.isContiguous;
  }
  /** True after dispose() (or disposal by a scope); any further use throws. */
  get disposed(): boolean {
    return this.handle.disposed;
  }

  /** Whether autograd records operations on this tensor. Only floating tensors can require grad. */
  get requiresGrad(): boolean {
    return this.handle.requiresGrad;
  }
  set requiresGrad(flag: boolean) {
    native().setRequiresGrad(this.handle, flag);
  }
  /** Sets requiresGrad and returns this tensor, for chaining. */
  requireGrad(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }
  /** The gradient accumulated by backward(), or null when there is none. */
  get grad(): Tensor | null {
    const g = native().grad(this.handle);
    return g ? new Tensor(g) : null;
  }
  /** Drops the accumulated gradient. */
  zeroGrad(): void {
    native().zeroGrad(this.handle);
  }
  /** Back-propagates from this tensor; `gradient` is required unless it has a single element. */
  backward(gradient?: Tensor): void {
    native().backward(this.handle, gradient ? gradient.handle : null);
  }

  /** Frees the native memory now. Idempotent. */
  dispose(): void {
    this.handle.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- arithmetic (broadcasting) and comparisons ----
  add(other: Operand): Tensor {
    return new Tensor(native().add(this.handle, operand(other)));
  }
  sub(other: Operand): Tensor {
    return new Tensor(native().sub(this.handle, operand(other)));
  }
  mul(other: Operand): Tensor {
    return new Tensor(native().mul(this.handle, operand(other)));
  }
  /** True division (integers divide to floats). */
  div(other: Operand): Tensor {
    return new Tensor(native().div(this.handle, operand(other)));
  }
  pow(exponent: Operand): Tensor {
    return new Tensor(native().pow(this.handle, operand(exponent)));
  }
  maximum(other: Operand): Tensor {
    return new Tensor(native().maximum(this.handle, operand(other)));
  }
  minimum(other: Operand): Tensor {
    return new Tensor(native().minimum(this.handle, operand(other)));
  }
  eq(other: Operand): Tensor {
    return new Tensor(native().eq(this.handle, operand(other)));
  }
  ne(other: Operand): Tensor {
    return new Tensor(native().ne(this.handle, operand(other)));
  }
  lt(other: Operand): Tensor {
    return new Tensor(native().lt(this.handle, operand(other)));
  }
  le(other: Operand): Tensor {
    return new Tensor(native().le(this.handle, operand(other)));
  }
  gt(other: Operand): Tensor {
    return new Tensor(native().gt(this.handle, operand(other)));
  }
  ge(other: Operand): Tensor {
    return new Tensor(native().ge(this.handle, operand(other)));
  }
  /** Matrix product with NumPy/PyTorch broadcasting rules. */
  matmul(other: Tensor): Tensor {
    return new Tensor(native().matmul(this.handle, other.handle));
  }
  /** matmul on a worker thread: the event loop keeps running while it computes. */
  async matmulAsync(other: Tensor): Promise<Tensor> {
    return new Tensor(await native().matmulAsync(this.handle, other.handle));
  }

  // ---- element-wise ----
  neg(): Tensor {
    return new Tensor(native().neg(this.handle));
  }
  abs(): Tensor {
    return new Tensor(native().abs(this.handle));
  }
  exp(): Tensor {
    return new Tensor(native().exp(this.handle));
  }
  log(): Tensor {
    return new Tensor(native().log(this.handle));
  }
  sqrt(): Tensor {
    return new Tensor(native().sqrt(this.handle));
  }
  relu(): Tensor {
    return new Tensor(native().relu(this.handle));
  }
  sigmoid(): Tensor {
    return new Tensor(native().sigmoid(this.handle));
  }
  tanh(): Tensor {
    return new Tensor(native().tanh(this.handle));
  }
  /** Limits values to [min, max]; either bound may be null. */
  clamp(min: number | null, max: number | null = null): Tensor {
    return new Tensor(native().clamp(this.handle, min, max));
  }

  // ---- reductions: dim omitted = over all elements ----
  sum(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native().sum(this.handle, dim ?? null, keepdim));
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native().mean(this.handle, dim ?? null, keepdim));
  }
  /** Maximum values (like torch.amax). */
  max(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native().amax(this.handle, dim ?? null, keepdim));
  }
  /** Minimum values (like torch.amin). */
  min(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(native().amin(this.handle, dim ?? null, keepdim));
  }
  /** Index of the maximum (int64), over the flattened tensor when dim is omitted. */
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(native().argmax(this.handle, dim ?? null, keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return new Tensor(native().argmin(this.handle, dim ?? null, keepdim));
  }
  softmax(dim: number): Tensor {
    return new Tensor(native().softmax(this.handle, dim));
  }
  logSoftmax(dim: number): Tensor {
    return new Tensor(native().logSoftmax(this.handle, dim));
  }

  // ---- shape and layout ----
  /** A tensor with the same data and a new shape (one entry may be -1); copies only when needed. */
  reshape(shape: number[]): Tensor {
    return new Tensor(native().reshape(this.handle, shape));
  }
  /** Like reshape, but never copies: the tensor must be contiguous. */
  view(shape: number[]): Tensor {
    return new Tensor(native().view(this.handle, shape));
  }
  permute(dims: number[]): Tensor {
    return new Tensor(native().permute(this.handle, dims));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return new Tensor(native().transpose(this.handle, dim0, dim1));
  }
  squeeze(dim?: number): Tensor {
    return new Tensor(native().squeeze(this.handle, dim ?? null));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(native().unsqueeze(this.handle, dim));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return new Tensor(native().flatten(this.handle, startDim, endDim));
  }
  /** Elements start..end (exclusive) with a step along `dim`; negative bounds count from the end. */
  slice(dim: number, start = 0, end?: number, step = 1): Tensor {
    return new Tensor(native().slice(this.handle, dim, start, end ?? null, step));
  }
  /** The entries of `index` (an int64/int32 vector) along `dim`. */
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(native().indexSelect(this.handle, dim, index.handle));
  }
  contiguous(): Tensor {
    return new Tensor(native().contiguous(this.handle));
  }
  clone(): Tensor {
    return new Tensor(native().clone(this.handle));
  }
  /** The same data, cut from the autograd graph. */
  detach(): Tensor {
    return new Tensor(native().detach(this.handle));
  }
  /**
   * Converts dtype and/or moves to a device: `t.to('float16')`, `t.to({device: 'cuda'})`,
   * `t.to({dtype: 'float32', device: 'cpu', channelsLast: true})`.
   */
  to(target: Dtype | { dtype?: Dtype; device?: Device; channelsLast?: boolean }): Tensor {
    if (typeof target === 'string') return new Tensor(native().to(this.handle, target, null));
    if (typeof target !== 'object' || target === null) {
      throw new TypeError(`Tensor.to: argument 'target' must be a dtype string or {dtype, device, channelsLast}; got ${String(target)}`);
    }
    return new Tensor(native().to(this.handle, target.dtype ?? null, target.device ?? null, target.channelsLast ?? false));
  }
  /** Shorthand for to({device: 'cpu'}). */
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }

  // ---- readback: always a copy in JS-owned memory ----
  /**
   * The elements in row-major order as a new TypedArray: Float32Array (float32, and float16/bfloat16
   * widened), Float64Array, Int32Array, BigInt64Array (int64), Uint8Array (uint8, and bool as 0/1).
   */
  toArray(): AnyTypedArray {
    return native().toArray(this.handle);
  }
  /** Alias of toArray(). */
  data(): AnyTypedArray {
    return this.toArray();
  }
  /** The raw IEEE half / bfloat16 bit patterns of a float16/bfloat16 tensor. */
  rawBits16(): Uint16Array {
    if (this.dtype !== 'float16' && this.dtype !== 'bfloat16') {
      throw new RangeError(`Tensor.rawBits16: dtype is '${this.dtype}'; only float16 and bfloat16 have 16-bit raw bits`);
    }
    return native().toArray(this.handle, true) as Uint16Array;
  }
  /** The elements as nested JS arrays (numbers; bigint for int64 beyond 2^53; booleans for bool). */
  toNested(): NestedArray | bigint {
    const flat = Array.from(this.toArray() as ArrayLike<number | bigint>, (v) =>
      typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v) : this.dtype === 'bool' ? v !== 0 : v,
    ) as (number | boolean)[];
    const build = (offset: number, depth: number): NestedArray => {
      if (depth === this.shape.length) return flat[offset];
      const stride = this.shape.slice(depth + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: this.shape[depth] }, (_, i) => build(offset + i * stride, depth + 1));
    };
    return build(0, 0);
  }
  /** The value of a one-element tensor: a number (bigint for int64 beyond 2^53) or a boolean. */
  item(): number | boolean | bigint {
    return native().item(this.handle);
  }

  toString(): string {
    if (this.disposed) return 'Tensor(disposed)';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
  [inspectCustom](): string {
    return this.toString();
  }
}

// ---------------- creation ----------------

/** Where a new tensor goes and what it holds. */
export interface TensorOptions {
  dtype?: Dtype;
  device?: Device;
  requiresGrad?: boolean;
}

function finish(t: Tensor, options?: TensorOptions): Tensor {
  if (options?.requiresGrad) t.requiresGrad = true;
  return t;
}

function checkOptions(fn: string, options: unknown): TensorOptions | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${fn}: argument 'options' must be an object like {dtype, device}; got ${Array.isArray(options) ? 'an Array' : String(options)}`);
  }
  return options as TensorOptions;
}

/**
 * Creates a tensor from a TypedArray (shape defaults to its length), nested arrays (shape inferred) or
 * a single number. The data is copied.
 *
 * @example
 * rk.tensor([[1, 2], [3, 4]])                                  // float32, shape [2, 2]
 * rk.tensor(new Float64Array(6), { shape: [2, 3] })
 * rk.tensor(new BigInt64Array([1n, 2n]))                        // int64
 */
export function tensor(data: NestedArray | ArrayBufferView, options?: TensorOptions & { shape?: number[] }): Tensor {
  const opts = checkOptions('tensor', options) as (TensorOptions & { shape?: number[] }) | undefined;
  if (ArrayBuffer.isView(data)) {
    const natural = dtypeOfTypedArray(data);
    const isRawHalf = data instanceof Uint16Array && (opts?.dtype === 'float16' || opts?.dtype === 'bfloat16');
    if (!natural && !isRawHalf && !(data instanceof Int8Array) && !(data instanceof Int16Array)) {
      throw new TypeError(
        `tensor: argument 'data' is a ${data.constructor.name}; use Float32Array, Float64Array, Int32Array, BigInt64Array, Uint8Array, Int8Array, Int16Array, or Uint16Array with dtype float16/bfloat16`,
      );
    }
    const length = (data as unknown as { length: number }).length;
    const shape = opts?.shape ?? [length];
    return finish(new Tensor(native().fromTypedArray(data, shape, opts?.dtype ?? null, opts?.device ?? null)), opts);
  }
  if (typeof data !== 'number' && typeof data !== 'boolean' && !Array.isArray(data)) {
    throw new TypeError(`tensor: argument 'data' must be a TypedArray, a (nested) Array of numbers or a number; got ${data === null ? 'null' : typeof data}`);
  }
  const flat = flattenNested(data, 'tensor: argument \'data\'');
  const shape = opts?.shape ?? flat.shape;
  return finish(new Tensor(native().fromTypedArray(flat.data, shape, opts?.dtype ?? flat.naturalDtype, opts?.device ?? null)), opts);
}

/** A tensor filled with `value` (float32 unless a dtype is given). */
export function full(shape: number[], value: number, options?: TensorOptions): Tensor {
  const o = checkOptions('full', options);
  return finish(new Tensor(native().full(shape, value, o?.dtype ?? null, o?.device ?? null)), o);
}
export function zeros(shape: number[], options?: TensorOptions): Tensor {
  return full(shape, 0, options);
}
export function ones(shape: number[], options?: TensorOptions): Tensor {
  return full(shape, 1, options);
}
/** Uniform samples in [0, 1) from the global generator (seed it with {@link manualSeed}). */
export function rand(shape: number[], options?: TensorOptions): Tensor {
  const o = checkOptions('rand', options);
  return finish(new Tensor(native().rand(shape, o?.dtype ?? null, o?.device ?? null)), o);
}
/** Standard normal samples from the global generator. */
export function randn(shape: number[], options?: TensorOptions): Tensor {
  const o = checkOptions('randn', options);
  return finish(new Tensor(native().randn(shape, o?.dtype ?? null, o?.device ?? null)), o);
}
/** Uniform int64 integers in [low, high). */
export function randint(low: number, high: number, shape: number[], options?: { device?: Device }): Tensor {
  return new Tensor(native().randint(low, high, shape, options?.device ?? null));
}
/** Values from start (inclusive) to end (exclusive) by step; `arange(5)` is 0..4. */
export function arange(start: number, end?: number, step = 1, options?: TensorOptions): Tensor {
  const o = checkOptions('arange', options);
  const [from, to] = end === undefined ? [0, start] : [start, end];
  return finish(new Tensor(native().arange(from, to, step, o?.dtype ?? null, o?.device ?? null)), o);
}
/** Concatenates along an existing dimension. */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return new Tensor(native().cat(handles('cat', tensors), dim));
}
/** Stacks equal-shaped tensors along a new dimension. */
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return new Tensor(native().stack(handles('stack', tensors), dim));
}

function handles(fn: string, tensors: Tensor[]): NativeTensor[] {
  if (!Array.isArray(tensors)) throw new TypeError(`${fn}: argument 'tensors' must be an Array of Tensors; got ${typeof tensors}`);
  return tensors.map((t, i) => {
    if (!(t instanceof Tensor)) throw new TypeError(`${fn}: argument 'tensors'[${i}] must be a Tensor; got ${t === null ? 'null' : typeof t}`);
    return t.handle;
  });
}

/** 2-d convolution on a worker thread (input N×C×H×W, weight O×C×kH×kW). */
export async function conv2dAsync(input: Tensor, weight: Tensor, options: { bias?: Tensor; stride?: number; padding?: number } = {}): Promise<Tensor> {
  if (options === null || typeof options !== 'object') throw new TypeError("conv2dAsync: argument 'options' must be an object");
  if (!(input instanceof Tensor)) throw new TypeError("conv2dAsync: argument 'input' must be a Tensor");
  if (!(weight instanceof Tensor)) throw new TypeError("conv2dAsync: argument 'weight' must be a Tensor");
  return new Tensor(await native().conv2dAsync(input.handle, weight.handle, options.bias?.handle ?? null, options.stride ?? 1, options.padding ?? 0));
}

/** Seeds the global random generators (CPU and CUDA) for reproducible rand/randn/init. */
export function manualSeed(seed: number): void {
  native().manualSeed(seed);
}

/**
 * Runs `fn` with autograd off on this thread and restores the previous state afterwards.
 * `fn` must be synchronous (grad mode is per thread, and an `await` would leak it to other work).
 */
export function noGrad<R>(fn: () => R): R {
  const previous = native().setGradEnabled(false);
  try {
    const result = fn();
    if (result instanceof Promise) throw new TypeError('noGrad: the function returned a Promise; noGrad only covers synchronous work');
    return result;
  } finally {
    native().setGradEnabled(previous);
  }
}

/** Whether autograd is recording on the JS thread. */
export function isGradEnabled(): boolean {
  return native().isGradEnabled();
}
