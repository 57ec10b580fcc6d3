import {
  WASM_MIN_WORK, matmul, matmulTransA, matmulTransATs, matmulTransB, matmulTransBTs, matmulTs,
} from "../src/nn/matmul.js";
import { MODEL_PRESETS, createModel, type ModelName } from "../src/models/index.js";
import { mulberry } from "./workload.js";
import { withBackend } from "../test/helpers/backend.js";
import { configureLayers, layerBuffer, layersReady, layerRelease } from "../src/kernels/layers/index.js";
import { relaxedSimdAvailable } from "../src/kernels/layers/module.js";

type Product = (a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number) => void;

/**
 * Dense layers of the paper's models (and deepfm): [inDim, outDim]. opnn's
 * first is its product layer: 16 x 10 embedding values and the 55 of the
 * folded outer product (src/nn/product.ts), one product.
 */
const LAYERS: [string, number, number][] = [
  ["mlp", 352, 64], ["mlp", 64, 32], ["mlp", 32, 16], ["mlp", 16, 1],
  ["dcn", 312, 64], ["dcn", 64, 64], ["dcn", 376, 1],
  ["opnn", 215, 512], ["opnn", 512, 256], ["opnn", 256, 128], ["opnn", 128, 1],
  ["deepfm", 390, 400], ["deepfm", 400, 400], ["deepfm", 400, 1],
];

/** Best seconds per call of f over `rounds` rounds of at least `minMs` each. */
function best(f: () => void, rounds: number, minMs: number): number {
  f();
  let reps = 1, t = 0;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) f();
    t = Number(process.hrtime.bigint() - t0) / 1e6;
    if (t >= minMs) break;
    reps *= 2;
  }
  let bestMs = t / reps;
  for (let r = 1; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) f();
    bestMs = Math.min(bestMs, Number(process.hrtime.bigint() - t0) / 1e6 / reps);
  }
  return bestMs / 1e3;
}

/**
 * `npm run bench -- layers`: the three matrix products on every dense layer's
 * forward (x W: batch x in x out), weight-gradient (x^T dy: in x batch x out)
 * and input-gradient (dy W^T: batch x out x in) shapes at batch 512, in GFLOPS
 * (2mkn per call), plain TypeScript vs WebAssembly SIMD, then WebAssembly on
 * two threads and with fused multiply-adds; then ms per forward + backward
 * step of each preset model at batch 512 with each backend and setting.
 * WebAssembly is timed twice: on ordinary arrays (each call copies the
 * operands into the kernels' memory and the result out), and on arrays that
 * live in that memory (layerBuffer), as the trainer's activations and
 * gradients do: the kernel alone. The 35 GFLOPS target is the kernel's.
 */
