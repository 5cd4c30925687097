/**
 * The plugin registry. A plugin is `{ kind, name, create(options) }`; plugins are found by
 * kind and name, so a pipeline file or a hyper-parameter grid can say `optimizer: "adam"`
 * and a plugin author can add one file without touching the core.
 */

/** The kinds of plugin; each means one thing (see `KINDS`). */
export type PluginKind =
  | "pooling"
  | "optimizer"
  | "regularizer"
  | "layer"
  | "callback"
  | "stage"
  | "logger";

/** What a plugin of each kind is, as the error for a name used as the wrong kind says it. */
export const KINDS: Readonly<Record<PluginKind, string>> = {
  pooling: "a pooling layer",
  optimizer: "an optimizer (an Optimizer over parameters)",
  regularizer: "a gradient transform (a Link chained before an optimizer: l1, l2, clipping)",
  layer: "a layer to place in a network (dropout, batch norm)",
  callback: "a training callback that fit consults each epoch (early stopping)",
  stage: "a stream stage (a TransformStream factory)",
  logger: "a run logger (a Logger that receives the run's start, epochs, steps and end)",
};

/** A plugin: a named factory of one kind. */
export interface Plugin<O = Record<string, unknown>, T = unknown> {
  /** What it makes (see `KINDS`); names are unique per kind. */
  kind: PluginKind;
  /** The name it is found by (case-insensitive), e.g. "adam". */
  name: string;
  /** One line on what it does (shown when listing). */
  description?: string;
  /** Makes one instance from `options` (what `create(kind, name, options)` calls). */
  create(options: O): T;
  /**
   * The option names `create` accepts, when the plugin declares them: the command line
   * (`--pooling name:opt=v`) refuses any other name, listing these.
   */
  options?: readonly string[];
  /**
   * Checks `options` without making anything (throws a one-line Error when they are bad).
   * The command line calls it before any GPU work; without it, `create` is called once
   * on a dry run (so it must need no GPU and write nothing).
   */
  check?(options: O): void;
}

const plugins = new Map<string, Plugin>();
const key = (kind: string, name: string) => `${kind}:${name.toLowerCase()}`;

/**
 * Registers a plugin; a second plugin of the same kind and name is an error.
 *
 * @example
 * register({ kind: "pooling", name: "median", create: (o) => new MedianPool(o) });
 */
export function register<O, T>(p: Plugin<O, T>): Plugin<O, T> {
  const k = key(p.kind, p.name);
  if (plugins.has(k)) {
    throw new Error(
      `a ${p.kind} plugin named "${p.name}" is already registered; ` +
        `registered ${p.kind} plugins: ${names(p.kind).join(", ")}`,
    );
  }
  plugins.set(k, p as Plugin);
  return p;
}

/** Names of the registered plugins of a kind, sorted. */
export function names(kind: PluginKind): string[] {
  return [...plugins.values()].filter((p) => p.kind === kind).map((p) => p.name).sort();
}

/** The plugin of `kind` called `name`; an unknown name is an error listing what exists. */
export function find<O = Record<string, unknown>, T = unknown>(
  kind: PluginKind,
  name: string,
): Plugin<O, T> {
  const p = plugins.get(key(kind, name));
  if (!p) {
    const have = names(kind);
    const list = `registered ${kind} plugins: ${have.length ? have.join(", ") : "none"}`;
    const other = [...plugins.values()].find((q) => q.name.toLowerCase() === name.toLowerCase());
    if (other) {
      throw new Error(
        `"${name}" is a ${other.kind} plugin (${KINDS[other.kind]}), not a ${kind} plugin ` +
          `(${KINDS[kind]}); ${list}`,
      );
    }
    throw new Error(`no ${kind} plugin named "${name}"; ${list}`);
  }
  return p as Plugin<O, T>;
}

/** Finds a plugin by kind and name and creates it with `options`. */
export function create<T = unknown>(kind: PluginKind, name: string, options: object = {}): T {
  return find<object, T>(kind, name).create(options);
}

/** Removes a plugin (for tests). */
export function unregister(kind: PluginKind, name: string): boolean {
  return plugins.delete(key(kind, name));
}
