/**
 * Load: find the files of an image data set and stream them. Recognises the Intel
 * download's layout (`seg_train/seg_train/<class>/…`, `seg_test/seg_test/…`, unlabelled
 * `seg_pred/seg_pred/…`), its flattened form (`seg_train/<class>/…`), generic
 * `train/`+`test/` folders, a plain class-per-folder tree (classes in sorted order, as
 * PyTorch's ImageFolder assigns them) and a folder of unlabelled images.
 */
import { join } from "node:path";
import { deriveSeed, Rng } from "../core/random.ts";
import { shuffleFiles } from "./shuffle.ts";
import { DataError, type FileEntry, type SkippedFile } from "./types.ts";

/** Extensions the decoders handle. */
export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png"];

/** The shape of a data folder as recognised. */
export interface Layout {
  /**
   * Intel's nested or flattened download, `train/` + `test/` folders, a class-per-folder
   * tree, or a folder of unlabelled images.
   */
  kind: "intel" | "intel-flat" | "train-test" | "image-folder" | "unlabelled";
  /** The data folder as given. */
  root: string;
  /** The labelled training folder (one sub-folder per class); absent for unlabelled images. */
  train?: string;
  /** The test folder (`seg_test`, or `test`/`val`/`valid`/`validation`), when there is one. */
  test?: string;
  /** The folder of unlabelled images (`seg_pred`, or the root itself), when there is one. */
  pred?: string;
}

/** Files of one labelled folder. */
export interface ImageFolder {
  dir: string;
  classes: string[];
  files: FileEntry[];
  /** Files left out at listing (unsupported type), with the reason. */
  ignored: SkippedFile[];
  /** Hidden entries (names starting with "."), files or folders, left out at listing. */
  hidden: number;
}

/** A whole data set: training files, validation files (test folder or split) and more. */
export interface ImageDataset {
  /** The layout recognised. */
  layout: Layout;
  /** Class names in label order (sorted folder names); empty for unlabelled images. */
  classes: string[];
  /** The training files. */
  train: FileEntry[];
  /** The files evaluated each epoch: the test folder's, or a seeded split of training. */
  val: FileEntry[];
  /** Where `val` came from. */
  valFrom: "test-folder" | "split";
  /** Unlabelled files for prediction, when the layout has them. */
  pred: FileEntry[];
  /** Files left out at listing (not an image file type), with the reason. */
  ignored: SkippedFile[];
  /**
   * Hidden entries (names starting with ".", such as `.DS_Store`; a hidden folder counts
   * once) in the listed folders, left out: counted, never used.
   */
  hidden: number;
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Visible entries of `dir`, sorted; hidden ones (".…") are left out and added to `hidden`. */
function entries(dir: string, hidden?: { count: number }): Deno.DirEntry[] {
  const all = [...Deno.readDirSync(dir)];
  const visible = all.filter((e) => !e.name.startsWith("."));
  if (hidden) hidden.count += all.length - visible.length;
  return visible.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const isImageName = (name: string) =>
  IMAGE_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext));

/** `a/b` when `a/b/b` is not there, else `a/b/b` (the Intel download nests each split). */
function nested(root: string, name: string): string | undefined {
  const outer = join(root, name);
  if (!isDir(outer)) return undefined;
  const inner = join(outer, name);
  return isDir(inner) ? inner : outer;
}

/** Recognise the layout of a data folder; throws a DataError naming it when unusable. */
export function detectLayout(root: string): Layout {
  if (!isDir(root)) throw new DataError(`data folder not found: ${root}`);
  const train = nested(root, "seg_train");
  if (train) {
    const kind = train.endsWith(join("seg_train", "seg_train")) ? "intel" : "intel-flat";
    return { kind, root, train, test: nested(root, "seg_test"), pred: nested(root, "seg_pred") };
  }
  if (isDir(join(root, "train"))) {
    const test = ["test", "val", "valid", "validation"].map((n) => join(root, n)).find(isDir);
    return { kind: "train-test", root, train: join(root, "train"), test };
  }
  const list = entries(root);
  if (list.some((e) => e.isDirectory)) return { kind: "image-folder", root, train: root };
  if (list.some((e) => e.isFile && isImageName(e.name))) {
    return { kind: "unlabelled", root, pred: root };
  }
  throw new DataError(`no images in data folder ${root}`);
}

/** List a class-per-folder tree; throws a DataError for an empty tree or an empty class. */
export function listImageFolder(dir: string): ImageFolder {
  if (!isDir(dir)) throw new DataError(`data folder not found: ${dir}`);
  const hidden = { count: 0 };
  const classes = entries(dir, hidden).filter((e) => e.isDirectory).map((e) => e.name);
  if (classes.length === 0) throw new DataError(`no class folders in ${dir}`);
  const files: FileEntry[] = [];
  const ignored: SkippedFile[] = [];
  classes.forEach((cls, label) => {
    const classDir = join(dir, cls);
    let count = 0;
    for (const e of walk(classDir, hidden)) {
      if (isImageName(e)) {
        files.push({ path: e, label });
        count++;
      } else ignored.push({ path: e, reason: "not an image file type" });
    }
    if (count === 0) throw new DataError(`class folder ${classDir} has no usable images`);
  });
  return { dir, classes, files, ignored, hidden: hidden.count };
}

