/**
 * Small helpers shared by the command-line tools (`predict`, `data`): flag parsing that
 * turns every mistake into a {@link UsageError} whose message is one line, and integer
 * flag checks. A tool prints `<tool>: <message>` and its usage line, then exits 2.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../core/errors.ts";

/** Bad command-line input (exit code 2), the same class the pipelines throw. */
export { UsageError };

type Options = NonNullable<ParseArgsConfig["options"]>;

/** One line for an error thrown by `node:util` parseArgs. */
function parseArgsMessage(e: Error): string {
  const code = (e as { code?: string }).code;
  const flag = /'(-{1,2}[^' ]+)/.exec(e.message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) return `unknown flag ${flag}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag) {
    if (/does not take an argument/.test(e.message)) return `${flag} does not take a value`;
    return `${flag} needs a value`;
  }
  return e.message.split("\n")[0];
}

/**
 * Parses `args` against `options` (strict, positionals allowed). A negative number after
 * a string flag (`--top -1`) is taken as its value, so the range check can name it, and so
 * is `-name` after a repeatable (`multiple`) one (`--logger -tensorboard`).
 * Throws a {@link UsageError} for an unknown flag or a missing or unwanted value.
 */
export function parseFlags<O extends Options>(
  args: readonly string[],
  options: O,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  const fixed: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      fixed.push(...args.slice(i));
      break;
    }
    const name = a.startsWith("--") ? a.slice(2) : undefined;
    const next = args[i + 1];
    // A repeatable string flag also takes a value such as "-tensorboard" (`--logger -x`).
    const dashValue = /^-[\d.]/.test(next ?? "") ||
      (options[name ?? ""]?.multiple === true && /^-[A-Za-z]/.test(next ?? ""));
    if (name && options[name]?.type === "string" && next !== undefined && dashValue) {
      fixed.push(`${a}=${next}`);
      i++;
    } else fixed.push(a);
  }
  try {
    const r = parseArgs({ args: fixed, options, allowPositionals: true, strict: true });
    return {
      values: r.values as Record<string, string | boolean | string[] | undefined>,
      positionals: r.positionals,
    };
  } catch (e) {
    throw new UsageError(parseArgsMessage(e as Error));
  }
}

/** `value` as an integer ≥ `min` (default 1); throws a {@link UsageError} naming `flag`. */
export function intFlag(flag: string, value: string, min = 1): number {
  const n = /^\s*[+]?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    const what = min === 1 ? "a positive integer" : `an integer ≥ ${min}`;
    throw new UsageError(`${flag} must be ${what}, got ${value === "" ? '""' : value}`);
  }
  return n;
}

/** The first line of an error's message (for the one-line reports of the tools). */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n").map((s) => s.trim()).find((s) => s) ?? String(e);
}
