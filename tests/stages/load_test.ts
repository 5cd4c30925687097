import { join } from "node:path";
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertThrows,
  collect,
  INTEL,
  tempTree,
} from "./_helpers.ts";
import { detectLayout, fileSource, openImageDataset, stratifiedSplit } from "../../stages/load.ts";
import { DataError } from "../../stages/types.ts";
import { tempDirSync } from "../_temp.ts";

const CLASSES = ["buildings", "forest", "glacier", "mountain", "sea", "street"];
const dataError = (part: string) => (e: Error) =>
  e instanceof DataError && e.message.includes(part);

Deno.test("load: recognises the Intel download layout; classes sorted like ImageFolder", () => {
  const ds = openImageDataset(INTEL);
  assertEquals(ds.layout.kind, "intel");
  assert(ds.layout.train!.endsWith("seg_train/seg_train"));
  assert(ds.layout.test!.endsWith("seg_test/seg_test"));
  assert(ds.layout.pred!.endsWith("seg_pred/seg_pred"));
  assertEquals(ds.classes, CLASSES);
  assertEquals(ds.valFrom, "test-folder");
  // 20 generated + awkward files per class folder (listing keeps bad files for decode to
  // count), 8 test images per class.
  assertEquals(ds.train.length, 127);
  assertEquals(ds.val.length, 48);
  assertEquals(ds.pred.length, 5);
  assert(ds.pred.every((f) => f.label === -1));
  // Listed in name order (as ImageFolder sorts): "100.jpg" before "15.jpg".
  const glacier = ds.train.filter((f) => f.label === 2).map((f) => f.path.split("/").pop());
  const numbered = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => `${from + i}.jpg`);
  assertEquals(glacier, [
    ...numbered(100, 103),
    ...numbered(15, 19),
    ...numbered(89, 99),
    "gray.jpg",
  ]);
});

Deno.test("load: flattened layout, no test folder → stratified 80/20 split", () => {
  const files: Record<string, string> = {};
  for (const [i, c] of ["a", "b"].entries()) {
    for (let k = 0; k < 10; k++) {
      files[`seg_train/${c}/${k}.jpg`] = `seg_train/seg_train/sea/${29 + i}.jpg`;
    }
  }
  const dir = tempTree(files);
  const ds = openImageDataset(dir, { seed: 3 });
  assertEquals(ds.layout.kind, "intel-flat");
  assertEquals(ds.valFrom, "split");
  assertEquals(ds.train.length, 16);
  assertEquals(ds.val.filter((f) => f.label === 0).length, 2);
  assertEquals(ds.val.filter((f) => f.label === 1).length, 2);
  assertEquals(openImageDataset(dir, { seed: 3 }).val, ds.val); // seeded
  assertNotEquals(openImageDataset(dir, { seed: 4 }).val, ds.val);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("load: stratifiedSplit keeps every file exactly once", () => {
  const files = Array.from({ length: 103 }, (_, i) => ({ path: `f${i}`, label: i % 3 }));
  const { train, val } = stratifiedSplit(files, { seed: 1 });
  assertEquals(train.length + val.length, 103);
  assertEquals(new Set([...train, ...val].map((f) => f.path)).size, 103);
  for (const label of [0, 1, 2]) {
    const n = files.filter((f) => f.label === label).length;
    assertEquals(val.filter((f) => f.label === label).length, Math.round(n * 0.2));
  }
});

Deno.test("load: image-folder and unlabelled layouts", () => {
  const dir = tempTree({
    "cat/1.jpg": "seg_pred/seg_pred/43.jpg",
    "dog/2.jpg": "seg_pred/seg_pred/44.jpg",
  });
  assertEquals(detectLayout(dir).kind, "image-folder");
  assertEquals(openImageDataset(dir).classes, ["cat", "dog"]);
  const flat = tempTree({ "1.jpg": "seg_pred/seg_pred/43.jpg", "notes.txt": "" });
  const ds = openImageDataset(flat);
  assertEquals(ds.layout.kind, "unlabelled");
  assertEquals(ds.pred.length, 1);
  assertEquals(ds.ignored.map((s) => s.path.split("/").pop()), ["notes.txt"]);
  Deno.removeSync(dir, { recursive: true });
  Deno.removeSync(flat, { recursive: true });
});

Deno.test("load: missing folder, empty folder, empty class, mismatched test classes fail early", () => {
  assertThrows(() => openImageDataset("/nonexistent/data"), dataError("/nonexistent/data"));
  const empty = tempDirSync();
  assertThrows(() => openImageDataset(empty), dataError(empty));
  const noImages = tempTree({ "a/1.jpg": "seg_pred/seg_pred/43.jpg", "b/readme.txt": "" });
  assertThrows(() => openImageDataset(noImages), dataError(join(noImages, "b")));
  const mismatch = tempTree({
    "seg_train/seg_train/a/1.jpg": "seg_pred/seg_pred/43.jpg",
    "seg_test/seg_test/b/1.jpg": "seg_pred/seg_pred/43.jpg",
  });
  assertThrows(() => openImageDataset(mismatch), dataError("seg_test/seg_test has classes [b]"));
  for (const d of [empty, noImages, mismatch]) Deno.removeSync(d, { recursive: true });
});

Deno.test("load: fileSource shuffles per epoch, seeded", async () => {
  const files = Array.from({ length: 50 }, (_, i) => ({ path: `f${i}`, label: 0 }));
  const e0 = await collect(fileSource(files, { seed: 9, epoch: 0 }));
  const e0b = await collect(fileSource(files, { seed: 9, epoch: 0 }));
  const e1 = await collect(fileSource(files, { seed: 9, epoch: 1 }));
  assertEquals(e0, e0b);
  assertNotEquals(e0, e1);
  assertEquals(new Set(e1.map((f) => f.path)).size, 50);
  assertEquals(await collect(fileSource(files)), files); // unseeded: listing order
});
