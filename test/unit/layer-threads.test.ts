import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rng, sameBits } from "../helpers/rng.js";
import { sparseArray } from "../helpers/backend.js";
import { matmulTransATs, matmulTransBTs, matmulTs } from "../../src/nn/matmul.js";
import {
  configureLayers, layersActive, layerBuffer, layerCopiedBytes, layerHelperRows, layerMatmul, layerMemoryBytes, layersReady, layerRelease, layerSplitProducts,
  type MatmulLayout,
} from "../../src/kernels/layers/index.js";
import { Scratch } from "../../src/nn/scratch.js";
import { relaxedSimdAvailable } from "../../src/kernels/layers/module.js";
import { SplitPlanner } from "../../src/kernels/layers/split.js";
import { MODEL_NAMES, MODEL_PRESETS, createModel, type ModelName } from "../../src/models/index.js";

// The dense kernels on two threads (a helper thread runs a row range of each
// large product over the shared memory) and with fused multiply-adds.

type Product = (a: Float32Array, b: Float32Array, out: Float32Array, m: number, k: number, n: number) => void;
const LAYOUTS: { layout: MatmulLayout; ref: Product; aLen: (m: number, k: number) => number; bLen: (k: number, n: number) => number }[] = [
  { layout: "nn", ref: matmulTs, aLen: (m, k) => m * k, bLen: (k, n) => k * n },
  { layout: "tn", ref: matmulTransATs, aLen: (m, k) => k * m, bLen: (k, n) => k * n },
  { layout: "nt", ref: matmulTransBTs, aLen: (m, k) => m * k, bLen: (k, n) => n * k },
];

after(() => {
  configureLayers({ threads: 1, fma: false, splitMin: 1 << 20 });
});

test("two threads: every layout and ragged shapes give the TypeScript reference's bits, whatever the split", async () => {
  configureLayers({ threads: 2, fma: false, splitMin: 0 });
  const got = await layersReady();
  assert.equal(got.threads, 2, "this machine has 2 cores (the CI machines do)");
  const r = rng(31);
  const shapes: number[][] = [[512, 312, 64], [352, 512, 64], [512, 64, 352], [513, 77, 9], [9, 5, 3], [8, 1, 2], [12, 3, 17], [100, 100, 100]];
  for (let i = 0; i < 40; i++) shapes.push([8 + Math.floor(r() * 300), 1 + Math.floor(r() * 130), 2 + Math.floor(r() * 90)]);
  const before = layerSplitProducts(), rowsBefore = layerHelperRows();
  let calls = 0;
  // A phase, as in training: the helper waits for work spinning, so that it takes blocks.
  layersActive(true);
  for (const [m, k, n] of shapes) {
    for (const v of LAYOUTS) {
      const a = sparseArray(r, v.aLen(m, k)), b = sparseArray(r, v.bLen(k, n));
      const want = new Float32Array(m * n);
      v.ref(a, b, want, m, k, n);
      // Three calls of one shape: split, whole, then whichever was faster.
      for (let rep = 0; rep < 3; rep++) {
        const out = new Float32Array(m * n).fill(NaN);
        layerMatmul(v.layout, a, b, out, m, k, n);
        calls++;
        assert.ok(sameBits(out, want), `${v.layout} ${m}x${k}x${n} call ${rep}`);
      }
    }
  }
  layersActive(false);
  // The first call of a shape is always split (then timings decide), and the helper computed some of their rows.
  assert.ok(layerSplitProducts() - before >= calls / 3, `${layerSplitProducts() - before} of ${calls} products ran on both threads`);
  assert.ok(layerHelperRows() - rowsBefore > 0, "the helper thread computed no rows");
});

