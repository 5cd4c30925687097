/** Minimal assertions (JSR's std is not reachable here). */

/** Throws `msg` unless `cond`. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Throws unless `a === b` (or both NaN). */
export function assertEquals<T>(a: T, b: T, msg?: string): void {
  const same = Object.is(a, b) || JSON.stringify(a) === JSON.stringify(b);
  if (!same) throw new Error(msg ?? `expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
}

/** Throws unless |a − b| ≤ tol. */
export function assertClose(a: number, b: number, tol: number, msg?: string): void {
  if (!(Math.abs(a - b) <= tol)) throw new Error(msg ?? `expected ${b} ± ${tol}, got ${a}`);
}

/** Throws unless `fn` throws (or rejects) with a message matching `re`. */
export async function assertThrows(fn: () => unknown, re: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const m = (e as Error).message;
    if (!re.test(m)) throw new Error(`threw "${m}", expected ${re}`);
    return;
  }
  throw new Error(`did not throw (expected ${re})`);
}
