// Scopes: every Tensor (and Module) created while a scope function runs is disposed when it returns,
// except what it returns or passes to keep(). Scopes nest; kept and returned objects move to the
// enclosing scope, if any.

/** Anything with native memory that a scope can release. */
export interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
}

const stack: Set<Disposable>[] = [];
const kept = new WeakSet<Disposable>();

/** Called by every constructor of a native-backed object. */
export function track(item: Disposable): void {
  if (stack.length > 0) stack[stack.length - 1].add(item);
}

/** Excludes `item` from disposal by the current scopes; it then lives until disposed or collected. */
export function keep<T extends Disposable>(item: T): T {
  kept.add(item);
  for (const s of stack) s.delete(item);
  return item;
}

function isDisposable(x: unknown): x is Disposable {
  return typeof x === 'object' && x !== null && typeof (x as Disposable).dispose === 'function' && 'disposed' in x;
}

// Collects the disposables inside a returned value: itself, or inside arrays and plain objects.
function collectReturned(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (depth > 4 || value === null || typeof value !== 'object') return;
  if (isDisposable(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectReturned(v, out, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectReturned(v, out, depth + 1);
  }
}

/**
 * Runs `fn` and disposes every tensor it created, except those it returns (directly, or inside an
 * array or plain object) and those passed to keep(). `fn` must be synchronous: tensors created after an
 * `await` could not be attributed to this scope, so a returned Promise is an error.
 *
 * @example
 * const loss = rk.scope(() => pred.sub(target).pow(2).mean()); // the intermediates are freed
 */
export function scope<R>(fn: () => R): R {
  if (typeof fn !== 'function') throw new TypeError(`scope: argument 'fn' must be a function; got ${typeof fn}`);
  const own = new Set<Disposable>();
  stack.push(own);
  let result: R;
  try {
    result = fn();
  } catch (err) {
    stack.pop();
    for (const item of own) if (!kept.has(item)) item.dispose();
    throw err;
  }
  stack.pop();
  const returned = new Set<Disposable>();
  collectReturned(result, returned);
  for (const item of own) {
    if (returned.has(item) || kept.has(item)) {
      if (stack.length > 0 && !kept.has(item)) stack[stack.length - 1].add(item);
    } else {
      item.dispose();
    }
  }
  if (result instanceof Promise) {
    throw new TypeError('scope: the function returned a Promise; scopes only track synchronous work. Dispose tensors made after await explicitly.');
  }
  return result;
}
