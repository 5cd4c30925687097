/**
 * Transfer learning from an imported VGG-style net: keep its convolutional part (frozen),
 * put a new trainable head on top.
 *
 * Heads:
 * - "flatten" (default): the feature map (4×4×512 = 8192 at 150×150 for VGG16) is
 *   flattened into new layers `classifier.*`: Linear(features, hidden…) + ReLU + Dropout,
 *   then Linear(…, classes).
 * - "torchvision": AdaptiveAvgPool2d(7) (4×4 → 7×7 at 150×150) and the original
 *   classifier (fc6 25088→4096 is 411 MB; the engine's `linear` splits weights larger
 *   than one storage binding into row blocks), its last layer replaced by a new
 *   Linear(…, classes); the original fc layers stay frozen unless `trainClassifier`.
 *
 * Names stay PyTorch's: `features.N.*`, `classifier.N.*`. The frozen layers' parameters
 * have `requiresGrad = false`, run without autograd and always in eval mode;
 * `trainableParameters()` is what the optimizer gets. `unfreezeLastBlock` trains the
 * convolutions after the second-to-last max pool too (VGG16: features.24–28).
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { Flatten, ReLU } from "../core/nn/activation.ts";
import { Dropout } from "../core/nn/dropout.ts";
import { Linear } from "../core/nn/linear.ts";
import { Module } from "../core/nn/module.ts";
import { fromArray, type Tensor, tidy } from "../core/tensor.ts";
import { AdaptiveAvgPool2d } from "../plugins/pooling/adaptive.ts";
import { MaxPool2d } from "../plugins/pooling/max.ts";
import { Container, type GraphStep, OnnxNet, runChain } from "../onnx/graph_module.ts";
import { FlattenLayer, GemmLayer, ReshapeLayer } from "../onnx/layers.ts";
import { AvgPool2d } from "../plugins/pooling/average.ts";
import { GlobalAvgPool2d } from "../plugins/pooling/global.ts";

/** Options of `transferModel`. */
export interface TransferOptions {
  /** Number of classes of the new head. */
  classes: number;
  /** "flatten" (default) or "torchvision" (adaptive pool to 7×7 + the original classifier). */
  head?: "flatten" | "torchvision";
  /** Hidden widths of the "flatten" head (default [256]). */
  hidden?: number[];
  /** Dropout probability in the new head (default 0.5). */
  dropout?: number;
  /** Input [channels, height, width] (default [3, 150, 150]). */
  inputSize?: readonly [number, number, number];
  /** Also train the last convolutional block (default false). */
  unfreezeLastBlock?: boolean;
  /** "torchvision" head: train the original fc layers too (default false). */
  trainClassifier?: boolean;
  /** Seed of the new layers' initialisation (default 0). */
  seed?: number;
}

/** The steps of the convolutional part: everything before the flatten, minus a final pool. */
function featureSteps(net: OnnxNet): GraphStep[] {
  if (!net.chain) throw new Error(`${net.file}: transfer learning needs a chain graph (VGG-style)`);
  const f = net.steps.findIndex((s) =>
    s.module instanceof FlattenLayer || s.module instanceof ReshapeLayer
  );
  if (f <= 0) {
    throw new Error(`${net.file}: no flatten between a convolutional part and a classifier`);
  }
  let end = f;
  const before = net.steps[f - 1].module;
  if (
    before instanceof AvgPool2d || before instanceof GlobalAvgPool2d ||
    before instanceof AdaptiveAvgPool2d
  ) {
    end = f - 1;
  }
  return net.steps.slice(0, end);
}

function local(path: string): string {
  return path.startsWith("features.") ? path.slice("features.".length) : path.replace(/\./g, "_");
}

/**
 * A frozen backbone plus a new head (see the module comment). `forward` runs all of it;
 * `forwardFrozen` / `forwardHead` split it where cached or external features come in.
 */
export class TransferNet extends Module {
  /** Every layer of the convolutional part (names `features.N`). */
  readonly features: Container;
  /** How many of `features.layers` are frozen (the rest train). */
  readonly frozenCount: number;
  /** Adaptive pool to 7×7 ("torchvision" head) or null. */
  readonly avgpool: AdaptiveAvgPool2d | null;
  /** Flattens the feature map to [N, C·H·W] before the classifier (name `flatten`). */
  readonly flatten: Flatten;
  /**
   * The head (`classifier.N`): new Linear + ReLU + Dropout layers ("flatten"), or the original
   * fc layers with a new last Linear ("torchvision").
   */
  readonly classifier: Container;
  /** The value name in the source graph where the frozen part ends (for cutting the file). */
  readonly frozenOutput: string;
  /** Shape of one frozen feature map [C, H, W] for `inputSize`. */
  readonly featureShape: number[];
  /** Input [channels, height, width] the shapes were measured at (default [3, 150, 150]). */
  readonly inputSize: readonly [number, number, number];
  /** The imported net this came from (its source model cuts the frozen sub-graph). */
  readonly base: OnnxNet;
  readonly #frozenModules: Module[];

