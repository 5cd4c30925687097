/**
 * Plugins chosen by name on the command line (and in a grid): parsing a choice
 * (`lp:p=2`, `l1=1e-5,clip=1.0`, `patience=3,monitor=TestLoss`), checking it against the
 * registry before any GPU work (unknown name, unknown option or a bad value: a UsageError
 * of one line that lists the known names), and turning it into what a run uses.
 *
 * A choice is `name[:opt=v,opt=v…]`. Items are separated by "," — or by "+", which is what
 * a `key=a,b` grid value needs, since "," separates its values there:
 * `--grid "pooling=max,lp:p=3+kernel=2"`. Option names are camelCased (`ceil_mode` →
 * `ceilMode`) and values typed as the grid types them (numbers, true/false, strings).
 *
 * Importing this module registers every built-in plugin (pooling, optimizers, regularizers,
 * layers, callbacks, loggers), so `names(kind)` lists them all.
 */
import "../plugins/pooling/index.ts";
import "../plugins/optimizers/index.ts";
import "../plugins/regularizers/index.ts";
import "../plugins/layers/index.ts";
import "../plugins/callbacks/index.ts";
import "../plugins/loggers/index.ts";
import type { Module } from "../core/nn/module.ts";
import { create, find, names, type Plugin, type PluginKind } from "../plugins/registry.ts";
import type { RegularizerSpec } from "../plugins/optimizers/plugin.ts";
import type { EarlyStopping } from "../plugins/callbacks/early_stopping.ts";
import type { PoolFactory, PoolWindow } from "../models/nets.ts";
import type { HValue } from "../stages/evaluate.ts";
import { parseGridValue } from "./grid.ts";
import { UsageError } from "./pipeline.ts";
import { oneLine } from "./cli_args.ts";
import { MONITORED } from "./fit.ts";

/** A plugin named with its options, as a flag or a grid value gives it. */
export interface Choice {
  /** The plugin's name (an alias already resolved). */
  name: string;
  /** Its options, camelCased keys. */
  options: Record<string, HValue>;
}

/** Short names of pooling plugins (one table): `--pooling max` is "maxpool". */
export const POOLING_ALIASES: Readonly<Record<string, string>> = {
  max: "maxpool",
  average: "avgpool",
  lp: "lppool",
};

/**
 * Short keys of `--regularizer`: `l1=λ`, `l2=λ`, `clip=maxNorm`, `weight_decay=λ`, each the
 * registered regularizer and the option its value sets.
 */
export const REGULARIZER_KEYS: Readonly<Record<string, { name: string; option: string }>> = {
  l1: { name: "l1", option: "lambda" },
  l2: { name: "l2", option: "lambda" },
  clip: { name: "clip_grad_norm", option: "maxNorm" },
  weight_decay: { name: "weight_decay", option: "weightDecay" },
};

const WINDOW = ["kernel", "stride", "padding", "dilation", "ceilMode"];

/** Options of the built-in plugins that do not declare theirs (`Plugin.options`). */
const BUILTIN_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  "pooling:maxpool": WINDOW,
  "pooling:avgpool": [...WINDOW, "countIncludePad"],
  "pooling:lppool": [...WINDOW, "p"],
  "pooling:l2pool": WINDOW,
  "pooling:globalavgpool": [],
  "pooling:globalmaxpool": [],
  "pooling:adaptiveavgpool": ["output"],
  "regularizer:l1": ["lambda", "n"],
  "regularizer:l2": ["lambda", "n"],
  "regularizer:clip_grad_norm": ["maxNorm"],
  "regularizer:weight_decay": ["weightDecay", "lambda", "lrScaled"],
  "callback:early_stopping": ["monitor", "mode", "patience", "minDelta", "restoreBest"],
};

const nonNegative = (o: Record<string, HValue>, keys: string[], positive = false) => {
  for (const k of keys) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || (positive ? v <= 0 : v < 0)) {
      throw new Error(`${k} must be a number ${positive ? "> 0" : "≥ 0"}, got ${v}`);
    }
  }
};

/** Value checks of built-in plugins whose `create` would accept a value that fails later. */
const BUILTIN_CHECKS: Readonly<Record<string, (o: Record<string, HValue>) => void>> = {
  "pooling:lppool": (o) => {
    if (o.p !== undefined && !(typeof o.p === "number" && o.p >= 1 && Number.isFinite(o.p))) {
      throw new Error(`p must be a number ≥ 1, got ${o.p}`);
    }
  },
  "regularizer:l1": (o) => nonNegative(o, ["lambda"]),
  "regularizer:l2": (o) => nonNegative(o, ["lambda"]),
  "regularizer:clip_grad_norm": (o) => nonNegative(o, ["maxNorm"], true),
  "regularizer:weight_decay": (o) => nonNegative(o, ["weightDecay", "lambda"]),
  "callback:early_stopping": (o) => {
    if (o.monitor !== undefined && !MONITORED.includes(String(o.monitor))) {
      throw new Error(`monitor ${o.monitor}: known metrics are ${MONITORED.join(", ")}`);
    }
  },
};

