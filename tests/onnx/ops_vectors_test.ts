/**
 * ONNX's own operator test vectors (Debian's `libonnx-testdata`) run through our ops:
 * every `test_data_set_*` of each case, outputs compared elementwise with a relative error
 * ≤ 1e-4 (absolute ≤ 1e-5 near zero). Besides the `node/` cases this also runs the
 * `pytorch-converted/` and `pytorch-operator/` cases of the same package whose graphs use
 * only mapped ops (they are older opsets, e.g. Softmax-1 with its 2-D flattening).
 *
 * Cases whose inputs or outputs are not float32 are skipped and listed; each test prints
 * how many vectors it ran and asserts a minimum, so it cannot pass by running none.
 */
import { assert } from "../assert.ts";
import { noGrad } from "../../core/autograd.ts";
import { initGpu } from "../../core/gpu.ts";
import * as E from "../../core/ops/elementwise.ts";
import { matmul } from "../../core/ops/matmul.ts";
import { max, mean, sum } from "../../core/ops/reduce.ts";
import { reshape, transpose } from "../../core/ops/shape.ts";
import { logSoftmax, softmax } from "../../core/ops/softmax.ts";
import { fromArray, type Tensor, tidy } from "../../core/tensor.ts";
import {
  attrFloat,
  attrInt,
  attrInts,
  DataType,
  dataTypeName,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  opsetVersion,
  readOnnxFileSync,
  toFloat32,
} from "../../onnx/read.ts";
import { ensureOnnxTestdata, listVectors, loadVector, type Vector } from "../onnx_vectors.ts";

// ---- the cases ----------------------------------------------------------------------

const NODE_ROOT = ensureOnnxTestdata();

/** Sibling folders of the node tests in the same package (absent under ONNX_TESTDATA_DIR). */
const EXTRA_DIRS = NODE_ROOT.match(/[\\/]node[\\/]?$/)
  ? ["pytorch-converted", "pytorch-operator"].map((d) => NODE_ROOT.replace(/node[\\/]?$/, d))
  : [];
const EXTRA = EXTRA_DIRS.filter((d) => {
  try {
    return Deno.statSync(d).isDirectory;
  } catch {
    return false;
  }
});

/** Names of node cases that may concern the ops under test (the model decides). */
const NODE_NAMES =
  /^test_(add|sub|mul|div|pow|exp|log|sqrt|neg|abs|relu|sigmoid|tanh|atan|softmax|logsoftmax|matmul|gemm)(_|$)/;

interface Case {
  dir: string;
  name: string;
  model: OnnxModel;
  ops: string[];
}

/** Models the reader could not parse (a reader bug, or a damaged package). */
const unreadable: string[] = [];

function caseOf(dir: string): Case | null {
  let model: OnnxModel;
  try {
    model = readOnnxFileSync(`${dir}/model.onnx`);
  } catch (e) {
    unreadable.push(`${dir}: ${(e as Error).message}`); // reported by the last test
    return null;
  }
  const name = dir.split(/[\\/]/).pop()!;
  const where = dir.includes("/pytorch-") ? dir.split(/[\\/]/).slice(-2).join("/") : name;
  return { dir, name: where, model, ops: model.graph.nodes.map((n) => n.opType) };
}

const CASES: Case[] = [
  ...listVectors(NODE_NAMES),
  ...EXTRA.flatMap((d) =>
    [...Deno.readDirSync(d)].filter((e) => e.isDirectory).map((e) => `${d}/${e.name}`).sort()
  ),
].map(caseOf).filter((c): c is Case => c !== null);

// ---- mapping ONNX nodes to our ops ---------------------------------------------------

/** A value in the interpreter: a GPU tensor, or host integers (e.g. int64 axes). */
type Value = Tensor | { ints: number[]; dims: number[] };

const isTensor = (v: Value | undefined): v is Tensor => !!v && "buffer" in v;

function hostValue(t: OnnxTensor): Value {
  if (t.dataType === DataType.FLOAT) return fromArray(toFloat32(t), t.dims);
  if ([DataType.INT64, DataType.INT32].includes(t.dataType as 6 | 7)) {
    return { ints: Array.from(t.data as ArrayLike<number | bigint>, Number), dims: t.dims };
  }
  throw new Skip(`a ${dataTypeName(t.dataType)} constant`);
}

/** Thrown to skip a case (with the reason printed). */
class Skip extends Error {}

const UNARY: Record<string, (a: Tensor) => Tensor> = {
  Relu: E.relu,
  Sigmoid: E.sigmoid,
  Tanh: E.tanh,
  Atan: E.atan,
  Exp: E.exp,
  Log: E.log,
  Sqrt: E.sqrt,
  Neg: E.neg,
  Abs: E.abs,
};

const BINARY: Record<string, (a: Tensor, b: Tensor) => Tensor> = {
  Add: E.add,
  Sub: E.sub,
  Mul: E.mul,
  Div: E.div,
  Pow: E.pow,
};

