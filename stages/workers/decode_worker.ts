/// <reference lib="deno.worker" />
/**
 * Decode worker: reads a file, decodes it and does the per-sample work it was asked for
 * (resize, normalize, augment), then posts the pixels back with their buffer transferred,
 * or posts the reason the file is unusable.
 */
import { processFile } from "../process.ts";
import type { DecodeRequest, DecodeResponse } from "./messages.ts";

self.onmessage = async (e: MessageEvent<DecodeRequest>) => {
  const { id, path, work, seed } = e.data;
  const out = await processFile(path, work, seed);
  if (out.ok) {
    const res: DecodeResponse = { id, image: out.value };
    self.postMessage(res, [out.value.data.buffer as ArrayBuffer]);
  } else {
    const res: DecodeResponse = { id, error: out.error };
    self.postMessage(res);
  }
};
