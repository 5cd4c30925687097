/**
 * The model's input files fingerprinted in options.json (training/input_files.ts): the size
 * and SHA-256 against WebCrypto's digest of the whole file, and the refusal of another file
 * (or none) with one line naming the flag and both fingerprints.
 */
import { assert, assertEquals } from "../assert.ts";
import { checkInputPrints, filePrint, inputPrints } from "../../training/input_files.ts";
import { UsageError } from "../../training/pipeline.ts";
import { tempDir } from "../_temp.ts";

const hex = (b: ArrayBuffer) =>
  [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("input files: size and SHA-256 of a file larger than one read, and of an empty one", async () => {
  const dir = await tempDir();
  const data = new Uint8Array((1 << 22) * 2 + 12345).map((_, i) => (i * 2654435761) >>> 24);
  await Deno.writeFile(`${dir}/w.onnx`, data);
  await Deno.writeFile(`${dir}/empty.onnx`, new Uint8Array());
  assertEquals(await filePrint(`${dir}/w.onnx`), {
    bytes: data.length,
    sha256: hex(await crypto.subtle.digest("SHA-256", data)),
  });
  assertEquals(
    (await filePrint(`${dir}/empty.onnx`)).sha256,
    hex(await crypto.subtle.digest("SHA-256", new Uint8Array())),
  );
  // Only the model's file options, and only files that can be read.
  assertEquals(
    Object.keys(await inputPrints({ weights: `${dir}/w.onnx`, data: `${dir}/w.onnx` })),
    ["weights"],
  );
  assertEquals(await inputPrints({ weights: `${dir}/missing.onnx` }), {});
});

Deno.test("input files: another file, a missing one, or the same one on resume", async () => {
  const dir = await tempDir();
  await Deno.writeFile(`${dir}/a.onnx`, new Uint8Array([1, 2, 3]));
  await Deno.writeFile(`${dir}/b.onnx`, new Uint8Array([1, 2, 4]));
  const o = { weights: `${dir}/a.onnx` };
  const saved = await inputPrints(o);
  checkInputPrints(saved, await inputPrints(o), o, "--resume: v0"); // the same: no error
  checkInputPrints(undefined, await inputPrints(o), o, "--resume: v0"); // an older options.json
  const refused = (f: () => void, re: RegExp) => {
    try {
      f();
    } catch (e) {
      assert(e instanceof UsageError, `not a UsageError: ${e}`);
      assert(re.test(e.message) && !e.message.includes("\n"), e.message);
      return;
    }
    throw new Error(`not refused: ${re}`);
  };
  const other = { weights: `${dir}/b.onnx` };
  refused(
    () =>
      checkInputPrints(
        saved,
        { weights: { ...saved.weights, sha256: "0".repeat(64) } },
        o,
        "--resume: v0",
      ),
    /^--resume: v0: --weights .*a\.onnx is not the file the run was trained on \(that one: 3 bytes, sha256 [0-9a-f]{12}…; this one: 3 bytes, sha256 000000000000…\)/,
  );
  refused(
    () => checkInputPrints(saved, {}, other, "--resume: v0"),
    /--weights .*b\.onnx cannot be read; the run was trained on a file of 3 bytes/,
  );
  const now = await inputPrints(other);
  refused(() => checkInputPrints(saved, now, other, "x"), /is not the file the run was trained on/);
});
