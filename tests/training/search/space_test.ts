/**
 * Search spaces: the string and JSON forms, the errors (UsageError, one line naming the key),
 * the grid helpers, formatting and the inverse CDFs.
 */
import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { UsageError } from "../../../core/errors.ts";
import { Rng } from "../../../core/random.ts";
import {
  distributionKeys,
  formatSpace,
  hasDistribution,
  parseSpace,
  sampleDistribution,
  spaceDifferences,
  spaceToGrid,
  valueAt,
} from "../../../training/search/space.ts";

Deno.test("space: the string syntax gives every kind of distribution", () => {
  const s = parseSpace(
    "lr=loguniform(1e-5,1e-2);batch_size=32,64;dropout=uniform(0,0.5);layers=int(1,4);" +
      "opt=choice(adam,sgd); width = logint(8, 256) ;depth=intuniform(2,3);seed=7;aug=true",
  );
  assertEquals(Object.keys(s), [
    "lr",
    "batch_size",
    "dropout",
    "layers",
    "opt",
    "width",
    "depth",
    "seed",
    "aug",
  ]);
  assertEquals(s.lr, { kind: "loguniform", low: 1e-5, high: 1e-2 });
  assertEquals(s.batch_size, { kind: "choice", choices: [32, 64] });
  assertEquals(s.dropout, { kind: "uniform", low: 0, high: 0.5 });
  assertEquals(s.layers, { kind: "int", low: 1, high: 4, log: false });
  assertEquals(s.opt, { kind: "choice", choices: ["adam", "sgd"] });
  assertEquals(s.width, { kind: "int", low: 8, high: 256, log: true });
  assertEquals(s.depth, { kind: "int", low: 2, high: 3, log: false });
  assertEquals(s.seed, { kind: "fixed", value: 7 });
  assertEquals(s.aug, { kind: "fixed", value: true });
  assertEquals(
    formatSpace(s),
    "lr=loguniform(0.00001,0.01);batch_size=choice(32,64);dropout=uniform(0,0.5);" +
      "layers=int(1,4);opt=choice(adam,sgd);width=logint(8,256);depth=int(2,3);seed=7;aug=true",
  );
  assertEquals(parseSpace(formatSpace(s)), s, "the formatted space parses back");
  assertEquals(parseSpace(["lr=uniform(0,1)", "bs=8,16"]), parseSpace("lr=uniform(0,1);bs=8,16"));
});

Deno.test("space: the JSON form, as an object or a string", () => {
  const obj = {
    lr: { loguniform: [1e-5, 1e-2] },
    batch_size: [32, 64],
    layers: { int: [8, 256], log: true },
    depth: { int: [1, 3] },
    opt: { choice: ["adam", "sgd"] },
    seed: 3,
    one: [5],
  };
  const s = parseSpace(obj);
  assertEquals(s.lr, { kind: "loguniform", low: 1e-5, high: 1e-2 });
  assertEquals(s.batch_size, { kind: "choice", choices: [32, 64] });
  assertEquals(s.layers, { kind: "int", low: 8, high: 256, log: true });
  assertEquals(s.depth, { kind: "int", low: 1, high: 3, log: false });
  assertEquals(s.opt, { kind: "choice", choices: ["adam", "sgd"] });
  assertEquals(s.seed, { kind: "fixed", value: 3 });
  assertEquals(s.one, { kind: "fixed", value: 5 });
  assertEquals(parseSpace(JSON.stringify(obj)), s);
  assertEquals(parseSpace([JSON.stringify({ a: [1, 2] }), "b=uniform(0,1)"]).b.kind, "uniform");
});

