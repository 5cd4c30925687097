/**
 * Test helper (not a test): ONNX's own operator test vectors from Debian's
 * `libonnx-testdata` (`<root>/test_<case>/model.onnx` plus `test_data_set_N/input_i.pb`,
 * `output_i.pb`). Kernel tests use it like this:
 *
 * ```ts
 * for (const dir of listVectors("test_conv_")) {
 *   Deno.test(basename(dir), async () => {
 *     const v = await loadVector(dir);
 *     const pads = attrInts(v.model.node, "pads", [0, 0, 0, 0]);
 *     // run the kernel on v.inputs, compare with v.outputs
 *   });
 * }
 * ```
 *
 * The root is `$ONNX_TESTDATA_DIR` when set, else /usr/share/libonnx-testdata/data/node.
 *
 * @module
 */

import {
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  opsetVersion,
  readOnnxFile,
  readTensorProtoFile,
  type ValueInfo,
} from "../onnx/read.ts";

/** Where Debian's package installs the test vectors. */
export const DEBIAN_TESTDATA_ROOT = "/usr/share/libonnx-testdata/data/node";

/** The node test root in use: `$ONNX_TESTDATA_DIR` if set, else the Debian path. */
export function onnxTestdataRoot(): string {
  let env: string | undefined;
  try {
    env = Deno.env.get("ONNX_TESTDATA_DIR");
  } catch {
    env = undefined; // no --allow-env
  }
  return env || DEBIAN_TESTDATA_ROOT;
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function run(cmd: string[]): { ok: boolean; text: string } {
  try {
    const out = new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
      .outputSync();
    const text = new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "";
    return { ok: out.success, text };
  } catch (e) {
    return { ok: false, text: (e as Error).message };
  }
}

function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

/**
 * Makes sure the test vectors exist and returns their root. When they are missing and the
 * root is the Debian path, runs `apt-get update` and `apt-get install -y libonnx-testdata`
 * (through `sudo -n` unless running as root). Throws one clear line when that fails.
 */
export function ensureOnnxTestdata(): string {
  const root = onnxTestdataRoot();
  if (isDir(root)) return root;
  if (root !== DEBIAN_TESTDATA_ROOT) {
    throw new Error(`ONNX_TESTDATA_DIR=${root} is not a directory`);
  }
  const prefix = isRoot() ? [] : ["sudo", "-n"];
  const env = ["env", "DEBIAN_FRONTEND=noninteractive"];
  // Another apt-get (a test file running beside this one) is waited for, not failed on.
  const apt = [...prefix, ...env, "apt-get", "-o", "DPkg::Lock::Timeout=600"];
  const update = run([...apt, "update"]);
  const install = run([...apt, "install", "-y", "libonnx-testdata"]);
  if (isDir(root)) return root;
  const why = install.ok ? "installed, but the directory is still missing" : install.text ||
    update.text;
  throw new Error(
    `ONNX test vectors missing: ${root} does not exist and ` +
      `'apt-get install -y libonnx-testdata' failed (${why}); install Debian's ` +
      `libonnx-testdata package or set ONNX_TESTDATA_DIR to a copy of onnx/backend/test/data/node`,
  );
}

/**
 * Test case directories (absolute paths, sorted by name) whose names match. A string
 * matches a name that starts with it, with or without the `test_` prefix (`"conv"` and
 * `"test_conv"` both match `test_conv_with_strides_padding` — and `test_convtranspose`;
 * add a trailing `_` or use a RegExp to be precise). A RegExp is tested against the name.
 */
export function listVectors(prefix: string | RegExp): string[] {
  const root = ensureOnnxTestdata();
  const match = typeof prefix === "string"
    ? (n: string) => n.startsWith(prefix) || n.startsWith(`test_${prefix}`)
    : (n: string) => {
      prefix.lastIndex = 0; // a /g or /y RegExp is stateful
      return prefix.test(n);
    };
  const names: string[] = [];
  for (const e of Deno.readDirSync(root)) {
    if (e.isDirectory && e.name.startsWith("test_") && match(e.name)) names.push(e.name);
  }
  names.sort();
  return names.map((n) => `${root}/${n}`);
}

/** A decoded input or output of a test vector. */
export interface VectorTensor {
  /** The graph input/output name it binds to. */
  name: string;
  /** Shape. */
  dims: number[];
  /** ONNX data type code. */
  dataType: number;
  /** Elements (typed array per data type, see `TensorData` in onnx/read.ts). */
  data: OnnxTensor["data"];
}

/** The model of a test vector: usually one node. */
export interface VectorModel {
  /** The graph's single node; throws (naming the case) when the graph has several. */
  readonly node: OnnxNode;
  /** Shorthand for `node.attributes`. */
  readonly attributes: OnnxNode["attributes"];
  /** All nodes (several for `_expanded` cases and a few others). */
  nodes: OnnxNode[];
  /** Opset version of the default ONNX domain. */
  opset: number;
  /** Graph inputs (what `inputs` binds to). */
  graphInputs: ValueInfo[];
  /** Graph outputs. */
  graphOutputs: ValueInfo[];
  /** The whole parsed model. */
  onnx: OnnxModel;
}

/** One `test_data_set_N`. */
export interface VectorSet {
  /** Inputs in graph order (input_0.pb, input_1.pb, ...). */
  inputs: VectorTensor[];
  /** Expected outputs in graph order. */
  outputs: VectorTensor[];
}

/** A loaded test case. `inputs`/`outputs` are those of `test_data_set_0`. */
export interface Vector extends VectorSet {
  /** Case name, e.g. `test_conv_with_strides_padding`. */
  name: string;
  /** The case directory. */
  dir: string;
  /** The parsed model. */
  model: VectorModel;
  /** Every `test_data_set_*` in order (sets[0] is `inputs`/`outputs`). */
  sets: VectorSet[];
}

function baseName(path: string): string {
  return path.replace(/[\\/]+$/, "").split(/[\\/]/).pop() ?? path;
}

function numbered(dir: string, stem: string): string[] {
  const found: { i: number; name: string }[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const m = e.name.match(new RegExp(`^${stem}_(\\d+)\\.pb$`));
    if (m) found.push({ i: Number(m[1]), name: e.name });
  }
  found.sort((a, b) => a.i - b.i);
  return found.map((f) => `${dir}/${f.name}`);
}

async function loadValues(
  files: string[],
  infos: ValueInfo[],
  caseName: string,
  what: string,
): Promise<VectorTensor[]> {
  const out: VectorTensor[] = [];
  for (let i = 0; i < files.length; i++) {
    const info = infos[i];
    const kind = info?.type?.kind ?? "tensor";
    if (kind !== "tensor") {
      throw new Error(
        `${caseName}: ${what} ${i} ('${info.name}') is a ${kind}, not a tensor; ` +
          `loadVector decodes tensors only`,
      );
    }
    const t = await readTensorProtoFile(files[i]);
    out.push({ name: info?.name ?? t.name, dims: t.dims, dataType: t.dataType, data: t.data });
  }
  return out;
}

/**
 * Loads a test case directory: the parsed model and every `test_data_set_*`. Throws one
 * line naming the case when a value is not a tensor (sequence/optional cases) or a file
 * does not decode.
 */
export async function loadVector(dir: string): Promise<Vector> {
  const name = baseName(dir);
  const onnx = await readOnnxFile(`${dir}/model.onnx`);
  const nodes = onnx.graph.nodes;
  const model: VectorModel = {
    get node(): OnnxNode {
      if (nodes.length !== 1) {
        throw new Error(`${name}: the graph has ${nodes.length} nodes; use model.nodes`);
      }
      return nodes[0];
    },
    get attributes() {
      return this.node.attributes;
    },
    nodes,
    opset: opsetVersion(onnx),
    graphInputs: onnx.graph.inputs,
    graphOutputs: onnx.graph.outputs,
    onnx,
  };
  const setDirs = [...Deno.readDirSync(dir)]
    .filter((e) => e.isDirectory && /^test_data_set_\d+$/.test(e.name))
    .map((e) => e.name)
    .sort((a, b) => Number(a.slice(14)) - Number(b.slice(14)))
    .map((n) => `${dir}/${n}`);
  if (setDirs.length === 0) throw new Error(`${name}: no test_data_set_* directory in ${dir}`);
  const sets: VectorSet[] = [];
  for (const sd of setDirs) {
    const inputs = await loadValues(numbered(sd, "input"), onnx.graph.inputs, name, "input");
    const outputs = await loadValues(numbered(sd, "output"), onnx.graph.outputs, name, "output");
    sets.push({ inputs, outputs });
  }
  return { name, dir, model, inputs: sets[0].inputs, outputs: sets[0].outputs, sets };
}
