/** Shared option checking for the layer regularizer plugins. */

/** Throws when `opts` has a key not in `known`, naming the plugin and the accepted keys. */
export function checkOptions(plugin: string, opts: object, known: readonly string[]): void {
  const bad = Object.keys(opts).filter((k) => !known.includes(k));
  if (bad.length) {
    throw new Error(
      `regularizer "${plugin}": unknown option${bad.length > 1 ? "s" : ""} ${
        bad.map((k) => `"${k}"`).join(", ")
      }; accepted: ${known.join(", ")}`,
    );
  }
}
