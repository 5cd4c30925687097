/**
 * The step profiler (core/profile.ts): families named from the call stack, the timestamp
 * method (lavapipe offers timestamp-query) and the replay method agree on what ran, every
 * dispatch is counted once, and with no hook installed nothing is observed.
 */
import { assert, assertEquals } from "../assert.ts";
import { gpu, initGpu } from "../../core/gpu.ts";
import { relu } from "../../core/ops/elementwise.ts";
import { matmul } from "../../core/ops/matmul.ts";
import { familyOfStack, formatProfile, profileStep } from "../../core/profile.ts";
import { fromArray, tidy } from "../../core/tensor.ts";

Deno.test("profile: families come from the kernel's maker and the generator it used", () => {
  const stack = (...fns: [string, string][]) =>
    ["Error", ...fns.map(([f, file]) => `    at ${f} (file:///r/${file}:1:2)`)].join("\n");
  assertEquals(
    familyOfStack(stack(
      ["Gpu.dispatch", "core/gpu.ts"],
      ["packOperand", "core/ops/matmul.ts"],
      ["gemmInto", "core/ops/matmul.ts"],
      ["linear", "core/ops/matmul.ts"],
    )),
    "matmul/pack linear",
  );
  assertEquals(
    familyOfStack(stack(["Gpu.dispatch", "core/gpu.ts"], ["run", "core/ops/kernel.ts"], [
      "im2colTexture",
      "core/ops/conv_texture.ts",
    ])),
    "im2colTexture",
  );
  assertEquals(familyOfStack("Error\n    at file:///r/x.ts:1:2"), "?");
});

Deno.test("profile: both methods see every dispatch of a step, by family", async () => {
  await initGpu();
  const a = fromArray(Float32Array.from({ length: 96 * 80 }, (_, i) => Math.sin(i)), [96, 80]);
  const b = fromArray(Float32Array.from({ length: 80 * 72 }, (_, i) => Math.cos(i)), [80, 72]);
  const step = () => tidy(() => void relu(matmul(a, b)));
  step();
  await gpu().sync();
  const methods = gpu().timestamps ? ["timestamp", "replay"] as const : ["replay"] as const;
  for (const method of methods) {
    const p = await profileStep(step, { method, steps: 2, rounds: 1 });
    assertEquals(p.method, method);
    const dispatched = p.families.filter((f) => !/^(copy|clear|idle)/.test(f.family));
    assertEquals(dispatched.reduce((s, f) => s + f.count, 0), p.dispatches, JSON.stringify(p));
    assert(p.families.some((f) => f.family.startsWith("matmul")), JSON.stringify(p.families));
    assert(p.families.some((f) => /elementwise/.test(f.family)), JSON.stringify(p.families));
    assert(p.families.every((f) => f.ms >= 0 && Number.isFinite(f.ms)));
    assert(p.kernelMs > 0 && p.stepMs > 0, `${p.kernelMs} ${p.stepMs}`);
    assert(formatProfile(p).length >= 3);
  }
  // No hook after profiling: recording is observed by nobody.
  assertEquals(gpu().setHook(null), null);
  a.dispose();
  b.dispose();
});
