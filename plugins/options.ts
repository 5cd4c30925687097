/** Shared option checking for plugins that take an options object. */

/** Throws when `opts` has a key not in `known`, naming the plugin and the accepted keys. */
export function checkOptions(
  plugin: string,
  opts: object,
  known: readonly string[],
  kind = "layer",
): void {
  const bad = Object.keys(opts).filter((k) => !known.includes(k));
  if (bad.length) {
    throw new Error(
      `${kind} "${plugin}": unknown option${bad.length > 1 ? "s" : ""} ${
        bad.map((k) => `"${k}"`).join(", ")
      }; accepted: ${known.join(", ")}`,
    );
  }
}
