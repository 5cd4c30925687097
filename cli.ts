/**
 * `deno task pipeline <file> [flags]`: runs `pipelines/<file>`, or any path or URL to a
 * pipeline file. Exit codes: 0 success, 1 training failed, 2 bad usage or bad input,
 * 3 the output folder is locked by a live run, 130/143 interrupted (checkpoint written).
 * `--plugin <file or URL>` (repeatable, anywhere) imports a plugin file before the flags are
 * read, so they may name its plugins, and `--help` lists them.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  invocation,
  parseOptions,
  type Pipeline,
  TrainingError,
  usage,
  UsageError,
} from "./training/pipeline.ts";
import { DataError } from "./stages/types.ts";
import { WorkerNoSpaceError } from "./core/errors.ts";
import { InterruptedError } from "./training/interrupt.ts";
import { LockHeldError } from "./training/lock.ts";
import { loadPlugins, takePluginFlags } from "./training/plugin_files.ts";
import { pluginHelp } from "./training/run_plugins.ts";

const USAGE = "usage: deno task pipeline <file.ts> [--plugin file] [flags]   " +
  "(e.g. linear_regression.ts --help)";

/** The URL of a pipeline file given as a path, a name in `pipelines/`, or a URL. */
export function locate(file: string): string {
  if (/^(https?|file):/.test(file)) return file;
  const here = new URL(".", import.meta.url).pathname;
  for (const p of [resolve(file), resolve(here, "pipelines", file)]) {
    if (existsSync(p)) return pathToFileURL(p).href;
  }
  throw new UsageError(`no pipeline file ${file} (looked in . and pipelines/)`);
}

/** Imports a pipeline file's `definePipeline` export (UsageError when it has none). */
export async function loadPipeline(file: string): Promise<Pipeline> {
  const mod = await import(locate(file));
  const pipeline = mod.default as Pipeline | undefined;
  if (!pipeline?.run) throw new UsageError(`${file} has no default export from definePipeline()`);
  return pipeline;
}

/**
 * Maps an error to its exit code, printing one line (and, for bad usage, the usage line):
 * 2 bad usage or input, 3 a held lock, 130/143 interrupted, 1 anything else.
 */
export function exitCodeOf(e: unknown, usageLine: string): number {
  if (e instanceof UsageError || e instanceof DataError) {
    console.error(`error: ${e.message}\n${usageLine}`);
    return 2;
  }
  if (e instanceof LockHeldError) {
    console.error(`error: ${e.message}`);
    return 3;
  }
  if (e instanceof InterruptedError) {
    console.error(e.message);
    return e.exitCode;
  }
  if (e instanceof TrainingError) {
    console.error(`training failed: ${e.message}`);
    return e instanceof WorkerNoSpaceError ? e.exitCode : 1;
  }
  console.error(`error: ${(e as Error).message ?? e}`);
  return 1;
}

async function main(argv: string[]): Promise<number> {
  let pipeline: Pipeline | undefined;
  try {
    const { files, rest: args } = takePluginFlags(argv);
    const [file, ...rest] = args;
    if (!file || file === "--help" || file === "-h") {
      console.log(USAGE);
      return file ? 0 : 2;
    }
    invocation.file = file;
    pipeline = await loadPipeline(file);
    await loadPlugins(files);
    const opts = parseOptions(pipeline, rest);
    if (opts === "help") {
      console.log(`${usage(pipeline)}\n\n${pluginHelp()}`);
      return 0;
    }
    await pipeline.run(opts);
    return 0;
  } catch (e) {
    const line = pipeline ? usage(pipeline).split("\n")[0] + "   (--help lists the flags)" : USAGE;
    return exitCodeOf(e, line);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
