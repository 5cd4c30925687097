/**
 * `--plugin <file or URL>` (repeatable, on `pipeline`, `retrain` and `predict`): imports a
 * module that registers plugins (with plugins/registry.ts) or ONNX codecs (with
 * onnx/codec.ts). A relative path is relative to the current directory. Refused with one
 * line (UsageError, exit 2): a missing file, a module that throws on import (a name that
 * is already registered included: the registry throws), and a module that registers
 * nothing. The files loaded are recorded in the version's options.json (as URLs), so
 * `--resume` and the retrain cycle load them again.
 *
 * Importing this module also registers every built-in plugin (choices.ts), so a plugin
 * that takes a built-in name is refused whatever the order.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { KINDS, names, type PluginKind } from "../plugins/registry.ts";
import { supportedOps } from "../onnx/codec.ts";
import { UsageError } from "./pipeline.ts";
import { oneLine } from "./cli_args.ts";
import "./choices.ts";

const loaded: string[] = [];

/** The `--plugin` files loaded so far in this process, as URLs, in order. */
export function loadedPlugins(): string[] {
  return [...loaded];
}

/**
 * Takes every `--plugin X` (and `--plugin=X`) out of `args`; `--` ends the search.
 *
 * @example
 * takePluginFlags(["intel.ts", "--plugin", "./median.ts", "--epochs", "1"]);
 * // { files: ["./median.ts"], rest: ["intel.ts", "--epochs", "1"] }
 */
export function takePluginFlags(args: readonly string[]): { files: string[]; rest: string[] } {
  const files: string[] = [], rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      rest.push(...args.slice(i));
      break;
    }
    if (a === "--plugin") {
      const v = args[++i];
      if (v === undefined || v === "") throw new UsageError("--plugin needs a file or URL");
      files.push(v);
    } else if (a.startsWith("--plugin=")) {
      const v = a.slice("--plugin=".length);
      if (!v) throw new UsageError("--plugin needs a file or URL");
      files.push(v);
    } else rest.push(a);
  }
  return { files, rest };
}

/** The URL a `--plugin` argument names: a URL as given, a path from the current directory. */
export function pluginUrl(file: string): string {
  if (/^(https?|file|jsr|npm):/.test(file)) return file;
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`--plugin ${file}: no such file`);
  return pathToFileURL(path).href;
}

function registered(): number {
  return (Object.keys(KINDS) as PluginKind[]).reduce((n, k) => n + names(k).length, 0) +
    supportedOps().length;
}

/**
 * Imports each plugin file in order (a file already loaded in this process is skipped) and
 * returns their URLs. `where` prefixes the messages (e.g. "--resume: options.json").
 */
export async function loadPlugins(files: readonly string[], where = ""): Promise<string[]> {
  const urls: string[] = [];
  const at = (file: string) => `${where ? where + ": " : ""}--plugin ${file}`;
  for (const file of files) {
    let url: string;
    try {
      url = pluginUrl(file);
    } catch (e) {
      throw new UsageError(`${where ? where + ": " : ""}${(e as Error).message}`);
    }
    urls.push(url);
    if (loaded.includes(url)) continue;
    const before = registered();
    try {
      await import(url);
    } catch (e) {
      throw new UsageError(`${at(file)}: ${oneLine(e)}`);
    }
    if (registered() === before) {
      throw new UsageError(
        `${at(file)} registers no plugin: it must call register() when it loads, importing ` +
          "this project's plugins/registry.ts by its real path (a copy or a symlinked path is " +
          "another registry)",
      );
    }
    loaded.push(url);
  }
  return urls;
}
