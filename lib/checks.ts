// Argument-check helpers shared by every part of the TypeScript layer, so error messages describe
// values the same way everywhere (and the way the native side does).

/** @internal A short description of a value for error messages: "a string ('abc')", "an Array of length 2", "null". */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an Array of length ${v.length}`;
  if (typeof v === 'object') return `an object (${(v as object).constructor?.name ?? 'no prototype'})`;
  if (typeof v === 'string') return `a string ('${v.length > 40 ? `${v.slice(0, 40)}...` : v}')`;
  if (typeof v === 'symbol') return 'a symbol';
  return `${typeof v === 'undefined' ? 'undefined' : `a ${typeof v}`}${typeof v === 'number' || typeof v === 'boolean' ? ` (${v})` : ''}`;
}

/** @internal An optional options argument: undefined becomes {}, anything but a plain object is a TypeError naming the function. */
export function optionsOf<T extends object = Record<string, unknown>>(fn: string, value: unknown): T {
  if (value === undefined) return {} as T;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${fn}: argument 'options' must be an object; got ${describe(value)}`);
  }
  return value as T;
}