export async function benchLayers(emit: (o: object) => void, quick: boolean): Promise<void> {
  const batch = 512, rounds = quick ? 3 : 7, minMs = quick ? 20 : 60;
  const rand = mulberry(5);
  configureLayers({ threads: 1, fma: false });
  await layersReady();
  /** Best seconds per call of f on copies of a, b and out that live in the kernels' memory. */
  const resident = (f: Product, a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number): number => {
    const ra = layerBuffer(a.length), rb = layerBuffer(b.length), ro = layerBuffer(out.length);
    ra.set(a);
    rb.set(b);
    try {
      return withBackend("wasm", () => best(() => f(ra, rb, ro, m, k, n), rounds, minMs));
    } finally {
      for (const x of [ra, rb, ro]) layerRelease(x);
    }
  };
  const fill = (n: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rand() * 2 - 1;
    return a;
  };
  const variants: [string, Product, Product][] = [
    ["matmul", matmul, matmulTs], ["matmulTransA", matmulTransA, matmulTransATs], ["matmulTransB", matmulTransB, matmulTransBTs],
  ];
  // Per model: all its products of one step (flop-weighted GFLOPS); over all: the large shapes.
  const perModel = new Map<string, { flop: number; ts: number; wasm: number }>();
  const large: number[] = [], largeResident: number[] = [];
  const seen = new Set<string>();
  for (const [model, inDim, outDim] of LAYERS) {
    const shapes: [number, number, number][] = [[batch, inDim, outDim], [inDim, batch, outDim], [batch, outDim, inDim]];
    variants.forEach(([name, f, ref], v) => {
      const [m, k, n] = shapes[v];
      const a = fill(m * k), b = fill(k * n), out = new Float32Array(m * n);
      const flop = 2 * m * k * n;
      const wasm = withBackend("wasm", () => best(() => f(a, b, out, m, k, n), rounds, minMs));
      const inMemory = resident(f, a, b, out, m, k, n);
      const ts = best(() => ref(a, b, out, m, k, n), quick ? 2 : 3, minMs);
      const acc = perModel.get(model) ?? { flop: 0, ts: 0, wasm: 0 };
      acc.flop += flop; acc.ts += ts; acc.wasm += wasm;
      perModel.set(model, acc);
      const key = `${name} ${m}x${k}x${n}`;
      if (seen.has(key)) return;
      seen.add(key);
      if (m * k * n >= 1 << 20) {
        large.push(flop / wasm / 1e9);
        largeResident.push(flop / inMemory / 1e9);
      }
      emit({
        bench: "layers-product", model, variant: name, pass: ["forward", "weight-grad", "input-grad"][v], m, k, n,
        ts_gflops: +(flop / ts / 1e9).toFixed(2), wasm_gflops: +(flop / wasm / 1e9).toFixed(2), speedup: +(ts / wasm).toFixed(1),
        wasm_resident_gflops: +(flop / inMemory / 1e9).toFixed(2),
        ts_us: +(ts * 1e6).toFixed(1), wasm_us: +(wasm * 1e6).toFixed(1), wasm_resident_us: +(inMemory * 1e6).toFixed(1),
      });
    });
  }
  for (const [model, acc] of perModel) {
    emit({
      bench: "layers-products-per-step", model, batch, note: "all dense products of one forward + backward, flop-weighted",
      ts_ms: +(acc.ts * 1e3).toFixed(2), wasm_ms: +(acc.wasm * 1e3).toFixed(2),
      ts_gflops: +(acc.flop / acc.ts / 1e9).toFixed(2), wasm_gflops: +(acc.flop / acc.wasm / 1e9).toFixed(2),
    });
  }
  const minOf = (r: number[]): number => +Math.min(...r).toFixed(2);
  const meanOf = (r: number[]): number => +(r.reduce((x, y) => x + y, 0) / r.length).toFixed(2);
  emit({
    bench: "layers-summary", threads: 1, fma: false, shapes: large.length, note: "shapes with m*k*n >= 2^20 (the compute-bound ones); resident: operands in the kernels' memory",
    wasm_gflops_min: minOf(large), wasm_gflops_mean: meanOf(large),
    wasm_resident_gflops_min: minOf(largeResident), wasm_resident_gflops_mean: meanOf(largeResident),
    target_gflops: 35, meets_target: Math.min(...largeResident) >= 35,
  });

  // The large shapes again on two threads, and with fused multiply-adds.
  const settings: [number, boolean][] = [[2, false]];
  if (relaxedSimdAvailable()) settings.push([1, true], [2, true]);
  for (const [threads, fma] of settings) {
    configureLayers({ threads, fma });
    await layersReady();
    const rates: number[] = [], residentRates: number[] = [];
    for (const [, inDim, outDim] of LAYERS) {
      const shapes: [number, number, number][] = [[batch, inDim, outDim], [inDim, batch, outDim], [batch, outDim, inDim]];
      variants.forEach(([, f], v) => {
        const [m, k, n] = shapes[v];
        if (m * k * n < 1 << 20) return;
        const a = fill(m * k), b = fill(k * n), out = new Float32Array(m * n);
        rates.push((2 * m * k * n) / withBackend("wasm", () => best(() => f(a, b, out, m, k, n), rounds, minMs)) / 1e9);
        residentRates.push((2 * m * k * n) / resident(f, a, b, out, m, k, n) / 1e9);
      });
    }
    emit({
      bench: "layers-summary", threads, fma, shapes: rates.length, note: "shapes with m*k*n >= 2^20",
      wasm_gflops_min: minOf(rates), wasm_gflops_mean: meanOf(rates),
      wasm_resident_gflops_min: minOf(residentRates), wasm_resident_gflops_mean: meanOf(residentRates),
    });
  }
  configureLayers({ threads: 1, fma: false });

  // Small products: where WebAssembly starts to pay (WASM_MIN_WORK in src/nn/matmul.ts).
  for (const [m, k, n] of [[4, 4, 4], [4, 8, 8], [3, 5, 7], [6, 6, 8], [8, 8, 8], [16, 16, 16], [1, 512, 1], [2, 512, 2]]) {
    const a = fill(m * k), b = fill(k * n), out = new Float32Array(m * n);
    const wasm = withBackend("wasm", () => best(() => matmul(a, b, out, m, k, n), rounds, 5));
    const ts = best(() => matmulTs(a, b, out, m, k, n), rounds, 5);
    emit({
      bench: "layers-small", m, k, n, mkn: m * k * n, ts_us: +(ts * 1e6).toFixed(3), wasm_us: +(wasm * 1e6).toFixed(3),
      auto: m * k * n >= WASM_MIN_WORK ? "wasm" : "ts",
    });
  }

  const models: ModelName[] = ["mlp", "dcn", "opnn", "deepfm"];
  for (const name of models) {
    let m = createModel(name, { ...MODEL_PRESETS[name], seed: 1 });
    const r = mulberry(9);
    const xs = m.inputs.map((s) => Float32Array.from({ length: batch * s.fields * s.rowLength }, () => (r() - 0.5) * 0.1));
    const dy = Float32Array.from({ length: batch }, () => (r() - 0.5) / batch);
    const step = (): void => {
      m.forward(xs, batch, true);
      m.backward(dy, batch);
    };
    const ms: Record<string, number> = {};
    for (const b of ["wasm", "ts"] as const) {
      ms[b] = withBackend(b, () => best(step, b === "ts" ? (quick ? 2 : 3) : rounds, b === "ts" ? 0 : minMs)) * 1e3;
    }
    for (const [threads, fma] of settings) {
      configureLayers({ threads, fma });
      await layersReady();
      // Made under these settings, as training makes it: with two threads
      // its buffers then live in the kernels' memory (see layerBuffer).
      m = createModel(name, { ...MODEL_PRESETS[name], seed: 1 });
      ms[`wasm_${threads}${fma ? "_fma" : ""}`] = withBackend("wasm", () => best(step, rounds, minMs)) * 1e3;
    }
    configureLayers({ threads: 1, fma: false });
    const samples = batch / (ms.wasm / 1e3);
    emit({
      bench: "layers-model-step", model: name, batch, what: "forward (training) + backward, no optimizer",
      ts_ms: +ms.ts.toFixed(2), wasm_ms: +ms.wasm.toFixed(2), speedup: +(ms.ts / ms.wasm).toFixed(1),
      wasm_samples_per_sec: Math.round(samples),
      wasm_2_threads_ms: ms.wasm_2 === undefined ? null : +ms.wasm_2.toFixed(2),
      wasm_fma_ms: ms.wasm_1_fma === undefined ? null : +ms.wasm_1_fma.toFixed(2),
      wasm_2_threads_fma_ms: ms.wasm_2_fma === undefined ? null : +ms.wasm_2_fma.toFixed(2),
    });
  }
}
