/**
 * The event files as real TensorBoard reads them: a grid written through the log stage, then
 * TensorBoard's HTTP API (`tensorboard --logdir … --host 127.0.0.1 --port 0`) with both of its
 * loaders — the Python one (`--load_fast=false`, which would show a replayed step twice) and
 * the default (the Rust data server where it runs). TensorBoard comes from a virtual
 * environment in .cache/ (scripts/tensorboard-venv.sh); where it cannot be installed, the
 * test is ignored, never passed.
 */
import { fileURLToPath } from "node:url";
import { logStage, STEP_LOSS_TAG } from "../../../stages/log/stage.ts";
import { EPOCH_METRICS } from "../../../stages/log/hparams_plugin.ts";
import type { EpochMetrics, HValue } from "../../../stages/evaluate.ts";
import { epochRecord } from "./_reader.ts";
import { assert, assertEquals } from "../../assert.ts";
import { tempDir } from "../../_temp.ts";

const SCRIPT = fileURLToPath(new URL("../../../scripts/tensorboard-venv.sh", import.meta.url));
const dec = new TextDecoder();

/** The `tensorboard` command, or why there is none. */
async function findTensorBoard(): Promise<{ bin?: string; why: string }> {
  try {
    const out = await new Deno.Command("sh", {
      args: [SCRIPT],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(600_000),
    }).output();
    const bin = dec.decode(out.stdout).trim();
    if (out.success && bin) return { bin, why: "" };
    return { why: dec.decode(out.stderr).trim().split("\n").slice(-3).join("\n") };
  } catch (e) {
    return { why: (e as Error).message };
  }
}

const TB = await findTensorBoard();
if (!TB.bin) console.warn(`tensorboard_test: TensorBoard unavailable, test ignored: ${TB.why}`);

/** A TensorBoard server started on a free port of 127.0.0.1. */
interface Server {
  url: string;
  stop(): Promise<void>;
}

/** Starts TensorBoard and resolves once it prints the address it serves. */
async function serve(bin: string, logdir: string, loadFast: string): Promise<Server> {
  // TensorBoard keeps a .tensorboard-info folder in TMPDIR: give it one that goes away.
  const tmp = await tempDir("tensorboard_");
  const child = new Deno.Command(bin, {
    args: ["--logdir", logdir, "--host", "127.0.0.1", "--port", "0", `--load_fast=${loadFast}`],
    env: { TMPDIR: tmp },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let all = "";
  let found: (url: string) => void;
  const address = new Promise<string>((r) => (found = r));
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      all += chunk;
      const m = /TensorBoard \S+ at (http:\/\/127\.0\.0\.1:\d+)\//.exec(all);
      if (m) found(m[1]);
    }
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const url = await Promise.race([address, child.status.then(() => undefined)]);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already ended */ }
    await child.status;
    await pumped;
  };
  if (!url) {
    await stop();
    throw new Error(`tensorboard ended before serving:\n${all}`);
  }
  return { url, stop };
}

/** Calls `f` until it returns a value: at most `tries` times, 100 ms apart. */
async function until<T>(what: string, f: () => Promise<T | undefined>, tries = 300): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`TensorBoard never showed ${what}`);
}

async function getJson(url: string): Promise<unknown> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return await r.json();
}

async function postJson(url: string, body: unknown): Promise<unknown> {
  const r = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-XSRF-Protected": "1" },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return await r.json();
}

interface MetricValue {
  name: { group?: string; tag: string };
  value: number;
  trainingStep: number;
}
interface SessionGroup {
  name: string;
  hparams: Record<string, HValue>;
  metricValues: MetricValue[];
  sessions: { name: string; status: string; metricValues: MetricValue[] }[];
}

/** One attempt of a run through the log stage: step losses every 5 steps, then the epoch. */
async function attempt(
  runDir: string,
  history: EpochMetrics[],
  epochs: EpochMetrics[],
  end: boolean,
): Promise<void> {
  const stage = logStage({
    runDir,
    csvPath: `${runDir}/../metrics.csv`,
    classes: ["x", "y"],
    history,
  });
  const w = stage.writable.getWriter();
  const drained = stage.readable.pipeTo(new WritableStream());
  for (const m of epochs) {
    for (const s of [m.step - 5, m.step]) await stage.stepLoss(s, 1 / s, m.wallTime! - 1);
    await w.write(m);
  }
  if (end) await stage.end();
  await w.close();
  await drained;
}

const GRID: Record<string, Record<string, HValue>> = {
  "lr=0.01": { lr: 0.01, optimizer: "sgd", augment: true, batch_size: 4 },
  "lr=0.1": { lr: 0.1, optimizer: "adam", augment: false, batch_size: 4 },
  "lr=1": { lr: 1, optimizer: "adam", augment: false, batch_size: 4 },
};

