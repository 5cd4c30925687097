/**
 * The hyper-parameter grid: the Cartesian product of value lists, each combination a run
 * with a stable, readable folder name (`lr=0.0003_batch_size=32`), and the best-N table
 * printed at the end. A grid comes from a JSON object (`{"lr": [3e-4, 3e-5]}`) or from
 * `key=a,b,c` strings, several keys separated by `;` or given as repeated flags. Values
 * are typed: numbers stay numbers, `true`/`false` become booleans, the rest strings.
 */
import { UsageError } from "./pipeline.ts";
import type { HValue } from "../stages/evaluate.ts";
import { compareEpochs, type Scored } from "../stages/log/best.ts";

/** Key → the values to try, in order. */
export type Grid = Record<string, HValue[]>;

/** One combination of the grid. */
export interface GridRun {
  /** Position in the grid, from 0. */
  index: number;
  /** Folder name of the run (unique within the grid). */
  name: string;
  /** The base parameters overridden by this combination. */
  params: Record<string, HValue>;
}

/** Parses one value: a finite number, `true`/`false`, or the trimmed string. */
export function parseGridValue(s: string): HValue {
  const t = s.trim();
  if (t === "true") return true;
  if (t === "false") return false;
  if (t !== "" && /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return Number(t);
  return t;
}

function addKey(grid: Grid, key: string, values: HValue[], what: string): void {
  if (!/^[A-Za-z_][\w.-]*$/.test(key)) throw new UsageError(`--grid: bad key "${key}" in ${what}`);
  if (key in grid) throw new UsageError(`--grid: key "${key}" given twice`);
  if (!values.length) throw new UsageError(`--grid: no values for "${key}"`);
  const seen = new Set(values.map((v) => `${typeof v}:${v}`));
  if (seen.size !== values.length) throw new UsageError(`--grid: repeated value for "${key}"`);
  grid[key] = values;
}

/**
 * Parses a grid from a JSON object, a JSON string, or `key=a,b,c` strings (keys separated
 * by `;`, or one per string when the flag is repeated). Throws UsageError on bad input.
 */
export function parseGrid(spec: string | string[] | Record<string, unknown>): Grid {
  const grid: Grid = {};
  if (typeof spec === "object" && !Array.isArray(spec)) {
    for (const [k, v] of Object.entries(spec)) {
      const list = Array.isArray(v) ? v : [v];
      for (const x of list) {
        if (!["number", "string", "boolean"].includes(typeof x) || Number.isNaN(x)) {
          throw new UsageError(`--grid: "${k}" holds ${JSON.stringify(x)}; use numbers or strings`);
        }
      }
      addKey(grid, k, list as HValue[], "the JSON grid");
    }
    return grid;
  }
  for (const s of typeof spec === "string" ? [spec] : spec) {
    const t = s.trim();
    if (t.startsWith("{")) {
      let obj: unknown;
      try {
        obj = JSON.parse(t);
      } catch (e) {
        throw new UsageError(`--grid: bad JSON (${(e as Error).message})`);
      }
      if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
        throw new UsageError("--grid: the JSON must be an object of lists");
      }
      for (const [k, v] of Object.entries(parseGrid(obj as Record<string, unknown>))) {
        addKey(grid, k, v, t);
      }
      continue;
    }
    for (const part of t.split(";").map((p) => p.trim()).filter(Boolean)) {
      const eq = part.indexOf("=");
      if (eq < 1) throw new UsageError(`--grid: expected key=a,b,c, got "${part}"`);
      const values = part.slice(eq + 1).split(",").map(parseGridValue);
      if (values.some((v) => v === "")) throw new UsageError(`--grid: empty value in "${part}"`);
      addKey(grid, part.slice(0, eq).trim(), values, `"${part}"`);
    }
  }
  return grid;
}

/** A value as it appears in run names and tables (`3e-4` → `0.0003`). */
export function formatValue(v: HValue): string {
  return String(v);
}

