/**
 * Search spaces in the grid's syntax: each key gets a distribution instead of (or as well
 * as) a list. Strings: `key=spec` parts separated by `;` (or one per repeated flag), where
 * spec is
 *
 *   uniform(low,high)       a float in [low, high]
 *   loguniform(low,high)    a float, uniform in log space (0 < low < high)
 *   int(low,high)           an integer in [low, high] (also `intuniform`)
 *   logint(low,high)        an integer, uniform in log space (1 <= low <= high)
 *   choice(a,b,c)           one of the values (also a plain list `a,b,c`)
 *   a                       a single value: fixed
 *
 * e.g. `lr=loguniform(1e-5,1e-2);batch_size=32,64;dropout=uniform(0,0.5);layers=int(1,4)`.
 * The JSON form is an object: `{"lr": {"loguniform": [1e-5, 1e-2]}, "batch_size": [32, 64],
 * "layers": {"int": [8, 256], "log": true}, "opt": {"choice": ["adam", "sgd"]}, "seed": 3}`.
 * Values are typed as the grid types them (`parseGridValue`). Bad input is a `UsageError`
 * of one line naming the key and the problem.
 */
import { UsageError } from "../../core/errors.ts";
import { type Grid, parseGridValue } from "../grid.ts";

/** The grid type (key → the values to try), re-exported for `spaceToGrid`. */
export type { Grid };
import type { HValue } from "./types.ts";

/** What one key of a space draws from. */
export type Distribution =
  | { kind: "uniform"; low: number; high: number }
  | { kind: "loguniform"; low: number; high: number }
  | { kind: "int"; low: number; high: number; log: boolean }
  | { kind: "choice"; choices: HValue[] }
  | { kind: "fixed"; value: HValue };

/** Key → its distribution, in the order given. */
export type SearchSpace = Record<string, Distribution>;

/** Anything with a `next()` giving a float in [0, 1) (the project's `Rng`). */
export interface Uniform01 {
  /** A float in [0, 1). */
  next(): number;
}

const NAMES = ["uniform", "loguniform", "int", "intuniform", "logint", "choice"] as const;
type FnName = (typeof NAMES)[number];
const NAME_LIST = "uniform, loguniform, int, logint or choice";

function isValue(x: unknown): x is HValue {
  return typeof x === "string" || typeof x === "boolean" ||
    (typeof x === "number" && Number.isFinite(x));
}

function checkChoices(flag: string, key: string, values: unknown[], what: string): HValue[] {
  if (!values.length) throw new UsageError(`${flag}: ${key}: ${what} needs at least one value`);
  for (const v of values) {
    if (!isValue(v) || v === "") {
      throw new UsageError(
        `${flag}: ${key}: ${JSON.stringify(v) ?? String(v)} is not a value; ` +
          "use numbers, strings or true/false",
      );
    }
  }
  const seen = new Set<string>();
  for (const v of values as HValue[]) {
    const id = `${typeof v}:${v}`;
    if (seen.has(id)) throw new UsageError(`${flag}: ${key}: repeated value "${v}"`);
    seen.add(id);
  }
  return values as HValue[];
}

/** The distribution `name(args)` for `key`, checked. */
function distribution(flag: string, key: string, name: FnName, args: unknown[]): Distribution {
  if (name === "choice") return { kind: "choice", choices: checkChoices(flag, key, args, name) };
  const nums = args.length === 2 && args.every((a) => typeof a === "number" && Number.isFinite(a));
  const [low, high] = args as number[];
  switch (name) {
    case "uniform":
      if (!nums || !(low < high)) {
        throw new UsageError(`${flag}: ${key}: uniform needs two numbers low < high`);
      }
      return { kind: "uniform", low, high };
    case "loguniform":
      if (!nums || !(low > 0 && low < high)) {
        throw new UsageError(`${flag}: ${key}: loguniform needs 0 < low < high`);
      }
      return { kind: "loguniform", low, high };
    case "int":
    case "intuniform":
      if (!nums || !Number.isInteger(low) || !Number.isInteger(high) || low > high) {
        throw new UsageError(`${flag}: ${key}: ${name} needs two integers low <= high`);
      }
      return { kind: "int", low, high, log: false };
    case "logint":
      if (!nums || !Number.isInteger(low) || !Number.isInteger(high) || low < 1 || low > high) {
        throw new UsageError(`${flag}: ${key}: logint needs two integers 1 <= low <= high`);
      }
      return { kind: "int", low, high, log: true };
  }
}

