// Dtype and device names shared with the native side.

/** Element types a Tensor can hold. */
export type Dtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'uint8' | 'bool';

/** 'cpu', 'cuda' (device 0) or 'cuda:N'. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

export const DTYPES: readonly Dtype[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'uint8', 'bool'];

/** The TypedArray `toArray()` returns for each dtype (float16/bfloat16 widen to float32, bool to 0/1 bytes). */
export interface ArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  float16: Float32Array;
  bfloat16: Float32Array;
  int64: BigInt64Array;
  int32: Int32Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

export type AnyTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Int8Array | Int16Array;