/** `ceil_mode` → `ceilMode`. */
const camel = (k: string) => k.replace(/[-_]([a-z])/g, (_, c) => c.toUpperCase());

/** Splits a choice into its items at "," and at "+" not starting a number's exponent. */
export function choiceItems(text: string): string[] {
  return text.split(/,|\+(?![\d.])/).map((s) => s.trim()).filter((s) => s !== "");
}

/** `key=value` → [camelCased key, typed value]. */
function option(flag: string, item: string): [string, HValue] {
  const eq = item.indexOf("=");
  if (eq < 1 || eq === item.length - 1) {
    throw new UsageError(`${flag}: expected option=value, got "${item}"`);
  }
  return [camel(item.slice(0, eq).trim()), parseGridValue(item.slice(eq + 1))];
}

/**
 * Parses `name[:opt=v,…]` (items after the first are options too). With `defaultName`, a
 * text that starts with an option (`patience=3,…`) names that plugin.
 */
export function parseChoice(flag: string, text: string, defaultName?: string): Choice {
  const [first = "", ...rest] = choiceItems(text);
  const colon = first.indexOf(":");
  const eq = first.indexOf("=");
  let name: string, head: string[];
  if (colon >= 0 && (eq < 0 || colon < eq)) {
    name = first.slice(0, colon).trim();
    head = first.slice(colon + 1).trim() ? [first.slice(colon + 1)] : [];
  } else if (eq >= 0 && defaultName) [name, head] = [defaultName, [first]];
  else [name, head] = [first, []];
  if (!name) throw new UsageError(`${flag}: no plugin name in "${text}"`);
  return { name, options: Object.fromEntries([...head, ...rest].map((i) => option(flag, i))) };
}

/** The names a flag accepts, as its error lists them (aliases first). */
function known(kind: PluginKind, aliases: Record<string, string> = {}): string {
  const have = names(kind);
  const short = Object.entries(aliases).filter(([, n]) => have.includes(n));
  const list = [...short.map(([a, n]) => `${a} (${n})`), ...have];
  return `${list.length ? list.join(", ") : "none registered"} (--plugin FILE registers more)`;
}

/** The option names `p` accepts, when known. */
function accepted(p: Plugin): readonly string[] | undefined {
  return p.options ?? BUILTIN_OPTIONS[`${p.kind}:${p.name.toLowerCase()}`];
}

/**
 * The registered plugin a choice names, its options checked against the names it accepts
 * (when known); UsageError listing the known names or options otherwise.
 */
export function resolvePlugin(
  flag: string,
  kind: PluginKind,
  c: Choice,
  aliases?: Record<string, string>,
): Plugin {
  const name = aliases?.[c.name.toLowerCase()] ?? c.name;
  let p: Plugin;
  try {
    p = find(kind, name);
  } catch {
    throw new UsageError(`${flag}: no ${kind} plugin "${c.name}"; known: ${known(kind, aliases)}`);
  }
  const ok = accepted(p);
  const bad = ok ? Object.keys(c.options).filter((k) => !ok.includes(k)) : [];
  if (bad.length) {
    throw new UsageError(
      `${flag}: ${kind} plugin "${p.name}" has no option ${bad.map((b) => `"${b}"`).join(", ")}` +
        `; its options: ${ok!.length ? ok!.join(", ") : "none"}`,
    );
  }
  return p;
}

/**
 * Checks `options` with the plugin's `check`, else by one dry-run `create` (the result
 * disposed when it can be); a plugin whose `create` needs the GPU is checked when made.
 */
export function dryRun(
  flag: string,
  p: Plugin,
  options: Record<string, unknown>,
  what: (made: unknown) => void = () => {},
): void {
  try {
    BUILTIN_CHECKS[`${p.kind}:${p.name.toLowerCase()}`]?.(options as Record<string, HValue>);
    if (p.check) return void p.check(options);
    const made = p.create(options);
    what(made);
    (made as { dispose?: () => void } | undefined)?.dispose?.();
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if (/GPU not initialised/.test(oneLine(e))) return;
    const why = oneLine(e).replace(new RegExp(`^${p.name}: `, "i"), "");
    throw new UsageError(`${flag}: ${p.kind} plugin "${p.name}": ${why}`);
  }
}