/** One `key=spec` string part. */
function parsePart(flag: string, key: string, text: string): Distribution {
  const t = text.trim();
  if (t === "") throw new UsageError(`${flag}: ${key}: no value`);
  const call = /^([A-Za-z_]\w*)\s*\(([\s\S]*)\)$/.exec(t);
  if (call) {
    const name = call[1].toLowerCase();
    if (!(NAMES as readonly string[]).includes(name)) {
      throw new UsageError(`${flag}: ${key}: unknown distribution "${call[1]}" (use ${NAME_LIST})`);
    }
    const args = call[2].trim() === "" ? [] : call[2].split(",").map(parseGridValue);
    if (args.some((a) => a === "")) throw new UsageError(`${flag}: ${key}: empty value in "${t}"`);
    return distribution(flag, key, name as FnName, args);
  }
  if (/[()]/.test(t)) throw new UsageError(`${flag}: ${key}: unbalanced parentheses in "${t}"`);
  const values = t.split(",").map(parseGridValue);
  if (values.some((v) => v === "")) throw new UsageError(`${flag}: ${key}: empty value in "${t}"`);
  if (values.length === 1) return { kind: "fixed", value: values[0] };
  return { kind: "choice", choices: checkChoices(flag, key, values, "a list") };
}

/** One key's JSON value: a value, a list, or `{"<distribution>": [args]}`. */
function parseJsonValue(flag: string, key: string, v: unknown): Distribution {
  if (Array.isArray(v)) {
    const choices = checkChoices(flag, key, v, "a list");
    return choices.length === 1
      ? { kind: "fixed", value: choices[0] }
      : { kind: "choice", choices };
  }
  if (isValue(v)) {
    if (v === "") throw new UsageError(`${flag}: ${key}: empty value`);
    return { kind: "fixed", value: v };
  }
  const shape = `expected a value, a list or {"${NAMES[1]}": [low, high]}`;
  if (typeof v !== "object" || v === null) throw new UsageError(`${flag}: ${key}: ${shape}`);
  const entries = Object.entries(v as Record<string, unknown>);
  const fns = entries.filter(([k]) => (NAMES as readonly string[]).includes(k.toLowerCase()));
  const others = entries.filter(([k]) => !fns.some(([f]) => f === k) && k !== "log");
  if (fns.length !== 1 || others.length) {
    const bad = others.length ? others[0][0] : fns.length ? "two distributions" : "no distribution";
    throw new UsageError(`${flag}: ${key}: ${bad} in ${JSON.stringify(v)} (use ${NAME_LIST})`);
  }
  const [fn, args] = fns[0];
  let name = fn.toLowerCase() as FnName;
  const log = (v as { log?: unknown }).log;
  if (log !== undefined) {
    if (typeof log !== "boolean" || !["int", "intuniform"].includes(name)) {
      throw new UsageError(`${flag}: ${key}: "log" is only for int, as true or false`);
    }
    if (log) name = "logint";
  }
  if (!Array.isArray(args)) {
    throw new UsageError(`${flag}: ${key}: ${fn} needs a list of arguments, e.g. [1, 4]`);
  }
  return distribution(flag, key, name, args);
}

function addKey(flag: string, space: SearchSpace, key: string, d: Distribution): void {
  if (!/^[A-Za-z_][\w.-]*$/.test(key)) throw new UsageError(`${flag}: bad key "${key}"`);
  if (key in space) throw new UsageError(`${flag}: key "${key}" given twice`);
  space[key] = d;
}

/**
 * Parses a search space from a JSON object, a JSON string, or `key=spec` strings (see the
 * module comment). `flag` names the option in messages (`--grid: lr: loguniform needs
 * 0 < low < high`). Throws `UsageError` on bad input.
 */
export function parseSpace(
  spec: string | string[] | Record<string, unknown>,
  flag = "--grid",
): SearchSpace {
  const space: SearchSpace = {};
  if (typeof spec === "object" && !Array.isArray(spec)) {
    for (const [k, v] of Object.entries(spec)) addKey(flag, space, k, parseJsonValue(flag, k, v));
    return space;
  }
  for (const s of typeof spec === "string" ? [spec] : spec) {
    const t = s.trim();
    if (t.startsWith("{")) {
      let obj: unknown;
      try {
        obj = JSON.parse(t);
      } catch (e) {
        throw new UsageError(`${flag}: bad JSON (${(e as Error).message})`);
      }
      if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
        throw new UsageError(`${flag}: the JSON must be an object`);
      }
      for (const [k, d] of Object.entries(parseSpace(obj as Record<string, unknown>, flag))) {
        addKey(flag, space, k, d);
      }
      continue;
    }
    for (const part of t.split(";").map((p) => p.trim()).filter(Boolean)) {
      const eq = part.indexOf("=");
      if (eq < 1) throw new UsageError(`${flag}: expected key=spec, got "${part}"`);
      const key = part.slice(0, eq).trim();
      addKey(flag, space, key, parsePart(flag, key, part.slice(eq + 1)));
    }
  }
  return space;
}