/** Softmax / LogSoftmax with the axis semantics of the model's opset. */
function softmaxNode(x: Tensor, node: OnnxNode, opset: number): Tensor {
  const f = node.opType === "Softmax" ? softmax : logSoftmax;
  const rank = x.shape.length;
  if (opset >= 13) return f(x, attrInt(node, "axis", -1));
  // Before opset 13 the input is coerced to 2-D [∏ dims before axis, ∏ dims from axis].
  const ax = attrInt(node, "axis", 1);
  const a = ax < 0 ? ax + rank : ax;
  const outer = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
  return reshape(f(reshape(x, [outer, x.size / outer]), 1), x.shape);
}

/** Gemm: alpha·op(A)·op(B) + beta·C (C optional, broadcast to [M, N]). */
function gemmNode(a: Tensor, b: Tensor, c: Tensor | undefined, node: OnnxNode): Tensor {
  const alpha = attrFloat(node, "alpha", 1), beta = attrFloat(node, "beta", 1);
  let y = matmul(a, b, {
    transA: attrInt(node, "transA", 0) === 1,
    transB: attrInt(node, "transB", 0) === 1,
  });
  if (alpha !== 1) y = E.mul(y, alpha);
  if (c && beta !== 0) y = E.add(y, beta === 1 ? c : E.mul(c, beta));
  return y;
}

/** Opset-1…6 binary ops with `broadcast=1` and `axis`: B is aligned at `axis` of A. */
function legacyAlign(a: Tensor, b: Tensor, node: OnnxNode, opset: number): Tensor {
  if (opset >= 7 || attrInt(node, "broadcast", 0) !== 1 || node.attributes.axis === undefined) {
    return b;
  }
  const ax = attrInt(node, "axis", 0);
  const trailing = a.shape.length - ax - b.shape.length;
  return trailing > 0 ? reshape(b, [...b.shape, ...Array(trailing).fill(1)]) : b;
}

function reduceNode(x: Tensor, node: OnnxNode, axesInput: Value | undefined, opset: number) {
  const f = { ReduceSum: sum, ReduceMean: mean, ReduceMax: max }[node.opType]!;
  let axes = attrInts(node, "axes");
  if (node.opType === "ReduceSum" && opset >= 13) {
    axes = axesInput && !isTensor(axesInput) ? axesInput.ints : undefined;
  }
  if (axes !== undefined && axes.length === 0) axes = undefined;
  return f(x, axes, attrInt(node, "keepdims", 1) === 1);
}

/** Runs one node, reading and writing `values`. */
function runNode(node: OnnxNode, values: Map<string, Value>, opset: number): void {
  if (node.domain !== "" && node.domain !== "ai.onnx") throw new Skip(`domain ${node.domain}`);
  const ins = node.inputs.map((n) => (n === "" ? undefined : values.get(n)));
  const t = (k: number): Tensor => {
    const v = ins[k];
    if (!isTensor(v)) throw new Skip(`${node.opType} input ${k} is not a float tensor`);
    return v;
  };
  const op = node.opType;
  let out: Value;
  if (op in UNARY) out = UNARY[op](t(0));
  else if (op in BINARY) out = BINARY[op](t(0), legacyAlign(t(0), t(1), node, opset));
  else if (op === "Softmax" || op === "LogSoftmax") out = softmaxNode(t(0), node, opset);
  else if (op === "MatMul") out = matmul(t(0), t(1));
  else if (op === "Gemm") out = gemmNode(t(0), t(1), ins[2] ? t(2) : undefined, node);
  else if (op === "Transpose") {
    out = transpose(t(0), attrInts(node, "perm"));
  } else if (op === "ReduceSum" || op === "ReduceMean" || op === "ReduceMax") {
    out = reduceNode(t(0), node, ins[1], opset);
  } else if (op === "Constant") {
    const v = node.attributes.value;
    if (!v || v.type !== "TENSOR") throw new Skip("Constant without a tensor value");
    out = hostValue(v.value);
  } else throw new Skip(`op ${op} is not mapped`);
  values.set(node.outputs[0], out);
}

// ---- running and comparing -----------------------------------------------------------

/** Why a case cannot run here (non-float32 data, an unmapped op), or null. */
function skipReason(c: Case): string | null {
  const g = c.model.graph;
  for (const v of [...g.inputs, ...g.outputs]) {
    const ty = v.type;
    if (ty?.kind !== "tensor") return `'${v.name}' is a ${ty?.kind ?? "untyped"} value`;
    if (ty.elemType !== DataType.FLOAT) return `'${v.name}' is ${dataTypeName(ty.elemType)}`;
  }
  for (const [name, init] of g.initializers) {
    if (init.dataType !== DataType.FLOAT) {
      return `initializer '${name}' is ${dataTypeName(init.dataType)}`;
    }
  }
  const mapped = new Set([
    ...Object.keys(UNARY),
    ...Object.keys(BINARY),
    "Softmax",
    "LogSoftmax",
    "MatMul",
    "Gemm",
    "Transpose",
    "ReduceSum",
    "ReduceMean",
    "ReduceMax",
    "Constant",
  ]);
  const other = c.ops.filter((o) => !mapped.has(o));
  return other.length ? `op ${[...new Set(other)].join(", ")} is not mapped` : null;
}