test("one and two threads: products read and write buffers of the kernels' memory in place, and an output overlapping an input still gets the reference's bits", async () => {
  for (const threads of [1, 2]) {
    configureLayers({ threads, fma: false, splitMin: 0 });
    await layersReady();
    const r = rng(12);
    for (const [m, k, n] of [[64, 48, 48], [37, 19, 19], [512, 64, 64]]) {
      for (const v of LAYOUTS.filter((l) => l.layout !== "tn")) {
        const where = `${threads} thread(s), ${v.layout} ${m}x${k}x${n}`;
        const a = layerBuffer(v.aLen(m, k)), b = layerBuffer(v.bLen(k, n)), out = layerBuffer(m * n);
        assert.ok(a.buffer instanceof SharedArrayBuffer, `${where}: the buffer lives in the shared memory`);
        a.set(sparseArray(r, a.length));
        b.set(sparseArray(r, b.length));
        const want = new Float32Array(m * n);
        v.ref(a.slice(), b.slice(), want, m, k, n);
        // In place: nothing copied in or out.
        const copied = layerCopiedBytes();
        layerMatmul(v.layout, a, b, out, m, k, n);
        assert.equal(layerCopiedBytes(), copied, `${where}: nothing copied`);
        assert.ok(sameBits(out, want), `${where} in place`);
        // The output is the input itself (k = n: same length), then overlaps it by a few floats.
        const a2 = a.slice();
        layerMatmul(v.layout, a, b, a, m, k, n);
        assert.ok(sameBits(a, want), `${where}: output = input`);
        const big = layerBuffer(v.aLen(m, k) + 3);
        big.set(a2);
        const shifted = big.subarray(3, 3 + m * n);
        layerMatmul(v.layout, big, b, shifted, m, k, n);
        assert.ok(sameBits(shifted, want), `${where}: output overlapping the input`);
        // A call's arrays are its own: the next call writes in place over what the last one read.
        const before = layerCopiedBytes();
        layerMatmul(v.layout, a2, b, shifted, m, k, n);
        assert.equal(layerCopiedBytes() - before, a2.length * 4, `${where}: only the input outside the memory copied`);
        assert.ok(sameBits(shifted, want), `${where}: after an overlapping call`);
        // A short output is refused (written in place, the kernel would write past it).
        assert.throws(() => layerMatmul(v.layout, a2, b, out.subarray(0, m * n - 1), m, k, n), /output holds/);
      }
    }
  }
});

test("two threads: a freed buffer's memory is reused (zeroed), a growing Scratch frees the buffer it outgrew, other arrays are ignored", async () => {
  // Fresh kernels (a settings change drops them): their memory starts small.
  configureLayers({ threads: 1, fma: false });
  configureLayers({ threads: 2 });
  await layersReady();
  const a = layerBuffer(1000);
  a.fill(7);
  layerRelease(a);
  const b = layerBuffer(1000);
  assert.equal(b.byteOffset, a.byteOffset, "the freed block is reused");
  assert.ok(b.every((x) => x === 0), "and zeroed");
  layerRelease(new Float32Array(10));
  layerRelease(b);
  // A Scratch that grows step by step reuses what it freed: the memory (which
  // doubles as it grows) stays within 4x the largest buffer, 4 MiB. Holding
  // them all, 34 MiB, it grew to 56 MiB.
  const s = new Scratch();
  for (let n = 1 << 16; n <= 1 << 20; n += 1 << 16) s.take(n).fill(1);
  assert.ok(layerMemoryBytes() <= 16 * (1 << 20), `the memory grew to ${layerMemoryBytes()} bytes`);
});

/** Logits, input gradients and parameter gradients of two training steps of a preset model. */
function modelSteps(name: ModelName): Float32Array[] {
  const m = createModel(name, { ...MODEL_PRESETS[name], seed: 3 });
  const r = rng(5);
  const out: Float32Array[] = [];
  for (let step = 0; step < 2; step++) {
    const xs = m.inputs.map((s) => sparseArray(r, 512 * s.fields * s.rowLength, 0.2));
    const logits = m.forward(xs, 512, true);
    out.push(logits.slice());
    const dy = Float32Array.from(logits, (z, i) => (1 / (1 + Math.exp(-z)) - (i % 3 === 0 ? 1 : 0)) / 512);
    for (const g of m.backward(dy, 512)) out.push(g.slice());
    for (const p of m.params()) out.push(p.grad.slice());
  }
  return out;
}