  /** Takes over `base`'s layers (disposes the unused); throws on a graph that is not VGG-style. */
  constructor(base: OnnxNet, opts: TransferOptions) {
    super();
    this.base = base;
    this.inputSize = opts.inputSize ?? [3, 150, 150];
    const steps = featureSteps(base);
    this.features = this.child(
      "features",
      new Container(steps.map((s) => [local(s.path), s.module])),
    );
    let cut = steps.length;
    if (opts.unfreezeLastBlock) {
      const pools = steps.map((s, k) => (s.module instanceof MaxPool2d ? k : -1)).filter((k) =>
        k >= 0
      );
      if (pools.length < 2) {
        throw new Error(`${base.file}: no last block to unfreeze (fewer than 2 max pools)`);
      }
      cut = pools[pools.length - 2] + 1;
    }
    this.frozenCount = cut;
    this.frozenOutput = cut > 0 ? steps[cut - 1].output : base.inputName;
    this.featureShape = noGrad(() =>
      tidy(() => {
        const x = fromArray(new Float32Array(this.inputSize.reduce((p, d) => p * d, 1)), [
          1,
          ...this.inputSize,
        ]);
        return [...runChain(this.features.layers.slice(0, cut), x).shape.slice(1)];
      })
    );
    const endShape = noGrad(() =>
      tidy(() => {
        const x = fromArray(new Float32Array(this.inputSize.reduce((p, d) => p * d, 1)), [
          1,
          ...this.inputSize,
        ]);
        return [...this.features.forward(x).shape.slice(1)];
      })
    );
    const seed = opts.seed ?? 0;
    const p = opts.dropout ?? 0.5;
    const used = new Set<Module>(steps.map((s) => s.module));
    this.flatten = new Flatten();
    if ((opts.head ?? "flatten") === "torchvision") {
      this.avgpool = this.child("avgpool", new AdaptiveAvgPool2d({ output: 7 }));
      this.child("flatten", this.flatten);
      const old = base.steps.filter((s) => s.path.startsWith("classifier."));
      const lastFc = old.map((s) => s.module).filter((m) =>
        m instanceof GemmLayer || m instanceof Linear
      ).pop();
      if (!lastFc) throw new Error(`${base.file}: no classifier layers to reuse`);
      const entries: [string, Module][] = [];
      for (const s of old) {
        const name = s.path.slice("classifier.".length);
        if (s.module === lastFc) {
          const inF = (lastFc as GemmLayer).inFeatures;
          entries.push([name, new Linear(inF, opts.classes, { seed })]);
        } else {
          entries.push([name, s.module]);
          used.add(s.module);
          if (!opts.trainClassifier) {
            for (const t of s.module.parameters()) t.requiresGrad = false;
          }
        }
      }
      this.classifier = this.child("classifier", new Container(entries));
      this.#frozenModules = opts.trainClassifier
        ? []
        : old.map((s) => s.module).filter((m) => m !== lastFc);
    } else {
      this.avgpool = null;
      this.child("flatten", this.flatten);
      let width = endShape.reduce((a, b) => a * b, 1);
      const entries: [string, Module][] = [];
      for (const h of opts.hidden ?? [256]) {
        entries.push([
          String(entries.length),
          new Linear(width, h, { seed: seed + entries.length }),
        ]);
        entries.push([String(entries.length), new ReLU()]);
        entries.push([String(entries.length), new Dropout(p, { seed: seed + entries.length })]);
        width = h;
      }
      entries.push([
        String(entries.length),
        new Linear(width, opts.classes, { seed: seed + entries.length }),
      ]);
      this.classifier = this.child("classifier", new Container(entries));
      this.#frozenModules = [];
    }
    // The imported layers that the new model does not use free their GPU memory.
    for (const s of base.steps) if (!used.has(s.module)) s.module.dispose();
    for (const m of this.features.layers.slice(0, cut)) {
      for (const t of m.parameters()) t.requiresGrad = false;
    }
    this.#frozenModules.push(...this.features.layers.slice(0, cut));
    this.train();
  }

  /** Training mode for the trainable layers; frozen layers always stay in eval mode. */
  override train(on = true): this {
    super.train(on);
    for (const m of this.#frozenModules ?? []) m.eval();
    return this;
  }

  /** The parameters the optimizer should get, with their dotted names. */
  trainableParameters(): [string, Tensor][] {
    return this.namedParameters().filter(([, t]) => t.requiresGrad);
  }

  /** The frozen parameters, with their dotted names. */
  frozenParameters(): [string, Tensor][] {
    return this.namedParameters().filter(([, t]) => !t.requiresGrad);
  }

  /** The frozen layers as one module (input [N, C, H, W] → features). */
  frozenPart(): Container {
    const c = new Container();
    this.features.layers.slice(0, this.frozenCount).forEach((m, k) =>
      c.add(this.features.names[k], m)
    );
    return c;
  }

  /** The frozen part's output for x, without autograd. */
  forwardFrozen(x: Tensor): Tensor {
    return noGrad(() => runChain(this.features.layers.slice(0, this.frozenCount), x));
  }

  /** Everything after the frozen part: trainable conv layers (if any) and the head. */
  forwardHead(f: Tensor): Tensor {
    let y = runChain(this.features.layers.slice(this.frozenCount), f);
    if (this.avgpool) y = this.avgpool.forward(y);
    y = this.flatten.forward(y);
    return this.classifier.forward(y);
  }

  /** x [N, C, H, W] → [N, classes]: the frozen part, then `forwardHead`. */
  forward(x: Tensor): Tensor {
    return this.forwardHead(this.forwardFrozen(x));
  }

  /** For export: the layers in order with their names. */
  exportLayers(): (readonly [string, Module])[] {
    return [
      ["features", this.features],
      ...(this.avgpool ? [["avgpool", this.avgpool] as const] : []),
      ["flatten", this.flatten],
      ["classifier", this.classifier],
    ];
  }
}

/**
 * Builds a transfer-learning model from an imported VGG-style net (which it takes over:
 * unused imported layers are disposed).
 *
 * @example
 * const base = await importOnnxFile("vgg16.onnx");
 * const model = transferModel(base, { classes: 6, hidden: [256] });
 * const opt = create<Optimizer>("optimizer", "adam", { params: model.trainableParameters(), lr: 1e-3 });
 */
export function transferModel(base: OnnxNet, opts: TransferOptions): TransferNet {
  return new TransferNet(base, opts);
}