/** Elementwise: |got − want| ≤ max(1e-5, 1e-4·|want|); NaN matches NaN, ±∞ match exactly. */
function compare(got: Float32Array, want: Float32Array, what: string): void {
  assert(got.length === want.length, `${what}: ${got.length} values, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (
      Number.isNaN(w)
        ? Number.isNaN(g)
        : !Number.isFinite(w)
        ? g === w
        : Math.abs(g - w) <= Math.max(1e-5, 1e-4 * Math.abs(w))
    ) continue;
    throw new Error(`${what}: element ${i} is ${g}, expected ${w}`);
  }
}

/** Runs every data set of a case through the graph and compares all outputs. */
async function runCase(c: Case): Promise<number> {
  const v: Vector = await loadVector(c.dir);
  const opset = opsetVersion(c.model);
  const g = c.model.graph;
  for (const [k, set] of v.sets.entries()) {
    const outs = tidy(() =>
      noGrad(() => {
        const values = new Map<string, Value>();
        for (const [name, init] of g.initializers) values.set(name, hostValue(init));
        set.inputs.forEach((t, i) => {
          const shape = t.dims;
          values.set(g.inputs[i].name, fromArray(toFloat32(t), shape));
        });
        for (const node of g.nodes) runNode(node, values, opset);
        return g.outputs.map((o) => {
          const r = values.get(o.name);
          if (!isTensor(r)) throw new Error(`${c.name}: output '${o.name}' was not produced`);
          return r;
        });
      })
    );
    try {
      for (const [i, want] of set.outputs.entries()) {
        const shape = [...outs[i].shape];
        assert(
          shape.length === want.dims.length && shape.every((d, j) => d === want.dims[j]),
          `${c.name} set ${k} output ${i}: shape [${shape}], expected [${want.dims}]`,
        );
        compare(
          await outs[i].data(),
          toFloat32(want),
          `${c.name} set ${k} output ${i}`,
        );
      }
    } finally {
      for (const o of outs) o.dispose();
    }
  }
  return v.sets.length;
}

/**
 * Runs the cases `select` picks; prints what ran and what was skipped (and why); asserts
 * that at least `min` ran.
 */
async function runGroup(label: string, select: (c: Case) => boolean, min: number): Promise<void> {
  await initGpu();
  const ran: string[] = [], skipped: string[] = [];
  let sets = 0;
  for (const c of CASES.filter(select)) {
    const why = skipReason(c);
    if (why) {
      skipped.push(`${c.name} (${why})`);
      continue;
    }
    try {
      sets += await runCase(c);
      ran.push(c.name);
    } catch (e) {
      if (!(e instanceof Skip)) throw e;
      skipped.push(`${c.name} (${e.message})`);
    }
  }
  console.log(`${label}: ran ${ran.length} vectors (${sets} data sets): ${ran.join(", ")}`);
  if (skipped.length) console.log(`${label}: skipped ${skipped.length}: ${skipped.join("; ")}`);
  assert(ran.length >= min, `${label}: ran ${ran.length} vectors, expected at least ${min}`);
}

// ---- the tests -------------------------------------------------------------------------

const single = (op: string) => (c: Case) => c.ops.length === 1 && c.ops[0] === op;

/** Minimum vectors per op: what the Debian package (1.12) holds in float32. */
const MINIMUM: [string, number][] = [
  ["Relu", 2],
  ["Sigmoid", 3],
  ["Tanh", 3],
  ["Atan", 2],
  ["Exp", 3],
  ["Log", 2],
  ["Sqrt", 3],
  ["Neg", 2],
  ["Abs", 1],
  ["Add", 2],
  ["Sub", 3],
  ["Mul", 3],
  ["Div", 3],
  ["Pow", 5],
  ["MatMul", 3],
  ["Gemm", 12],
  ["Softmax", 10],
  ["LogSoftmax", 10],
];

for (const [op, min] of MINIMUM) {
  Deno.test(`ONNX vectors: ${op}`, () => runGroup(op, single(op), min));
}

Deno.test("ONNX vectors: Softmax/LogSoftmax expanded into ReduceMax, Sub, Exp, ReduceSum, Div, Log", () =>
  runGroup("expanded softmax", (c) => /softmax.*_expanded$/.test(c.name), 14));

Deno.test("ONNX vectors: every candidate model parses", () => {
  assert(unreadable.length === 0, `unreadable models:\n${unreadable.join("\n")}`);
  assert(CASES.length >= 100, `only ${CASES.length} candidate cases found under ${NODE_ROOT}`);
});

Deno.test("ONNX vectors: small multi-node graphs and reductions (pytorch-operator, pytorch-converted)", () =>
  runGroup(
    "graphs",
    (c) => !/_expanded$/.test(c.name) && (c.ops.length > 1 || /^Reduce/.test(c.ops[0])),
    6,
  ));
