/**
 * Bad search flags are refused with exit code 2 and one line (plus the usage line) before
 * any GPU work, as tests/e2e/bad_input_test.ts checks the other flags: every case runs with
 * `WEBGPU_TRAIN_NO_GPU=1`, under which starting WebGPU throws. A password in a bad
 * `--storage` URL is never printed nor written.
 */
import { assert, assertEquals } from "../assert.ts";
import { cli, TINY } from "./_cli.ts";
import { filesHolding, smallData } from "./_search.ts";
import { parseSpace } from "../../training/search/space.ts";
import { randomSampler } from "../../training/search/sampler.ts";
import { noPruner } from "../../training/search/pruner.ts";
import { openSqliteStudy } from "../../training/search/study_sqlite.ts";
import { tempDir } from "../_temp.ts";

const NO_GPU = { WEBGPU_TRAIN_NO_GPU: "1" };
const R = ["--search", "random"];
const LR = ["--grid", "lr=loguniform(1e-4,1e-2)"];

type Case = [what: string, args: string[], message: RegExp];

const CASES: Case[] = [
  ["unknown search", ["--search", "nosuch", ...LR], /--search: unknown search "nosuch"/],
  ["tpe setting", ["--search", "tpe:startup=-1", ...LR], /--search tpe: startup must be/],
  ["tpe liar", ["--search", "tpe:liar=maybe", ...LR], /--search tpe: liar must be on or off/],
  ["unknown pruner", [...R, ...LR, "--prune", "nosuch"], /--prune: unknown pruner "nosuch"/],
  ["asha eta 1", [...R, ...LR, "--prune", "asha:eta=1"], /--prune asha: eta must be a number > 1/],
  ["asha setting", [...R, ...LR, "--prune", "asha:rungs=2"], /unknown setting "rungs"/],
  [
    "asha grace >= epochs",
    [...R, ...LR, "--epochs", "2", "--prune", "asha:grace=2"],
    /grace 2 must be below --epochs 2/,
  ],
  ["median setting", [...R, ...LR, "--prune", "median:warmup=x"], /warmup must be a whole/],
  ["trials 0", [...R, ...LR, "--trials", "0"], /--trials must be a whole number from 1/],
  ["trials 2.5", [...R, ...LR, "--trials", "2.5"], /--trials must be a whole number from 1/],
  ["workers 0", [...R, ...LR, "--workers", "0"], /--workers must be a whole number from 1/],
  ["loguniform from 0", [...R, "--grid", "lr=loguniform(0,1)"], /lr: loguniform needs 0 < low/],
  ["uniform reversed", [...R, "--grid", "lr=uniform(0.1,0.01)"], /lr: uniform needs two numbers/],
  ["int bounds", [...R, "--grid", "seed=int(3,1)"], /seed: int needs two integers low <= high/],
  [
    "range out of the flag's",
    [...R, "--grid", "lr=uniform(-1,1)"],
    /--grid lr=uniform\(-1,1\): --lr must be a number > 0, got -1/,
  ],
  [
    "fractions for an integer flag",
    [...R, "--grid", "batch_size=uniform(2,8)"],
    /--batch-size must be a whole number/,
  ],
  ["unknown key", [...R, "--grid", "nosuch=uniform(0,1)"], /"nosuch" is not a hyper-parameter/],
  ["no space", [...R], /--search random needs the space to search in --grid/],
  ["distribution in a grid", [...LR], /is a distribution; --search grid needs lists/],
  ["--trials for a grid", ["--trials", "5"], /--trials is for --search random or tpe/],
  ["--workers for a grid", ["--workers", "2"], /--workers is for --search random or tpe/],
  ["--resume of a study", [...R, ...LR, "--resume", "/nonexistent"], /--resume is for grid/],
  ["bad study name", [...R, ...LR, "--study", ""], /--study: bad study name ""/],
  ["--out under a file", [...R, ...LR, "--out", "README.md/study"], /README\.md is not a folder/],
  [
    "not a postgres URL",
    [...R, ...LR, "--storage", "mysql://u:hunter2@h/db"],
    /--storage must be a postgres:\/\/ URL/,
  ],
  [
    "bad port in the URL",
    [...R, ...LR, "--storage", "postgres://u:hunter2@h:99999/db"],
    /--storage is not a valid postgres:\/\/ URL \(check the port/,
  ],
];

async function refused(what: string, args: string[], message: RegExp): Promise<string> {
  const r = await cli(args, NO_GPU);
  const lines = r.err.trim().split("\n");
  assertEquals(r.code, 2, `${what}: exit ${r.code}\n${r.out}\n${r.err}`);
  assert(message.test(lines[0]), `${what}: first line "${lines[0]}" lacks ${message}`);
  assert(lines.length === 2 && /usage/.test(lines[1]), `${what}: ${r.err}`);
  assert(!/^\s+at /m.test(r.err), `${what}: stack trace\n${r.err}`);
  assert(!(r.out + r.err).includes("hunter2"), `${what}: the password was printed`);
  return r.out + r.err;
}

Deno.test("bad search flags exit 2 with one line, before any GPU work", async (t) => {
  const data = await smallData();
  const base = await tempDir("search-bad-");
  for (const [k, [what, args, message]] of CASES.entries()) {
    await t.step(what, async () => {
      const out = `${base}/out${k}`;
      await refused(what, [TINY, "--data", data, "--out", out, ...args], message);
      // Nothing written, or (a store that could not be opened) no password in what was.
      const made = await Deno.stat(out).then(() => true, () => false);
      if (made) assertEquals(await filesHolding(out, ["hunter2"]), []);
      else assert(!made);
    });
  }
});

Deno.test("--study with another definition than the stored one exits 2 naming the difference", async () => {
  const data = await smallData();
  const out = await tempDir("search-def-");
  const stored = await openSqliteStudy(`${out}/study.sqlite`, "s", {
    space: parseSpace("lr=uniform(0.001,0.01)"),
    sampler: randomSampler(),
    pruner: noPruner(),
    seed: 0,
    nTrials: 4,
    direction: "max",
  });
  await stored.close();
  const args = [TINY, "--data", data, "--out", out, ...R, ...LR, "--study", "s", "--trials", "4"];
  const text = await refused("another definition", args, /--study: study "s" in .* different/);
  assert(
    /space lr: loguniform\(0\.0001,0\.01\) here, uniform\(0\.001,0\.01\) in the study/.test(text),
    text,
  );
  assert(!/version_/.test([...Deno.readDirSync(out)].map((e) => e.name).join()), "no folder");
});
