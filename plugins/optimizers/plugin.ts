/**
 * Builds an optimizer plugin from a link factory: `create(options)` resolves the named
 * regularizers (plugins of kind "regularizer", registered by plugins/regularizers/
 * grad_index.ts), puts them before the optimizer's own link(s), and returns an `Optimizer`.
 *
 * @example
 * import "./plugins/optimizers/index.ts";
 * const opt = create<Optimizer>("optimizer", "adam", {
 *   params: model.namedParameters(), lr: 1e-3,
 *   regularizers: [{ name: "clip_grad_norm", maxNorm: 5 }, { name: "l2", lambda: 1e-4, n: 60000 }],
 * });
 *
 * @module
 */
import { create, type Plugin } from "../registry.ts";
import { type Link, Optimizer, type ParamGroup, type ParamList } from "./chain.ts";

/** A regularizer in an optimizer's options: a registered name, a name with options, or a link. */
export type RegularizerSpec = string | ({ name: string } & Record<string, unknown>) | Link;

/** Options every optimizer plugin takes, besides its own. */
export interface OptimizerPluginOptions {
  /** The parameters, `[name, tensor]` pairs, or parameter groups `{ params, lr?, …hyper }`. */
  params: ParamList | readonly ParamGroup[];
  /** The base learning rate. */
  lr?: number;
  /** Links applied before the optimizer's own, in order (clipping first, then L2 …). */
  regularizers?: readonly RegularizerSpec[];
}

const isLink = (x: unknown): x is Link =>
  typeof x === "object" && x !== null && typeof (x as Link).update === "function";

/**
 * Turns regularizer specs into links through the registry. A name registered as another
 * kind (a layer such as "dropout") is an error saying so, and so is a regularizer plugin
 * whose `create` gives something other than gradient links.
 */
export function resolveRegularizers(specs: readonly RegularizerSpec[] = []): Link[] {
  return specs.flatMap((s) => {
    if (isLink(s)) return [s];
    const { name, ...opts } = typeof s === "string" ? { name: s } : s as { name: string };
    const made = [create<Link | Link[]>("regularizer", name, opts)].flat();
    if (!made.every(isLink)) {
      throw new Error(`regularizer plugin "${name}" did not return gradient links (Link)`);
    }
    return made;
  });
}

/** An optimizer plugin whose `create` builds `[…regularizers, …make(options)]`. */
export function optimizerPlugin<O>(
  name: string,
  description: string,
  defaultLr: number,
  make: (o: O) => Link | Link[],
): Plugin<OptimizerPluginOptions & O, Optimizer> {
  return {
    kind: "optimizer",
    name,
    description,
    create(options) {
      if (!options || !options.params) {
        throw new Error(
          `optimizer "${name}": options.params (the parameters to train) is required`,
        );
      }
      const { params, lr, regularizers, ...own } = options;
      const links = [...resolveRegularizers(regularizers), make(own as unknown as O)].flat();
      return new Optimizer(params, links, { lr: lr ?? defaultLr });
    },
  };
}
