/**
 * The contract of a pipeline file: a default export made by `definePipeline`, with its own
 * options (turned into `--flags`) and a `run` function. `cli.ts` finds the file, parses the
 * flags and runs it; errors map to exit codes (1 training failed, 2 bad usage or input,
 * 3 the output folder's lock is held, 130/143 interrupted after writing a checkpoint).
 */
import { TrainingError, UsageError } from "../core/errors.ts";
import { parseFlags } from "./cli_args.ts";

/** The value types an option can have, named as on the command line. */
export type OptionType = "number" | "string" | "boolean";

/** One option of a pipeline, exposed as `--name value`. */
export interface OptionSpec {
  /** How the flag's value is parsed ("number" must be finite; "boolean" takes no value). */
  type: OptionType;
  /** The value when the flag is not given (shown in `--help`); none: undefined. */
  default?: number | string | boolean;
  /** One line for `--help`. */
  help: string;
  /** A string flag that may be repeated: the values are joined with ";" (`--stage`). */
  multiple?: boolean;
}

/** Parsed option values by name. */
export type Options = Record<string, number | string | boolean | undefined>;

/** The TypeScript type of an option's value. */
export type OptionValue<T extends OptionType> = T extends "number" ? number
  : T extends "string" ? string
  : boolean;

/**
 * The parsed options of a spec: each key's value typed by its `type`, and `| undefined`
 * where the option has no default.
 */
export type OptionValues<S extends Record<string, OptionSpec>> = {
  [K in keyof S]: S[K] extends { default: number | string | boolean } ? OptionValue<S[K]["type"]>
    : OptionValue<S[K]["type"]> | undefined;
};

/** A pipeline as `definePipeline` returns it. */
export interface Pipeline<O extends Options = Options> {
  /** The pipeline's name, as its file's (`intel` for `intel.ts`): usage prints `<name>.ts`. */
  name: string;
  /** One paragraph shown in `--help`. */
  description: string;
  /** The options by key; key `batchSize` is the flag `--batch-size`. */
  options: Record<string, OptionSpec>;
  /**
   * Range checks of the options (UsageError, exit 2), runnable without starting anything:
   * `deno task retrain` calls it before taking the registry's lock.
   */
  check?(opts: O): void;
  /** Runs the pipeline; what it throws decides the exit code (see the module comment). */
  run(opts: O): Promise<void>;
}

/** What a pipeline file declares: its options' specs, and functions of their typed values. */
export interface PipelineDefinition<S extends Record<string, OptionSpec>> {
  /** The pipeline's name, as its file's (`intel` for `intel.ts`): usage prints `<name>.ts`. */
  name: string;
  /** One paragraph shown in `--help`. */
  description: string;
  /** The options' specs by key; key `batchSize` is the flag `--batch-size`. */
  options: S;
  /** Range checks (UsageError, exit 2), run before anything starts. */
  check?(opts: OptionValues<S>): void;
  /** Runs the pipeline with the parsed, typed options; what it throws decides the exit code. */
  run(opts: OptionValues<S>): Promise<void>;
}

/**
 * Declares a pipeline file's default export. The options given to `check` and `run` are
 * typed from the specs: `lr` below is a `number`, with no cast.
 *
 * @example
 * export default definePipeline({
 *   name: "demo", description: "…",
 *   options: { lr: { type: "number", default: 0.01, help: "learning rate" } },
 *   async run({ lr }) { console.log(lr.toFixed(3)); },
 * });
 */
export function definePipeline<const S extends Record<string, OptionSpec>>(
  p: PipelineDefinition<S>,
): Pipeline<OptionValues<S>> {
  return p as unknown as Pipeline<OptionValues<S>>;
}

/** A number option: `--name <number>`. */
export function numberOption<const D extends number | undefined = undefined>(
  help: string,
  dflt?: D,
): { type: "number"; default: D; help: string } {
  return { type: "number", default: dflt as D, help };
}

/** A string option: `--name <string>`. */
export function stringOption<const D extends string | undefined = undefined>(
  help: string,
  dflt?: D,
): { type: "string"; default: D; help: string } {
  return { type: "string", default: dflt as D, help };
}

/** A boolean flag, off unless given: `--name`. */
export function flagOption(help: string): { type: "boolean"; default: false; help: string } {
  return { type: "boolean", default: false, help };
}

export { TrainingError, UsageError };

/** The flag name of an option (`batchSize` → `batch-size`). */
export function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** The usage text of a pipeline. */
export function usage(p: Pipeline): string {
  const lines = [`usage: deno task pipeline ${p.name}.ts [flags]`, "", p.description, "", "flags:"];
  for (const [k, o] of Object.entries(p.options)) {
    const d = o.default === undefined ? "" : ` (default ${o.default})`;
    const flag = `--${kebab(k)}${o.type === "boolean" ? "" : " <" + o.type + ">"}`;
    lines.push(`  ${flag}  ${o.help}${d}`);
  }
  lines.push("  --plugin <file or URL>  import a plugin file first (repeatable)");
  lines.push("  --help  this text");
  return lines.join("\n");
}

const explicit = new WeakMap<Options, Set<string>>();

/** The options a user gave on the command line (not filled from defaults), by key. */
export function givenOptions(o: Options): Set<string> {
  return explicit.get(o) ?? new Set(Object.keys(o).filter((k) => o[k] !== undefined));
}

/** How the running pipeline was named on the command line (for the resume hint). */
export const invocation = { file: "" };

/** Parses `args` against the pipeline's options; throws UsageError on unknown or bad flags. */
export function parseOptions(p: Pipeline, args: string[]): Options | "help" {
  const spec: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    help: { type: "boolean" },
  };
  for (const [k, o] of Object.entries(p.options)) {
    spec[kebab(k)] = { type: o.type === "boolean" ? "boolean" : "string" };
    if (o.multiple && o.type === "string") spec[kebab(k)].multiple = true;
  }
  const { values, positionals } = parseFlags(args, spec);
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (values.help) return "help";
  const out: Options = {};
  const given = new Set<string>();
  explicit.set(out, given);
  for (const [k, o] of Object.entries(p.options)) {
    const raw = values[kebab(k)] as string | boolean | string[] | undefined;
    const v = Array.isArray(raw) ? raw.join(";") : raw;
    if (v !== undefined) given.add(k);
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