/** A folder-safe, readable name for a combination, e.g. `lr=0.0003_batch_size=32`. */
export function runName(params: Record<string, HValue>, keys = Object.keys(params)): string {
  if (!keys.length) return "run";
  return keys.map((k) => `${k}=${formatValue(params[k])}`).join("_")
    .replace(/[^\w.=+-]/g, "-");
}

/**
 * Every combination of `grid` over `base`, the first key varying slowest. A grid with no
 * keys gives one run named "run". Names only mention the keys with more than one value
 * (all keys when none has), and are made unique with a `-N` suffix where needed.
 */
export function expandGrid(grid: Grid, base: Record<string, HValue> = {}): GridRun[] {
  const keys = Object.keys(grid);
  const varying = keys.filter((k) => grid[k].length > 1);
  const named = varying.length ? varying : keys;
  let combos: Record<string, HValue>[] = [{}];
  for (const k of keys) combos = combos.flatMap((c) => grid[k].map((v) => ({ ...c, [k]: v })));
  const used = new Set<string>();
  return combos.map((c, index) => {
    let name = runName(c, named);
    for (let n = 2; used.has(name); n++) name = `${runName(c, named)}-${n}`;
    used.add(name);
    return { index, name, params: { ...base, ...c } };
  });
}

/** A row of metrics, as read from metrics.csv or built in memory. */
export type Row = Record<string, string | number | boolean | null | undefined>;

/**
 * The best `n` rows by the numeric column `by` (highest first; lowest first for a column
 * ending in "Loss"), ties to the lower TestLoss and then the earlier epoch (the rule of
 * `log/best.ts`); rows whose value is not a number come last. With `perRun`, only each
 * run's best row competes.
 */
export function bestRows<R extends Row>(
  rows: R[],
  n: number,
  by = "TestAccuracy",
  opts: { perRun?: boolean } = {},
): R[] {
  const cmp = (a: R, b: R) => compareEpochs(a as Scored, b as Scored, by);
  let pool = rows;
  if (opts.perRun) {
    const best = new Map<string, R>();
    for (const r of rows) {
      const k = String(r.run);
      const b = best.get(k);
      if (!b || cmp(r, b) < 0) best.set(k, r);
    }
    pool = [...best.values()];
  }
  return pool.map((r, i) => ({ r, i }))
    .sort((a, b) => cmp(a.r, b.r) || a.i - b.i)
    .slice(0, Math.max(0, n))
    .map((x) => x.r);
}

function cell(v: Row[string]): string {
  if (v === null || v === undefined) return "";
  const num = typeof v === "number" ? v : typeof v === "string" && v.trim() ? Number(v) : NaN;
  if (Number.isFinite(num) && !Number.isInteger(num) && Math.abs(num) >= 1e-3) {
    return String(Number(num.toFixed(4)));
  }
  return String(v);
}

/**
 * Rows as aligned plain text: a header, a rule, one line per row. Numeric columns are
 * right-aligned; fractions are rounded to 4 decimals.
 */
export function formatTable(rows: Row[], columns?: string[]): string {
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const numeric = cols.map((_, k) =>
    cells.length > 0 && cells.every((r) => r[k] === "" || Number.isFinite(Number(r[k])))
  );
  const width = cols.map((c, k) => Math.max(c.length, ...cells.map((r) => r[k].length)));
  const line = (vals: string[]) =>
    vals.map((v, k) => (numeric[k] ? v.padStart(width[k]) : v.padEnd(width[k]))).join("  ")
      .trimEnd();
  return [line(cols), width.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

/** The final best-N table: `bestRows` formatted with `formatTable`, with a rank column. */
export function bestTable(
  rows: Row[],
  n: number,
  by = "TestAccuracy",
  columns?: string[],
): string {
  const best = bestRows(rows, n, by);
  return formatTable(best.map((r, k) => ({ "#": k + 1, ...r })), columns && ["#", ...columns]);
}
