/**
 * The files a run's model comes from (the pretrained `--weights`), fingerprinted in the
 * version's options.json: their size and SHA-256. A resume (or a study rerun) whose file
 * differs is refused with one line, exit 2, before any GPU work — instead of training on
 * from a checkpoint made on other weights. The checkpoint's own fingerprint of the frozen
 * parameters (`frozen.ts`) is still checked once the model is built, the backstop for what
 * this cannot see (a warm start from another run's checkpoint).
 *
 * Hashing streams the file (node:crypto): about 0.45 s for VGG16's 528 MB here, paid once
 * when a run is planned.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type Options, UsageError } from "./pipeline.ts";

/** A file's size and content hash. */
export interface FilePrint {
  bytes: number;
  sha256: string;
}

/** The options whose values are files the model is built from. */
export const INPUT_FILE_OPTIONS = ["weights"] as const;

/** The size and SHA-256 of the file at `path` (read in 4 MiB pieces). */
export async function filePrint(path: string): Promise<FilePrint> {
  const h = createHash("sha256"), buf = new Uint8Array(1 << 22);
  using f = await Deno.open(path);
  let bytes = 0;
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    h.update(buf.subarray(0, n));
    bytes += n;
  }
  return { bytes, sha256: h.digest("hex") };
}

/**
 * Fingerprints of the input files `o` names (options of `INPUT_FILE_OPTIONS` set to a
 * path). A file that cannot be read is left out: the pipeline's own check of it says why.
 */
export async function inputPrints(o: Options): Promise<Record<string, FilePrint>> {
  const out: Record<string, FilePrint> = {};
  for (const k of INPUT_FILE_OPTIONS) {
    const path = o[k];
    if (typeof path !== "string") continue;
    try {
      out[k] = await filePrint(path);
    } catch {
      // Missing or unreadable: refused with its own message where the pipeline opens it.
    }
  }
  return out;
}

const short = (p: FilePrint) => `${p.bytes} bytes, sha256 ${p.sha256.slice(0, 12)}…`;

/**
 * Refuses (UsageError) input files that are not the ones `saved` recorded: `now` holds the
 * fingerprints of the files the options name today (`inputPrints`). `where` starts the
 * message ("--resume: version_3"); `who` says what was trained on them ("the run was").
 */
export function checkInputPrints(
  saved: Record<string, FilePrint> | undefined,
  now: Record<string, FilePrint>,
  o: Options,
  where: string,
  who = "the run was",
): void {
  for (const [k, was] of Object.entries(saved ?? {})) {
    const flag = `--${k} ${o[k]}`, is = now[k];
    if (!is) {
      throw new UsageError(
        `${where}: ${flag} cannot be read; ${who} trained on a file of ${short(was)}`,
      );
    }
    if (is.sha256 !== was.sha256 || is.bytes !== was.bytes) {
      throw new UsageError(
        `${where}: ${flag} is not the file ${who} trained on (that one: ${short(was)}; ` +
          `this one: ${short(is)}): give that file back, or start a new run`,
      );
    }
  }
}
