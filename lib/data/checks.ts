// Argument checks shared by the data loaders: bad arguments throw TypeError/RangeError naming the
// function and the argument, before any file is touched.
import { describe, optionsOf } from '../checks';

export { describe, optionsOf };

/** @internal A non-empty string argument (a path). */
export function requirePath(fn: string, name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${fn}: argument '${name}' must be a non-empty path string; got ${describe(value)}`);
  }
  return value;
}

/** @internal One of a fixed set of strings, or `fallback` when undefined; `name` as in requireInt. */
export function requireChoice<T extends string>(fn: string, name: string, value: unknown, choices: readonly T[], fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    const what = name.includes(' ') ? name : `option '${name}'`;
    throw new TypeError(`${fn}: ${what} must be one of ${choices.map((c) => `'${c}'`).join(', ')}; got ${describe(value)}`);
  }
  return value as T;
}

/**
 * @internal An integer in [min, max], or `fallback` when undefined. `name` is an option name, or a
 * phrase such as "argument 'epoch'".
 */
export function requireInt(fn: string, name: string, value: unknown, min: number, max: number, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const what = name.includes(' ') ? name : `option '${name}'`;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${fn}: ${what} must be an integer; got ${describe(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`${fn}: ${what} must be in [${min}, ${max}]; got ${value}`);
  return value;
}

/** @internal A boolean, or `fallback` when undefined. */
export function requireBool(fn: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${fn}: option '${name}' must be a boolean; got ${describe(value)}`);
  return value;
}

/** @internal An Array of strings, or undefined. */
export function optionalStringList(fn: string, name: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new TypeError(`${fn}: option '${name}' must be an Array of strings; got ${describe(value)}`);
  }
  return [...(value as string[])];
}

/** @internal Rejects option names that the function does not know (catches typos like `splt`). */
export function rejectUnknown(fn: string, options: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new TypeError(`${fn}: unknown option '${key}'; known options are ${known.join(', ')}`);
  }
}
