// Turning JS values (nested arrays, typed arrays, scalars) into a flat typed array plus a shape.
import type { AnyTypedArray, Dtype } from './dtype';

/** Nested arrays of numbers or booleans, any depth, rectangular. */
export type NestedArray = number | boolean | NestedArray[];

export interface FlatData {
  data: AnyTypedArray;
  shape: number[];
  /** The dtype the data naturally has when the caller names none. */
  naturalDtype: Dtype;
}

/** The dtype a typed array holds, for the ones accepted as tensor data. */
export function dtypeOfTypedArray(a: ArrayBufferView): Dtype | undefined {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Uint8Array) return 'uint8';
  return undefined;
}

function inferShape(value: NestedArray, where: string): number[] {
  const shape: number[] = [];
  let level: NestedArray = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  if (shape.length > 16) throw new RangeError(`${where}: nested arrays deeper than 16 levels`);
  return shape;
}

/** Flattens a rectangular nested array, checking every row against the inferred shape. */
export function flattenNested(value: NestedArray, where: string): FlatData {
  const shape = inferShape(value, where);
  const out: number[] = [];
  let sawBoolean = false;
  let sawNumber = false;
  const walk = (v: NestedArray, depth: number, pathLabel: string): void => {
    if (depth === shape.length) {
      if (typeof v === 'boolean') {
        sawBoolean = true;
        out.push(v ? 1 : 0);
      } else if (typeof v === 'number') {
        sawNumber = true;
        out.push(v);
      } else {
        throw new TypeError(`${where}: element ${pathLabel} must be a number or boolean; got ${Array.isArray(v) ? 'an Array (ragged nesting)' : typeof v}`);
      }
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new RangeError(
        `${where}: ragged nested array: ${pathLabel || 'the top level'} should be an Array of length ${shape[depth]}; got ${Array.isArray(v) ? `length ${v.length}` : typeof v}`,
      );
    }
    v.forEach((x, i) => walk(x, depth + 1, `${pathLabel}[${i}]`));
  };
  walk(value, 0, '');
  if (sawBoolean && sawNumber) throw new TypeError(`${where}: nested array mixes numbers and booleans`);
  return { data: sawBoolean ? Uint8Array.from(out) : Float64Array.from(out), shape, naturalDtype: sawBoolean ? 'bool' : 'float32' };
}
