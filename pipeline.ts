/**
 * The contract of a pipeline file: a default export made by `definePipeline`, with its own
 * options (turned into `--flags`) and a `run` function. `cli.ts` finds the file, parses the
 * flags and runs it; errors map to exit codes (1 training failed, 2 bad usage or input).
 */
import { parseArgs } from "node:util";

/** One option of a pipeline, exposed as `--name value`. */
export interface OptionSpec {
  type: "number" | "string" | "boolean";
  default?: number | string | boolean;
  help: string;
}

/** Parsed option values by name. */
export type Options = Record<string, number | string | boolean | undefined>;

/** A pipeline as `definePipeline` returns it. */
export interface Pipeline<O extends Options = Options> {
  name: string;
  description: string;
  options: Record<string, OptionSpec>;
  run(opts: O): Promise<void>;
}

/**
 * Declares a pipeline file's default export.
 *
 * @example
 * export default definePipeline({
 *   name: "demo", description: "…",
 *   options: { lr: { type: "number", default: 0.01, help: "learning rate" } },
 *   async run({ lr }) { … },
 * });
 */
export function definePipeline<O extends Options>(p: Pipeline<O>): Pipeline<O> {
  return p;
}

/** Bad flags or bad input: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Training failed (for example a diverging loss): exit code 1. */
export class TrainingError extends Error {
  override name = "TrainingError";
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** The usage text of a pipeline. */
export function usage(p: Pipeline): string {
  const lines = [`usage: deno task pipeline ${p.name}.ts [flags]`, "", p.description, "", "flags:"];
  for (const [k, o] of Object.entries(p.options)) {
    const d = o.default === undefined ? "" : ` (default ${o.default})`;
    lines.push(`  --${kebab(k)}${o.type === "boolean" ? "" : " <" + o.type + ">"}  ${o.help}${d}`);
  }
  lines.push("  --help  this text");
  return lines.join("\n");
}

/** Parses `args` against the pipeline's options; throws UsageError on unknown or bad flags. */
export function parseOptions(p: Pipeline, args: string[]): Options | "help" {
  const spec: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const [k, o] of Object.entries(p.options)) {
    spec[kebab(k)] = { type: o.type === "boolean" ? "boolean" : "string" };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options: spec, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return "help";
  const out: Options = {};
  for (const [k, o] of Object.entries(p.options)) {
    const v = values[kebab(k)];
    if (v === undefined) out[k] = o.default;
    else if (o.type === "number") {
      const n = Number(v);
      if (v === "" || !Number.isFinite(n)) {
        throw new UsageError(`--${kebab(k)} needs a number, got "${v}"`);
      }
      out[k] = n;
    } else out[k] = v;
  }
  return out;
}
