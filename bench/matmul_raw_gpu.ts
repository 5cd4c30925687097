/**
 * The device side of the raw matmul harness (`bench/matmul_raw.ts`): opens a WebGPU device
 * with the adapter's full limits, compiles and binds the storage-buffer and texture
 * kernels of `core/ops/matmul_wgsl.ts` / `matmul_texture.ts`, and moves float32 data to
 * and from GPU buffers.
 *
 * @module
 */

import {
  type CpuTuning,
  type KernelPlan,
  matmulPlan,
  type MatmulSpec,
} from "../core/ops/matmul_wgsl.ts";
import { adapterVariant } from "../core/gpu.ts";
import {
  matmulTexturePlan,
  type PackStep,
  type TexLimits,
  type TexTuning,
} from "../core/ops/matmul_texture.ts";

/** A device with the adapter's description and the kernel family picked for it. */
export interface RawDevice {
  /** The WebGPU device. */
  device: GPUDevice;
  /** Adapter description (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  description: string;
  /** Kernel family chosen by `pickVariant`. */
  variant: "cpu" | "gpu";
}

/** Requests an adapter and a device with the adapter's full storage limits. */
export async function openDevice(): Promise<RawDevice> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) {
    throw new Error(
      "no WebGPU adapter: install a GPU driver, or Mesa's mesa-vulkan-drivers and set " +
        "DENO_WEBGPU_BACKEND=vulkan",
    );
  }
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxTextureDimension2D: adapter.limits.maxTextureDimension2D,
      maxTextureArrayLayers: adapter.limits.maxTextureArrayLayers,
    },
  });
  return { device, description: adapter.info.description, variant: adapterVariant(adapter.info) };
}

/** A compiled matmul with its buffers bound, ready to encode. */
export interface BoundMatmul {
  /** The plan it was compiled from. */
  plan: KernelPlan;
  /** Encodes one dispatch into `pass`. */
  encode(pass: GPUComputePassEncoder): void;
}

/** Compiles `plan` and binds the given buffers (A, B, C[, bias]). */
export function bindMatmul(
  device: GPUDevice,
  plan: KernelPlan,
  buffers: GPUBuffer[],
): BoundMatmul {
  const module = device.createShaderModule({ code: plan.code });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.slice(0, plan.bindings).map((buffer, binding) => ({
      binding,
      resource: { buffer },
    })),
  });
  return {
    plan,
    encode(pass) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(...plan.workgroups);
    },
  };
}

/** Which kernel runs: the texture kernel (tuning: `TexTuning`) or the storage one. */
export type Kernel = { kind: "texture"; tuning?: Partial<TexTuning> } | {
  kind: "storage";
  tuning?: Partial<CpuTuning>;
};

function pipelineOf(device: GPUDevice, code: string): GPUComputePipeline {
  const module = device.createShaderModule({ code });
  return device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
}

/**
 * Compiles the texture plan of `s` and binds the buffers (A, B, C[, bias]); `encode`
 * records the packing of both operands (into fresh textures) and the product, or the
 * product alone with `packing` false (the textures keep what the last packing wrote).
 */
export function bindTextureMatmul(
  device: GPUDevice,
  s: MatmulSpec,
  buffers: GPUBuffer[],
  tuning?: Partial<TexTuning>,
): { encode(enc: GPUCommandEncoder, packing?: boolean): void; code: string } {
  const lim: TexLimits = {
    maxDim: device.limits.maxTextureDimension2D,
    maxLayers: device.limits.maxTextureArrayLayers,
  };
  const plan = matmulTexturePlan(s, lim, tuning);
  if (!plan) throw new Error(`no texture plan for ${JSON.stringify(s)}`);
  const usage = GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING |
    GPUTextureUsage.COPY_DST;
  const texs = [plan.a, plan.b].map((o) =>
    device.createTexture({
      size: [o.size.width, o.size.height, o.size.layers],
      format: "rgba32float",
      usage,
    })
  );
  const packs = [plan.a, plan.b].map((o, i) => {
    let staging: GPUBuffer | null = null;
    return o.steps.map((st: PackStep) => {
      if (st.kind === "copy") return { ...st, src: st.staged ? staging! : buffers[i] };
      if (st.kind === "flat") throw new Error("no flat operands here (the plan has no flatRows)");
      staging = device.createBuffer({
        size: st.bytes,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
      });
      const p = pipelineOf(device, st.code);
      const bg = device.createBindGroup({
        layout: p.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: { buffer: buffers[i] } }, {
          binding: 1,
          resource: { buffer: staging },
        }],
      });
      return { p, bg, workgroups: st.workgroups };
    });
  });
  const p = pipelineOf(device, plan.code);
  const bg = device.createBindGroup({
    layout: p.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: texs[0].createView({ dimension: "2d-array" }) },
      { binding: 1, resource: texs[1].createView({ dimension: "2d-array" }) },
      { binding: 2, resource: { buffer: buffers[2] } },
      ...(s.bias ? [{ binding: 3, resource: { buffer: buffers[3] } }] : []),
    ],
  });
  return {
    code: plan.code,
    encode(enc, packing = true) {
      if (packing) {
        packs.forEach((steps, i) => {
          for (const st of steps) {
            if ("kind" in st) {
              enc.copyBufferToTexture(
                {
                  buffer: st.src,
                  offset: st.offset,
                  bytesPerRow: st.bytesPerRow,
                  rowsPerImage: st.rows,
                },
                { texture: texs[i], origin: [0, st.y, st.layer] },
                [st.width, st.rows, st.layers ?? 1],
              );
            } else {
              const pass = enc.beginComputePass();
              pass.setPipeline(st.p);
              pass.setBindGroup(0, st.bg);
              pass.dispatchWorkgroups(...st.workgroups);
              pass.end();
            }
          }
        });
      }
      const pass = enc.beginComputePass();
      pass.setPipeline(p);
      pass.setBindGroup(0, bg);
      pass.dispatchWorkgroups(...plan.workgroups);
      pass.end();
    },
  };
}

/** A storage buffer (also a copy source and destination) holding `data`. */
export function storage(device: GPUDevice, data: Float32Array): GPUBuffer {
  const buffer = device.createBuffer({
    size: Math.max(16, data.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
  return buffer;
}

/** Copies the first `length` floats of `src` back to the host. */
export async function readBack(
  device: GPUDevice,
  src: GPUBuffer,
  length: number,
): Promise<Float32Array> {
  const staging = device.createBuffer({
    size: Math.max(16, length * 4),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, length * 4);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0, length * 4));
  staging.unmap();
  staging.destroy();
  return out;
}

/** Records one matmul of `s` (packing included) with `kernel` on `bufs` into `enc`. */
export function encoderFor(
  device: GPUDevice,
  s: MatmulSpec,
  bufs: GPUBuffer[],
  kernel: Kernel,
): (enc: GPUCommandEncoder, packing?: boolean) => void {
  if (kernel.kind === "texture") return bindTextureMatmul(device, s, bufs, kernel.tuning).encode;
  const mm = bindMatmul(device, matmulPlan(s, kernel.tuning), bufs);
  return (enc) => {
    const pass = enc.beginComputePass();
    mm.encode(pass);
    pass.end();
  };
}

/** The kernel the engine uses for `variant`: textures on software adapters. */
export function defaultKernel(variant: "cpu" | "gpu"): Kernel {
  return variant === "cpu" ? { kind: "texture" } : { kind: "storage" };
}