Deno.test({
  name: "tensorboard: the HParams dashboard lists the grid's runs, hyper-parameters, metrics",
  ignore: !TB.bin,
  async fn() {
    const dir = await tempDir();
    const logdir = `${dir}/version_0`;
    try {
      const rec = (run: string, e: number, offset = 0) =>
        epochRecord(run, e, GRID[run], 1 + (e % 4), offset);
      // lr=0.01: three epochs, done. lr=0.1: killed after epoch 3 (its checkpoint holds
      // epoch 2), resumed: epoch 3 replayed, epoch 4, done. lr=1: killed after epoch 1.
      await attempt(`${logdir}/lr=0.01`, [], [1, 2, 3].map((e) => rec("lr=0.01", e)), true);
      await attempt(`${logdir}/lr=0.1`, [], [1, 2, 3].map((e) => rec("lr=0.1", e)), false);
      await attempt(
        `${logdir}/lr=0.1`,
        [1, 2].map((e) => rec("lr=0.1", e)),
        [3, 4].map((e) => rec("lr=0.1", e, 1)),
        true,
      );
      await attempt(`${logdir}/lr=1`, [], [rec("lr=1", 1)], false);
      const last: Record<string, EpochMetrics> = {
        "lr=0.01": rec("lr=0.01", 3),
        "lr=0.1": rec("lr=0.1", 4, 1),
        "lr=1": rec("lr=1", 1),
      };
      const want = (m: EpochMetrics): Record<string, number> => ({
        "Accuracy/test": Math.fround(m.test.accuracy),
        "Loss/test": Math.fround(m.test.loss),
        "Accuracy/train": Math.fround(m.train.accuracy),
        "Loss/train": Math.fround(m.train.loss),
      });

      for (const loadFast of ["false", "auto"]) {
        const tb = await serve(TB.bin!, logdir, loadFast);
        try {
          const request = {
            experimentName: "",
            allowedStatuses: [
              "STATUS_UNKNOWN",
              "STATUS_SUCCESS",
              "STATUS_FAILURE",
              "STATUS_RUNNING",
            ],
            colParams: [
              ...Object.keys(GRID["lr=0.1"]).map((hparam) => ({ hparam })),
              ...EPOCH_METRICS.map((m) => ({ metric: { group: "", tag: m.tag } })),
            ],
            aggregationType: "AGGREGATION_AVG",
            startIndex: 0,
            sliceSize: 100,
          };
          // Polled until every run is loaded at its last epoch (TensorBoard loads in the
          // background after it starts serving).
          const groups = await until(`the session groups (load_fast=${loadFast})`, async () => {
            const r = await postJson(`${tb.url}/data/plugin/hparams/session_groups`, request) as {
              sessionGroups?: SessionGroup[];
            };
            const g = r.sessionGroups ?? [];
            const loaded = g.length === 3 && g.every((x) =>
              x.metricValues.length === 4 &&
              x.metricValues.every((v) => v.trainingStep === last[x.name]?.epoch)
            );
            return loaded ? g : undefined;
          });
          const listing = await getJson(`${tb.url}/data/plugins_listing`) as Record<
            string,
            { enabled: boolean }
          >;
          assert(listing.hparams?.enabled, `hparams plugin active: ${JSON.stringify(listing)}`);
          assert(listing.scalars?.enabled);

          const exp = await postJson(`${tb.url}/data/plugin/hparams/experiment`, {
            experimentName: "",
          }) as {
            hparamInfos: { name: string; type: string }[];
            metricInfos: { name: { tag: string }; datasetType: string }[];
          };
          assertEquals(
            Object.fromEntries(exp.hparamInfos.map((h) => [h.name, h.type])),
            {
              lr: "DATA_TYPE_FLOAT64",
              optimizer: "DATA_TYPE_STRING",
              augment: "DATA_TYPE_BOOL",
              batch_size: "DATA_TYPE_FLOAT64",
            },
          );
          assertEquals(
            exp.metricInfos.map((m) => [m.name.tag, m.datasetType]),
            EPOCH_METRICS.map((m) => [
              m.tag,
              m.dataset === "training" ? "DATASET_TRAINING" : "DATASET_VALIDATION",
            ]),
          );

          assertEquals(groups.map((g) => g.name).sort(), Object.keys(GRID).sort());
          for (const g of groups) {
            assertEquals(g.hparams, GRID[g.name], `${g.name} hparams`);
            assertEquals(g.sessions.map((s) => s.name), [g.name]);
            assertEquals(
              g.sessions[0].status,
              g.name === "lr=1" ? "STATUS_UNKNOWN" : "STATUS_SUCCESS",
              `${g.name} status`,
            );
            const got = Object.fromEntries(g.metricValues.map((v) => [v.name.tag, v.value]));
            assertEquals(got, want(last[g.name]), `${g.name} metrics (load_fast=${loadFast})`);
          }

          // The resumed run is one run whose replayed epoch and steps show once.
          const scalars = async (run: string, tag: string) =>
            (await getJson(
              `${tb.url}/data/plugin/scalars/scalars?run=${encodeURIComponent(run)}&tag=${
                encodeURIComponent(tag)
              }`,
            ) as [number, number, number][]).map(([, step, value]) => [step, value]);
          const runs = await getJson(`${tb.url}/data/runs`) as string[];
          assertEquals(runs.sort(), Object.keys(GRID).sort());
          assertEquals(
            await scalars("lr=0.1", "Loss/train"),
            [[1, 1], [2, 0.5], [3, 4 / 3], [4, 1.25]].map(([s, v]) => [s, Math.fround(v)]),
          );
          assertEquals(
            (await scalars("lr=0.1", STEP_LOSS_TAG)).map(([s]) => s),
            [5, 10, 15, 20, 25, 30, 35, 40],
          );
        } finally {
          await tb.stop();
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
