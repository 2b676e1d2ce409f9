// Small argument checks shared by the nn factories (the native side re-validates values).
import { Tensor } from '../tensor';

export { optionsOf } from '../checks';

export function requireOptions(fn: string, options: unknown): Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${fn}: argument 'options' must be an object; got ${Array.isArray(options) ? 'an Array' : options === null ? 'null' : typeof options}`);
  }
  return options as Record<string, unknown>;
}

export function requireTensor(fn: string, name: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) throw new TypeError(`${fn}: argument '${name}' must be a Tensor; got ${value === null ? 'null' : typeof value}`);
  return value;
}

export function requireTensorList(fn: string, name: string, value: unknown): Tensor[] {
  if (!Array.isArray(value)) throw new TypeError(`${fn}: argument '${name}' must be an Array of Tensors; got ${value === null ? 'null' : typeof value}`);
  value.forEach((v, i) => requireTensor(fn, `${name}[${i}]`, v));
  return value as Tensor[];
}

