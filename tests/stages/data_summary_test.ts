/**
 * The data summary of a run and the hidden-entry count of the listing: a temporary image
 * folder with good images, unusable ones, a non-image file and hidden entries.
 */
import { assert, assertEquals, collect, INTEL, tempTree, TRAIN } from "./_helpers.ts";
import { dataSummary, openImageData } from "../../stages/image_data.ts";
import { openImageDataset } from "../../stages/load.ts";
import { newReport } from "../../stages/types.ts";

const T = "seg_train/seg_train";
const tree = () =>
  tempTree({
    ".DS_Store": "",
    "cat/1.jpg": `${T}/buildings/1.jpg`,
    "cat/2.jpg": `${T}/buildings/2.jpg`,
    "cat/3.jpg": `${T}/buildings/3.jpg`,
    "cat/4.jpg": `${T}/buildings/4.jpg`,
    "cat/empty.jpg": "",
    "cat/notes.txt": `${T}/street/not_an_image.jpg`,
    "cat/.DS_Store": "",
    "cat/.thumbs/1.jpg": `${T}/buildings/1.jpg`,
    "dog/8.jpg": `${T}/forest/8.jpg`,
    "dog/9.jpg": `${T}/forest/9.jpg`,
    "dog/10.jpg": `${T}/forest/10.jpg`,
    "dog/11.jpg": `${T}/forest/11.jpg`,
    "dog/truncated.jpg": `${T}/mountain/truncated.jpg`,
    "dog/._10.jpg": "",
  });

Deno.test("load: hidden entries are counted, not used", () => {
  const dir = tree();
  try {
    const ds = openImageDataset(dir, { seed: 0 });
    // .DS_Store at the top, cat/.DS_Store, the cat/.thumbs folder (once), dog/._10.jpg.
    assertEquals(ds.hidden, 4);
    const used = [...ds.train, ...ds.val].map((f) => f.path);
    assertEquals(used.length, 10);
    assert(used.every((p) => !p.includes("/.")), "no hidden file is used");
    assertEquals(ds.ignored.map((s) => s.path.split("/").pop()), ["notes.txt"]);
    assertEquals(openImageDataset(INTEL).hidden, 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("data summary: usable per split, skipped files named once with reasons", async () => {
  const dir = tree();
  const warn = console.warn;
  console.warn = () => {};
  const data = openImageData({ root: dir, seed: 0, size: 32, workers: 1 });
  try {
    assert(data.summary().includes("nothing decoded yet"), data.summary());
    for (const epoch of [0, 1]) {
      await collect(data.train(epoch, 4));
      await collect(data.test(4));
    }
    const text = data.summary();
    console.log(text);
    const bad = [...data.dataset.train, ...data.dataset.val].filter((f) =>
      /empty|truncated/.test(f.path)
    );
    const inTrain = bad.filter((b) => data.dataset.train.includes(b)).length;
    const lines = text.split("\n");
    assertEquals(lines[0], `data: ${dir} (image-folder layout), 2 classes`);
    assertEquals(
      lines[1],
      `  train: ${
        data.dataset.train.length - inTrain
      } usable of ${data.dataset.train.length} image(s)`,
    );
    assertEquals(
      lines[2],
      `  validation (split from train): ${data.dataset.val.length - (2 - inTrain)} usable of ` +
        `${data.dataset.val.length} image(s)`,
    );
    assertEquals(lines.slice(3, 5), [
      "  skipped 2 unusable image(s):",
      "    cat/empty.jpg: empty file (0 bytes)",
    ]);
    assert(lines[5].startsWith("    dog/truncated.jpg: truncated JPEG ("), lines[5]);
    assertEquals(lines.slice(6), [
      "  1 file(s) not an image file type, not used:",
      "    cat/notes.txt",
      '  4 hidden entries (names starting with "."), not used',
    ]);
  } finally {
    data.close();
    console.warn = warn;
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("data summary: Intel fixtures, a test folder, the unlabelled split and a limit", () => {
  const ds = openImageDataset(INTEL);
  const report = newReport();
  report.decoded = ds.train.length + ds.val.length - 3;
  for (const f of ["forest/empty.jpg", "mountain/truncated.jpg", "street/not_an_image.jpg"]) {
    report.skipped.push({ path: `${TRAIN}/${f}`, reason: "bad" });
    report.skipped.push({ path: `${TRAIN}/${f}`, reason: "bad again" }); // a later epoch
  }
  const lines = dataSummary(ds, report, { limit: 2 }).split("\n");
  assertEquals(lines.slice(1), [
    `  train: ${ds.train.length - 3} usable of ${ds.train.length} image(s)`,
    `  validation (test folder): ${ds.val.length} usable of ${ds.val.length} image(s)`,
    `  unlabelled: ${ds.pred.length} image(s)`,
    "  skipped 3 unusable image(s):",
    `    ${T}/forest/empty.jpg: bad`,
    `    ${T}/mountain/truncated.jpg: bad`,
    "    … and 1 more",
  ]);
  const clean = newReport();
  clean.decoded = 1;
  assertEquals(dataSummary(ds, clean).split("\n").at(-1), "  no unusable images");
});