test("every model: the same logits and gradients, bit for bit, on one thread and on two", async () => {
  for (const name of MODEL_NAMES) {
    configureLayers({ threads: 1, fma: false });
    const one = modelSteps(name);
    configureLayers({ threads: 2, splitMin: 1 << 16 });
    await layersReady();
    const before = layerSplitProducts();
    const two = modelSteps(name);
    if (name !== "lr") assert.ok(layerSplitProducts() > before, `${name}: some products were split`);
    assert.equal(one.length, two.length);
    one.forEach((a, i) => assert.ok(sameBits(a, two[i]), `${name}: array ${i} differs`));
  }
});

test("fma: products are fused (one rounding per multiply-add), on one thread and on two", async (t) => {
  if (!relaxedSimdAvailable()) {
    t.skip("no relaxed SIMD in this runtime");
    return;
  }
  // c(0,0) = x*x + x*(-y) with x = 1 + 2^-23, y = 1 + 2^-22: x*x rounds to 1 + 2^-22;
  // unfused, x*y rounds to 1 + 3 * 2^-23 and the sum is exactly -2^-23; fused, the
  // exact x*y is used: -(2^-23 + 2^-45).
  const x = 1 + 2 ** -23, y = 1 + 2 ** -22;
  const m = 8, k = 2, n = 8;
  const a = new Float32Array(m * k).fill(0.5), b = new Float32Array(k * n).fill(0.25);
  a[0] = x; a[1] = x; b[0] = x; b[n] = -y;
  const expectFused = Math.fround(-(2 ** -23 + 2 ** -45)), expectPlain = -(2 ** -23);
  assert.notEqual(expectFused, expectPlain);
  for (const [threads, fma, want] of [[1, false, expectPlain], [1, true, expectFused], [2, true, expectFused]] as const) {
    configureLayers({ threads, fma, splitMin: 0 });
    await layersReady();
    const out = new Float32Array(m * n);
    layerMatmul("nn", a, b, out, m, k, n);
    assert.equal(out[0], want, `threads ${threads} fma ${fma}`);
    assert.equal(out[1], Math.fround(Math.fround(x * 0.25) + Math.fround(x * 0.25)), "other elements: exact here either way");
  }
});

test("fma: within the float32 error bound of the exact product, and the same on one thread and on two", async (t) => {
  if (!relaxedSimdAvailable()) {
    t.skip("no relaxed SIMD in this runtime");
    return;
  }
  const r = rng(41);
  let differs = 0;
  for (const [m, k, n] of [[512, 312, 64], [37, 129, 21], [64, 512, 33]]) {
    for (const v of LAYOUTS) {
      const a = sparseArray(r, v.aLen(m, k)), b = sparseArray(r, v.bLen(k, n));
      configureLayers({ threads: 1, fma: true, splitMin: 0 });
      const one = new Float32Array(m * n);
      layerMatmul(v.layout, a, b, one, m, k, n);
      configureLayers({ threads: 2 });
      await layersReady();
      const two = new Float32Array(m * n);
      layerMatmul(v.layout, a, b, two, m, k, n);
      assert.ok(sameBits(one, two), `${v.layout} ${m}x${k}x${n}: fma on one thread and on two`);
      const plain = new Float32Array(m * n);
      v.ref(a, b, plain, m, k, n);
      // Exact sums in float64 (products of float32 are exact in float64; k <= 512 adds of them lose < 2^-40 relative).
      const at = (i: number, p: number): number => (v.layout === "tn" ? a[p * m + i] : a[i * k + p]);
      const bt = (p: number, j: number): number => (v.layout === "nt" ? b[j * k + p] : b[p * n + j]);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let exact = 0, mag = 0;
          for (let p = 0; p < k; p++) {
            exact += at(i, p) * bt(p, j);
            mag += Math.abs(at(i, p) * bt(p, j));
          }
          const bound = 1.01 * k * 2 ** -24 * mag + 2 ** -149;
          assert.ok(Math.abs(one[i * n + j] - exact) <= bound, `${v.layout} ${m}x${k}x${n} (${i},${j}): ${one[i * n + j]} vs ${exact}`);
          if (one[i * n + j] !== plain[i * n + j]) differs++;
        }
      }
    }
  }
  assert.ok(differs > 0, "fused products round differently somewhere");
});