Deno.test("space: bad input is a one-line UsageError naming the key", async () => {
  const cases: [string | Record<string, unknown>, RegExp][] = [
    ["lr=loguniform(0,1e-2)", /^--grid: lr: loguniform needs 0 < low < high$/],
    ["lr=loguniform(1e-2,1e-5)", /^--grid: lr: loguniform needs 0 < low < high$/],
    ["lr=loguniform(1e-5)", /^--grid: lr: loguniform needs 0 < low < high$/],
    ["d=uniform(0.5,0.5)", /^--grid: d: uniform needs two numbers low < high$/],
    ["d=uniform(a,1)", /^--grid: d: uniform needs two numbers low < high$/],
    ["n=int(1.5,4)", /^--grid: n: int needs two integers low <= high$/],
    ["n=int(4,1)", /^--grid: n: int needs two integers low <= high$/],
    ["n=logint(0,8)", /^--grid: n: logint needs two integers 1 <= low <= high$/],
    ["o=choice()", /^--grid: o: choice needs at least one value$/],
    ["o=choice(a,a)", /^--grid: o: repeated value "a"$/],
    ["o=a,,b", /^--grid: o: empty value in "a,,b"$/],
    ["o=a,b,a", /^--grid: o: repeated value "a"$/],
    ["o=normal(0,1)", /^--grid: o: unknown distribution "normal" \(use uniform/],
    ["o=uniform(0,1", /^--grid: o: unbalanced parentheses/],
    ["o=", /^--grid: o: no value$/],
    ["=3", /^--grid: expected key=spec, got "=3"$/],
    ["a=1;a=2", /^--grid: key "a" given twice$/],
    ["1a=2", /^--grid: bad key "1a"$/],
    ["{bad json", /^--grid: bad JSON/],
    ["[1,2]", /^--grid: expected key=spec/],
    [{ lr: { loguniform: [0, 1] } }, /^--grid: lr: loguniform needs 0 < low < high$/],
    [{ lr: { normal: [0, 1] } }, /^--grid: lr: normal in/],
    [{ lr: { uniform: [0, 1], int: [1, 2] } }, /^--grid: lr: two distributions/],
    [{ lr: { uniform: 3 } }, /^--grid: lr: uniform needs a list of arguments/],
    [{ lr: { uniform: [0, 1], log: true } }, /^--grid: lr: "log" is only for int/],
    [{ lr: [] }, /^--grid: lr: a list needs at least one value$/],
    [{ lr: [1, null] }, /^--grid: lr: null is not a value/],
    [{ lr: null }, /^--grid: lr: expected a value, a list/],
  ];
  for (const [spec, re] of cases) {
    let err: unknown;
    try {
      parseSpace(spec);
    } catch (e) {
      err = e;
    }
    assert(err instanceof UsageError, `${JSON.stringify(spec)}: expected UsageError, got ${err}`);
    assert(re.test(err.message), `${JSON.stringify(spec)}: "${err.message}" !~ ${re}`);
    assert(!err.message.includes("\n"), err.message);
  }
  await assertRejects(
    () => parseSpace("lr=uniform(1,0)", "--search-space"),
    /^--search-space: lr:/,
  );
});

Deno.test("space: distributions are told from lists; a grid refuses them", async () => {
  const s = parseSpace("lr=loguniform(1e-5,1e-2);bs=32,64;n=int(1,3);seed=1");
  assertEquals(distributionKeys(s), ["lr", "n"]);
  assert(hasDistribution(s));
  await assertRejects(
    () => spaceToGrid(s),
    /^--grid: lr: loguniform\(0.00001,0.01\) is a distribution; --search grid needs lists/,
  );
  const lists = parseSpace("bs=32,64;opt=choice(adam,sgd);seed=1");
  assert(!hasDistribution(lists));
  assertEquals(spaceToGrid(lists), { bs: [32, 64], opt: ["adam", "sgd"], seed: [1] });
});

Deno.test("space: differences name each key; key order does not count", () => {
  const a = parseSpace("lr=loguniform(1e-5,1e-2);bs=32,64;x=1");
  assertEquals(spaceDifferences(a, parseSpace("bs=32,64;x=1;lr=loguniform(1e-5,1e-2)")), []);
  assertEquals(spaceDifferences(a, parseSpace("lr=uniform(0,1);bs=64,32;y=2")), [
    "lr: uniform(0,1) here, loguniform(0.00001,0.01) in the study",
    "bs: choice(64,32) here, choice(32,64) in the study",
    "y: not in the study",
    "x: only in the study",
  ]);
});

Deno.test("space: draws stay in range and cover it", () => {
  const s = parseSpace("u=uniform(-1,1);l=loguniform(1e-4,1);i=int(1,4);g=logint(1,100);c=a,b,c");
  const rng = new Rng(5);
  const seen = { i: new Set<number>(), c: new Set<string>() };
  let lowLog = 0;
  for (let k = 0; k < 2000; k++) {
    const u = sampleDistribution(s.u, rng) as number;
    const l = sampleDistribution(s.l, rng) as number;
    const i = sampleDistribution(s.i, rng) as number;
    const g = sampleDistribution(s.g, rng) as number;
    assert(u >= -1 && u <= 1 && l >= 1e-4 && l <= 1, `${u} ${l}`);
    assert(Number.isInteger(i) && i >= 1 && i <= 4 && Number.isInteger(g) && g >= 1 && g <= 100);
    seen.i.add(i);
    seen.c.add(sampleDistribution(s.c, rng) as string);
    if (l < 1e-2) lowLog++;
  }
  assertEquals([...seen.i].sort(), [1, 2, 3, 4]);
  assertEquals([...seen.c].sort(), ["a", "b", "c"]);
  assert(lowLog > 900 && lowLog < 1100, `log-uniform: half the mass below 1e-2, got ${lowLog}`);
  assertEquals([valueAt(s.i, 0), valueAt(s.i, 0.9999), valueAt(s.c, 0.5)], [1, 4, "b"]);
  assertEquals([valueAt(s.g, 0), valueAt(s.g, 0.99999)], [1, 100]);
});
