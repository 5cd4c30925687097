import {
  bestRows,
  bestTable,
  expandGrid,
  formatTable,
  parseGrid,
  parseGridValue,
} from "../../training/grid.ts";
import { UsageError } from "../../training/pipeline.ts";
import { assertEquals, assertThrows } from "../assert.ts";

Deno.test("grid: key=a,b,c strings, ';' and repeated flags, JSON; typed values", () => {
  const a = parseGrid("lr=3e-4,3e-5; batch_size=32,64");
  const b = parseGrid(["lr=3e-4,3e-5", "batch_size=32,64"]);
  const c = parseGrid('{"lr": [0.0003, 0.00003], "batch_size": [32, 64]}');
  assertEquals(a, { lr: [0.0003, 0.00003], batch_size: [32, 64] });
  assertEquals(b, a);
  assertEquals(c, a);
  assertEquals(parseGrid({ optimizer: "adam", nesterov: [true, false] }), {
    optimizer: ["adam"],
    nesterov: [true, false],
  });
  assertEquals([parseGridValue(" 1e3 "), parseGridValue("-0.5"), parseGridValue("adam")], [
    1000,
    -0.5,
    "adam",
  ]);
  assertEquals(parseGridValue("0x10"), "0x10");
  for (const bad of ["lr", "=1", "lr=", "lr=1,,2", "lr=1;lr=2", "lr=1,1", "{bad", "[1]"]) {
    assertThrows(() => parseGrid(bad), UsageError, undefined, bad);
  }
  assertThrows(() => parseGrid({ lr: [{}] }), UsageError);
});

Deno.test("grid: Cartesian product, run count, stable readable unique names", () => {
  const runs = expandGrid(
    parseGrid("lr=3e-4,3e-5;batch_size=32,64;weight_decay=0;optimizer=adam"),
    {
      epochs: 3,
    },
  );
  assertEquals(runs.length, 4);
  assertEquals(runs.map((r) => r.name), [
    "lr=0.0003_batch_size=32",
    "lr=0.0003_batch_size=64",
    "lr=0.00003_batch_size=32",
    "lr=0.00003_batch_size=64",
  ]);
  assertEquals(runs[3].params, {
    epochs: 3,
    lr: 0.00003,
    batch_size: 64,
    weight_decay: 0,
    optimizer: "adam",
  });
  assertEquals(expandGrid({}).map((r) => r.name), ["run"]);
  assertEquals(expandGrid({ lr: [0.1] }).map((r) => r.name), ["lr=0.1"]);
  assertEquals(expandGrid({ tag: ["a/b", "a b"] }).map((r) => r.name), ["tag=a-b", "tag=a-b-2"]);
  assertEquals(expandGrid(parseGrid("a=1,2,3;b=x,y;c=true,false")).length, 12);
});

Deno.test("grid: best-N rows by test accuracy (ties to the lower test loss) and the aligned table", () => {
  const rows = [
    { run: "a", epoch: "1", TestAccuracy: "0.5", TestLoss: "1.2" },
    { run: "a", epoch: "2", TestAccuracy: "0.8125", TestLoss: "0.7" },
    { run: "b", epoch: "1", TestAccuracy: "0.9", TestLoss: "0.9" },
    { run: "b", epoch: "2", TestAccuracy: "", TestLoss: "NaN" },
    { run: "c", epoch: "1", TestAccuracy: "0.8125", TestLoss: "0.6" },
  ];
  assertEquals(bestRows(rows, 3).map((r) => `${r.run}${r.epoch}`), ["b1", "c1", "a2"]);
  assertEquals(bestRows(rows, 2, "TestLoss").map((r) => `${r.run}${r.epoch}`), ["c1", "a2"]);
  assertEquals(bestRows(rows, 9, "TestAccuracy", { perRun: true }).map((r) => r.run), [
    "b",
    "c",
    "a",
  ]);
  assertEquals(bestRows(rows, 9).at(-1), rows[3]);
  assertEquals(
    bestTable(rows, 2, "TestAccuracy", ["run", "epoch", "TestAccuracy"]),
    [
      "#  run  epoch  TestAccuracy",
      "-  ---  -----  ------------",
      "1  b        1           0.9",
      "2  c        1        0.8125",
    ].join("\n"),
  );
  assertEquals(
    formatTable([{ x: 0.123456789, name: "lr=0.1" }]),
    "     x  name\n------  ------\n0.1235  lr=0.1",
  );
});