test("a process with the helper thread running exits on its own (the thread never keeps it alive)", () => {
  const kernels = fileURLToPath(new URL("../../src/kernels/layers/index.js", import.meta.url));
  const script = `
    import { configureLayers, layersReady, layerMatmul, layerSplitProducts } from ${JSON.stringify(kernels)};
    configureLayers({ threads: 2, splitMin: 0 });
    await layersReady();
    const a = new Float32Array(64 * 64).fill(1), out = new Float32Array(64 * 64);
    layerMatmul("nn", a, a, out, 64, 64, 64);
    console.log(out[0], layerSplitProducts());`;
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-dense-exit-"));
  const file = join(dir, "run.mjs");
  writeFileSync(file, script);
  const res = spawnSync(process.execPath, [file], { encoding: "utf8", timeout: 20_000 });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(res.error, undefined, `did not exit: ${String(res.error)}`);
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stdout.trim(), "64 1");
});

test("configureLayers refuses bad settings", () => {
  assert.throws(() => configureLayers({ threads: 0 }), /positive integer/);
  assert.throws(() => configureLayers({ threads: 1.5 }), /positive integer/);
  assert.throws(() => configureLayers({ splitMin: -1 }), /non-negative/);
});

test("the split planner: warm-up uncounted, then each way once, then the faster, with probes of the other way", () => {
  const p = new SplitPlanner();
  const a = p.slot(0, 512, 312, 64), b = p.slot(1, 352, 512, 64);
  assert.notEqual(a, b);
  assert.equal(p.slot(0, 512, 312, 64), a);
  // Warm-up: 8 calls alternate, and their (here absurd) times are not counted.
  for (let i = 0; i < 8; i++) {
    const split = p.split(a);
    assert.equal(split, i % 2 === 0, `warm-up call ${i}`);
    if (split) p.splitDone(a, 100);
    else p.wholeDone(a, 100);
  }
  // Each way once more sets the averages: split 1 ms, whole 2 ms.
  assert.equal(p.split(a), true);
  p.splitDone(a, 1.0);
  assert.equal(p.split(a), false);
  p.wholeDone(a, 2.0);
  // Split is faster: split, except the probe of the whole path once in 32 calls.
  const choices: boolean[] = [];
  for (let i = 0; i < 64; i++) choices.push(p.split(a));
  assert.equal(choices.filter((x) => !x).length, 2);
  // The whole path becomes faster (a busy machine): whole, except one split probe in 32.
  for (let i = 0; i < 40; i++) p.wholeDone(a, 0.1);
  for (let i = 0; i < 40; i++) p.splitDone(a, 3.0);
  const later: boolean[] = [];
  for (let i = 0; i < 64; i++) later.push(p.split(a));
  assert.equal(later.filter((x) => x).length, 2);
  // A probe of the way not taken weighs 1/2: six fast split probes (3 ms halved
  // toward 0.01 ms each time) bring splitting back below whole's 0.1 ms.
  for (let i = 0; i < 6; i++) p.splitDone(a, 0.01);
  const back: boolean[] = [];
  for (let i = 0; i < 8; i++) back.push(p.split(a));
  assert.ok(back.filter((x) => x).length >= 7, String(back));
  // Another shape keeps its own record: still in its warm-up.
  assert.equal(p.split(b), true);
  assert.equal(p.split(b), false);
});

