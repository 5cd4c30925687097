/**
 * The one assertion module of the tests (JSR's std is not reachable here). Equality is
 * Node's deep strict equality: NaN equals NaN but not null, a Float32Array never equals an
 * Int32Array or a plain array, -0 differs from 0 only through `Object.is` (as in Node),
 * and objects are compared by prototype, own keys and values.
 */
import { AssertionError, deepStrictEqual, notDeepStrictEqual } from "node:assert/strict";

/** Throws `msg` unless `cond`. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError({ message: msg });
}

/** Throws unless `actual` deeply and strictly equals `expected` (see the module comment). */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  msg?: string,
): asserts actual is T {
  deepStrictEqual(actual, expected, msg);
}

/** Throws if `actual` deeply and strictly equals `expected`. */
export function assertNotEquals(
  actual: unknown,
  expected: unknown,
  msg?: string,
): void {
  notDeepStrictEqual(actual, expected, msg);
}

/** Throws unless |actual − expected| ≤ tol (NaN is never close). */
export function assertClose(
  actual: number,
  expected: number,
  tol: number,
  msg?: string,
): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new AssertionError({
      message: msg ?? `expected ${expected} ± ${tol}, got ${actual}`,
    });
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error = Error> = new (...args: any[]) => E;

/**
 * What a thrown error must be: a message pattern, a class, or a predicate (as Node's
 * `assert.throws` takes), optionally with a text the message must hold.
 */
export type Expected = RegExp | ErrorClass | ((e: Error) => boolean);

function check(thrown: unknown, expected?: Expected, includes?: string, msg?: string): Error {
  try {
    return checkThrown(thrown, expected, includes);
  } catch (e) {
    if (msg && e instanceof AssertionError) e.message = `${msg}: ${e.message}`;
    throw e;
  }
}

function checkThrown(thrown: unknown, expected?: Expected, includes?: string): Error {
  if (!(thrown instanceof Error)) {
    throw new AssertionError({ message: `threw a non-Error: ${thrown}` });
  }
  const e: Error = thrown;
  if (expected instanceof RegExp && !expected.test(e.message)) {
    throw new AssertionError({
      message: `threw "${e.message}", expected ${expected}`,
    });
  }
  const what = `${e.constructor.name} "${e.message}"`;
  if (typeof expected === "function") {
    const isClass = expected.prototype instanceof Error || expected === Error;
    if (isClass && !(e instanceof (expected as ErrorClass))) {
      throw new AssertionError({
        message: `threw ${what}, expected a ${expected.name}`,
      });
    }
    if (!isClass && !(expected as (e: Error) => boolean)(e)) {
      throw new AssertionError({
        message: `threw ${what}, which the check refused`,
      });
    }
  }
  if (includes !== undefined && !e.message.includes(includes)) {
    throw new AssertionError({
      message: `threw "${e.message}", expected it to hold "${includes}"`,
    });
  }
  return e;
}

/**
 * Throws unless `fn` throws synchronously an error matching `expected` (and holding
 * `includes`); returns that error, typed by the class when one is given. A function that
 * returns a promise fails here: use `assertRejects`. `msg` prefixes a failure's message.
 */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  expected: ErrorClass<E>,
  includes?: string,
  msg?: string,
): E;
export function assertThrows(
  fn: () => unknown,
  expected?: Expected,
  includes?: string,
  msg?: string,
): Error;
export function assertThrows(
  fn: () => unknown,
  expected?: Expected,
  includes?: string,
  msg?: string,
): Error {
  let r: unknown;
  try {
    r = fn();
  } catch (e) {
    return check(e, expected, includes, msg);
  }
  if (r instanceof Promise) {
    r.catch(() => {});
    throw new AssertionError({
      message: `${msg ? msg + ": " : ""}returned a promise: use assertRejects`,
    });
  }
  throw new AssertionError({
    message: `${msg ? msg + ": " : ""}did not throw (expected ${expected ?? "an error"})`,
  });
}

/**
 * Throws unless `fn` (or the promise given) rejects, or throws, with an error matching
 * `expected` (and holding `includes`); returns that error, typed by the class when one is
 * given. `msg` prefixes a failure's message.
 */
export function assertRejects<E extends Error>(
  fn: (() => unknown) | Promise<unknown>,
  expected: ErrorClass<E>,
  includes?: string,
  msg?: string,
): Promise<E>;
export function assertRejects(
  fn: (() => unknown) | Promise<unknown>,
  expected?: Expected,
  includes?: string,
  msg?: string,
): Promise<Error>;
export async function assertRejects(
  fn: (() => unknown) | Promise<unknown>,
  expected?: Expected,
  includes?: string,
  msg?: string,
): Promise<Error> {
  try {
    await (typeof fn === "function" ? fn() : fn);
  } catch (e) {
    return check(e, expected, includes, msg);
  }
  throw new AssertionError({
    message: `${msg ? msg + ": " : ""}did not reject (expected ${expected ?? "an error"})`,
  });
}