/** Whether a choice's text turns the feature off. */
export function isOff(text: string | undefined): boolean {
  return text === undefined || ["", "none", "off"].includes(text.trim().toLowerCase());
}

// --- pooling ---------------------------------------------------------------------------

export type { PoolFactory };

/** Only the window options a plugin accepts (all of them when it does not say). */
function windowFor(p: Plugin, window: PoolWindow): Record<string, unknown> {
  const ok = accepted(p);
  return Object.fromEntries(Object.entries(window).filter(([k]) => !ok || ok.includes(k)));
}

/** Checks `--pooling <text>` (exit 2 on an unknown name or a bad option). */
export function checkPooling(text: string, flag = "--pooling"): void {
  const c = parseChoice(flag, text);
  const p = resolvePlugin(flag, "pooling", c, POOLING_ALIASES as Record<string, string>);
  dryRun(flag, p, { ...windowFor(p, { kernel: 2 }), ...c.options });
}

/**
 * The pooling factory `--pooling <text>` names: the builder's window (kernel, stride) with
 * the choice's options over it.
 *
 * @example
 * const pool = poolingFactory("lp:p=3"); // pool({ kernel: 3, stride: 3 }) is an LpPool2d
 */
export function poolingFactory(text: string, flag = "--pooling"): PoolFactory {
  const c = parseChoice(flag, text);
  const p = resolvePlugin(flag, "pooling", c, POOLING_ALIASES as Record<string, string>);
  return (window) => create<Module>("pooling", p.name, { ...windowFor(p, window), ...c.options });
}

// --- regularizers ----------------------------------------------------------------------

/**
 * Parses `--regularizer` into the optimizer's regularizer specs, in order: short keys
 * (`l1=1e-5`, `clip=1.0`) are one regularizer each; `name` or `name:opt=v` starts a
 * named one, and the `opt=v` items after it (not short keys) are its options.
 */
export function parseRegularizers(text: string, flag = "--regularizer"): Choice[] {
  if (isOff(text)) return [];
  const out: Choice[] = [];
  let current: Choice | undefined;
  for (const item of choiceItems(text)) {
    const colon = item.indexOf(":"), eq = item.indexOf("=");
    const key = eq > 0 && (colon < 0 || eq < colon) ? item.slice(0, eq).trim() : undefined;
    const short = key !== undefined ? REGULARIZER_KEYS[key.toLowerCase()] : undefined;
    if (short) {
      const [, v] = option(flag, item);
      out.push({ name: short.name, options: { [short.option]: v } });
      current = undefined;
    } else if (key !== undefined) {
      if (!current) {
        throw new UsageError(
          `${flag}: "${key}" is not a short key (${Object.keys(REGULARIZER_KEYS).join(", ")}); ` +
            `name the plugin: name:${key}=…`,
        );
      }
      const [k, v] = option(flag, item);
      current.options[k] = v;
    } else {
      current = parseChoice(flag, item);
      out.push(current);
    }
  }
  return out;
}

/** The checked regularizer specs of `--regularizer <text>` (exit 2 on bad input). */
export function regularizerSpecs(
  text: string | undefined,
  flag = "--regularizer",
): RegularizerSpec[] {
  if (text === undefined) return [];
  return parseRegularizers(text, flag).map((c) => {
    const p = resolvePlugin(flag, "regularizer", c);
    dryRun(flag, p, c.options, (made) => {
      const links = [made].flat();
      if (!links.every((l) => typeof (l as { update?: unknown })?.update === "function")) {
        throw new Error("its create() did not return gradient links (Link)");
      }
    });
    return { name: p.name, ...c.options };
  });
}

// --- early stopping --------------------------------------------------------------------

/**
 * The callback `--early-stopping <text>` makes, or undefined for "none": the built-in
 * "early_stopping" unless a name is given (`mine:patience=2`). Its `mode` follows the
 * monitored metric (min for a loss, max otherwise) unless given.
 */
export function earlyStoppingFactory(
  text: string | undefined,
  flag = "--early-stopping",
): (() => EarlyStopping) | undefined {
  if (isOff(text)) return undefined;
  const c = parseChoice(flag, text!, "early_stopping");
  const p = resolvePlugin(flag, "callback", c);
  const options = { ...c.options };
  if (p.name === "early_stopping" && options.mode === undefined) {
    options.mode = String(options.monitor ?? "TestLoss").endsWith("Loss") ? "min" : "max";
  }
  dryRun(flag, p, options);
  return () => create<EarlyStopping>("callback", p.name, options);
}