function* walk(dir: string, hidden?: { count: number }): Generator<string> {
  for (const e of entries(dir, hidden)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* walk(p, hidden);
    else if (e.isFile || e.isSymlink) yield p;
  }
}

/** List a folder of unlabelled images (label -1), searching sub-folders too. */
export function listUnlabelled(
  dir: string,
): { files: FileEntry[]; ignored: SkippedFile[]; hidden: number } {
  if (!isDir(dir)) throw new DataError(`data folder not found: ${dir}`);
  const files: FileEntry[] = [];
  const ignored: SkippedFile[] = [];
  const hidden = { count: 0 };
  for (const p of walk(dir, hidden)) {
    if (isImageName(p)) files.push({ path: p, label: -1 });
    else ignored.push({ path: p, reason: "not an image file type" });
  }
  if (files.length === 0) throw new DataError(`no images in ${dir}`);
  return { files, ignored, hidden: hidden.count };
}

/** Split labelled files per class into train and validation, seeded (default 80/20). */
export function stratifiedSplit(
  files: readonly FileEntry[],
  options: { valFraction?: number; seed?: number } = {},
): { train: FileEntry[]; val: FileEntry[] } {
  const frac = options.valFraction ?? 0.2;
  const byClass = new Map<number, FileEntry[]>();
  for (const f of files) {
    const group = byClass.get(f.label);
    if (group) group.push(f);
    else byClass.set(f.label, [f]);
  }
  const train: FileEntry[] = [];
  const val: FileEntry[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const group = new Rng(deriveSeed(options.seed ?? 0, "split", label)).shuffle([
      ...byClass.get(label)!,
    ]);
    const nVal = Math.round(group.length * frac);
    val.push(...group.slice(0, nVal));
    train.push(...group.slice(nVal));
  }
  const order = (a: FileEntry, b: FileEntry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { train: train.sort(order), val: val.sort(order) };
}

/**
 * Open a data folder: training files, validation files (the test folder when there is one,
 * else a stratified split of training) and unlabelled files. Fails before training, naming
 * the folder, when the folder is missing or empty, a class has no images, or the test
 * classes differ from the training classes.
 */
export function openImageDataset(
  root: string,
  options: { valFraction?: number; seed?: number } = {},
): ImageDataset {
  const layout = detectLayout(root);
  if (!layout.train) {
    const { files, ignored, hidden } = listUnlabelled(layout.pred!);
    return {
      layout,
      classes: [],
      train: [],
      val: [],
      valFrom: "split",
      pred: files,
      ignored,
      hidden,
    };
  }
  const train = listImageFolder(layout.train);
  let val: FileEntry[];
  let trainFiles = train.files;
  const ignored = [...train.ignored];
  let hidden = train.hidden;
  let valFrom: ImageDataset["valFrom"] = "split";
  if (layout.test) {
    const test = listImageFolder(layout.test);
    if (test.classes.join("\n") !== train.classes.join("\n")) {
      throw new DataError(
        `test folder ${layout.test} has classes [${test.classes.join(", ")}] but the ` +
          `training folder ${layout.train} has [${train.classes.join(", ")}]`,
      );
    }
    val = test.files;
    ignored.push(...test.ignored);
    hidden += test.hidden;
    valFrom = "test-folder";
  } else {
    ({ train: trainFiles, val } = stratifiedSplit(train.files, options));
  }
  let pred: FileEntry[] = [];
  if (layout.pred) {
    const p = listUnlabelled(layout.pred);
    pred = p.files;
    ignored.push(...p.ignored);
    hidden += p.hidden;
  }
  return {
    layout,
    classes: train.classes,
    train: trainFiles,
    val,
    valFrom,
    pred,
    ignored,
    hidden,
  };
}

/**
 * Source: stream file entries, pulled one at a time (backpressure reaches the listing);
 * with a seed they come in that epoch's shuffled order.
 */
export function fileSource(
  files: readonly FileEntry[],
  options: { seed?: number; epoch?: number } = {},
): ReadableStream<FileEntry> {
  const list = options.seed === undefined
    ? files
    : shuffleFiles(files, options.seed, options.epoch ?? 0);
  let i = 0;
  return new ReadableStream<FileEntry>({
    pull(controller) {
      if (i < list.length) controller.enqueue(list[i++]);
      else controller.close();
    },
  }, { highWaterMark: 0 });
}