/** Whether `d` draws from a range (uniform, loguniform, int) rather than a list. */
export function isRange(d: Distribution): boolean {
  return d.kind === "uniform" || d.kind === "loguniform" || d.kind === "int";
}

/** The keys whose distribution is a range, in order (none: a grid can hold the space). */
export function distributionKeys(space: SearchSpace): string[] {
  return Object.keys(space).filter((k) => isRange(space[k]));
}

/** Whether any key of the space draws from a range (so `--search grid` must refuse it). */
export function hasDistribution(space: SearchSpace): boolean {
  return distributionKeys(space).length > 0;
}

/**
 * The space as a grid (choices and fixed values become value lists). Throws `UsageError`
 * naming the first range: a grid needs lists.
 */
export function spaceToGrid(space: SearchSpace, flag = "--grid"): Grid {
  const range = distributionKeys(space)[0];
  if (range !== undefined) {
    throw new UsageError(
      `${flag}: ${range}: ${formatDistribution(space[range])} is a distribution; ` +
        "--search grid needs lists (a,b,c); use --search random or tpe",
    );
  }
  const grid: Grid = {};
  for (const [k, d] of Object.entries(space)) {
    grid[k] = d.kind === "choice" ? [...d.choices] : [(d as { value: HValue }).value];
  }
  return grid;
}

/** A distribution as written in the string syntax (`loguniform(0.00001,0.01)`). */
export function formatDistribution(d: Distribution): string {
  switch (d.kind) {
    case "uniform":
    case "loguniform":
      return `${d.kind}(${d.low},${d.high})`;
    case "int":
      return `${d.log ? "logint" : "int"}(${d.low},${d.high})`;
    case "choice":
      return `choice(${d.choices.join(",")})`;
    case "fixed":
      return String(d.value);
  }
}

/** The space in the string syntax, keys in order (`lr=loguniform(…);batch_size=choice(…)`). */
export function formatSpace(space: SearchSpace): string {
  return Object.entries(space).map(([k, d]) => `${k}=${formatDistribution(d)}`).join(";");
}

function same(a: Distribution, b: Distribution): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "choice") {
    const c = (b as typeof a).choices;
    return a.choices.length === c.length && a.choices.every((v, i) => Object.is(v, c[i]));
  }
  if (a.kind === "fixed") return Object.is(a.value, (b as typeof a).value);
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * How `given` differs from `stored`, one phrase per key (`lr: loguniform(…) here,
 * uniform(…) in the study`); empty when they are the same space. Key order does not count.
 */
export function spaceDifferences(stored: SearchSpace, given: SearchSpace): string[] {
  const out: string[] = [];
  for (const [k, d] of Object.entries(given)) {
    const s = stored[k];
    if (!s) out.push(`${k}: not in the study`);
    else if (!same(s, d)) {
      out.push(`${k}: ${formatDistribution(d)} here, ${formatDistribution(s)} in the study`);
    }
  }
  for (const k of Object.keys(stored)) if (!(k in given)) out.push(`${k}: only in the study`);
  return out;
}

/**
 * The value at `u` ∈ [0, 1) of the distribution (its inverse CDF): `sampleDistribution(d,
 * rng)` draws one. Integers in log space are drawn over [low−½, high+½] and rounded, as
 * Optuna does.
 */
export function valueAt(d: Distribution, u: number): HValue {
  switch (d.kind) {
    case "uniform":
      return Math.min(d.high, d.low + u * (d.high - d.low));
    case "loguniform": {
      const x = Math.exp(Math.log(d.low) + u * (Math.log(d.high) - Math.log(d.low)));
      return Math.min(d.high, Math.max(d.low, x));
    }
    case "int": {
      const x = d.log
        ? Math.round(
          Math.exp(Math.log(d.low - 0.5) + u * (Math.log(d.high + 0.5) - Math.log(d.low - 0.5))),
        )
        : d.low + Math.floor(u * (d.high - d.low + 1));
      return Math.min(d.high, Math.max(d.low, x));
    }
    case "choice":
      return d.choices[Math.min(d.choices.length - 1, Math.floor(u * d.choices.length))];
    case "fixed":
      return d.value;
  }
}

/** One value drawn from the distribution with `rng`. */
export function sampleDistribution(d: Distribution, rng: Uniform01): HValue {
  return d.kind === "fixed" ? d.value : valueAt(d, rng.next());
}