test("sparsectr train --fma: reported in the JSON, deterministic, and within float rounding of the default kernels' model (AUC)", async () => {
  const { createGenerator, generateFiles, synthConfig } = await import("../../src/data/synth/index.js");
  const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-fma-cli-"));
  try {
    const data = join(dir, "train.txt");
    await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 3, scale: 0.01 })), { format: "criteo", start: 0, rows: 20_000, out: data, truth: null });
    const run = (...extra: string[]): { fma: boolean; auc: number; modelSha256: string } => {
      const r = spawnSync(process.execPath, [cli, "train", "--train", data, "--model", "dcn", "--holdout", "0.2", "--json", ...extra], { encoding: "utf8", timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split("\n").pop()!) as { fma: boolean; auc: number; modelSha256: string };
    };
    const plain = run("--threads", "2"), fused = run("--threads", "2", "--fma"), again = run("--threads", "1", "--fma");
    assert.equal(plain.fma, false);
    assert.equal(fused.fma, true);
    assert.notEqual(fused.modelSha256, plain.modelSha256, "fused products round differently");
    assert.equal(again.modelSha256, fused.modelSha256, "fma: the same model on one thread and on two");
    assert.ok(Math.abs(fused.auc - plain.auc) < 0.002, `AUC ${fused.auc} vs ${plain.auc}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("training on two threads (reader, lookahead, products split or whole) gives the one-thread model bit for bit; on both, only parameters and gradients are copied into the kernels' memory", async () => {
  const { createGenerator, generateFiles, synthConfig } = await import("../../src/data/synth/index.js");
  const { openData, prefetched } = await import("../../src/index.js");
  const { buildModel } = await import("../../src/train/model.js");
  const { trainModel } = await import("../../src/train/trainer.js");
  const dir = mkdtempSync(join(tmpdir(), "sparsectr-two-threads-"));
  try {
    const data = join(dir, "train.txt");
    const steps = 40;
    await generateFiles(createGenerator(synthConfig({ preset: "criteo", seed: 8, scale: 0.01 })), { format: "criteo", start: 0, rows: 512 * steps, out: data, truth: null });
    // dcn's products are small (its phases soon run whole with the helper
    // asleep, a few still split to measure); deepfm's are large (split).
    for (const model of ["dcn", "deepfm"] as const) {
      const shas: string[] = [], copied: number[] = [];
      let splits = 0, paramBytes = 0;
      for (const threads of [1, 2]) {
        configureLayers({ threads });
        await layersReady();
        const before = layerSplitProducts();
        const f = prefetched(await openData(data, { batchSize: 512 }), threads > 1);
        const m = buildModel(f.fields.length, { model, optimizer: "group-adam", hyper: { l21: 1e-3 }, seed: 4 });
        const c0 = layerCopiedBytes();
        await trainModel(m, f);
        copied.push(layerCopiedBytes() - c0);
        shas.push(m.sha256());
        paramBytes = m.params.reduce((s, p) => s + p.value.length * 4, 0);
        if (threads === 2) splits = layerSplitProducts() - before;
      }
      assert.equal(shas[1], shas[0], model);
      // The activations live in the kernels' memory: only parameters and
      // their gradients cross, about three times the parameters' bytes a
      // step (weights in for forward and backward, gradients out). With the
      // activations copied too, dcn crossed 105 times that on one thread.
      assert.equal(copied[1], copied[0], `${model}: the same bytes copied on one thread and on two`);
      assert.ok(copied[0] <= 4 * paramBytes * steps, `${model}: ${copied[0]} bytes copied, ${paramBytes} bytes of parameters`);
      if (model === "deepfm") assert.ok(splits > 0, "deepfm's products were split");
    }
  } finally {
    configureLayers({ threads: 1 });
    rmSync(dir, { recursive: true, force: true });
  }
});
