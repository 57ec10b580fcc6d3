// The WebAssembly SIMD kernels against their plain TypeScript twins: same
// layout constants, and the same float32 bits for every rule, row length,
// norm mode and row-step mode, dense and sparse.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer, OPTIMIZER_NAMES, type Hyperparams, type OptimizerName } from "../../src/index.js";
import * as layout from "../../src/kernels/layout.js";
import { wasmExports } from "../../src/kernels/wasm.js";
import { randomArray, rng, sameBits } from "../helpers/rng.js";

test("layout constants of the TypeScript side equal those of the WebAssembly module", () => {
  const ex = wasmExports(new WebAssembly.Memory({ initial: 2 }));
  let checked = 0;
  for (const [k, v] of Object.entries(layout)) {
    const g = ex[k] as WebAssembly.Global | undefined;
    assert.ok(g, `the module exports ${k}`);
    assert.equal(Number(g.value), v, k);
    checked++;
  }
  assert.ok(checked > 40);
});

const REGS: Hyperparams[] = [
  {},
  { l1: 2e-3, l21: 5e-3, l2: 1e-3 },
  { l21: 0.05, l21Norm: "scaled" },
  { l1: 1e-3, l21: 0.02, l2: 1e-4, l21Norm: "eq10", rowStep: "per-row" },
];

function hyperFor(name: OptimizerName, reg: Hyperparams): Hyperparams {
  if (!name.startsWith("group-")) return { rowStep: reg.rowStep ?? "global" };
  return { lr: 0.05, ...reg };
}

test("dense: wasm and ts kernels give identical bits (all optimizers, row lengths 1..17, every norm and row-step mode)", () => {
  for (const name of OPTIMIZER_NAMES) {
    for (const d of [1, 3, 4, 8, 10, 17]) {
      for (const reg of REGS) {
        if (name === "ftrl" && reg.l21) continue;
        const rows = 7, r = rng(d * 31 + name.length);
        const init = randomArray(r, rows * d, 0.3);
        const h = hyperFor(name, reg);
        const a = createOptimizer(name, h, { backend: "wasm" }).dense(init.slice(), { rows, rowLength: d });
        const b = createOptimizer(name, h, { backend: "ts" }).dense(init.slice(), { rows, rowLength: d });
        const useH = name.endsWith("adahessian");
        for (let t = 0; t < 40; t++) {
          const g = randomArray(r, rows * d, t % 7 === 0 ? 0 : 1);
          const opts = useH ? { hessian: randomArray(r, rows * d) } : {};
          a.step(g, opts);
          b.step(g, opts);
        }
        assert.ok(sameBits(a.weights(), b.weights()), `${name} d=${d} ${JSON.stringify(reg)}`);
        assert.ok(sameBits(new Float32Array(a.save().buffer), new Float32Array(b.save().buffer)), `${name} d=${d}: full state`);
        assert.equal(a.zeroRows, b.zeroRows);
      }
    }
  }
});

test("sparse: wasm and ts kernels give identical bits, with duplicate ids, new rows mid-stream and row creation", () => {
  for (const name of OPTIMIZER_NAMES) {
    for (const d of [1, 5, 8, 16]) {
      const reg = name === "ftrl" ? { l1: 1e-3 } : REGS[(d + name.length) % REGS.length];
      const h = hyperFor(name, reg);
      const init = { uniform: [-0.1, 0.1] as const };
      const a = createOptimizer(name, h, { backend: "wasm" }).table({ rowLength: d, seed: 9, init });
      const b = createOptimizer(name, h, { backend: "ts" }).table({ rowLength: d, seed: 9, init });
      const r = rng(d + 7);
      const useH = name.endsWith("adahessian");
      for (let t = 0; t < 30; t++) {
        const n = 40;
        const ids = new BigUint64Array(n);
        for (let i = 0; i < n; i++) ids[i] = BigInt(Math.floor(r() * r() * (20 + 10 * t))) * 0x9e3779b97f4an;
        const g = randomArray(r, n * d);
        const opts = useH ? { hessian: randomArray(r, n * d) } : {};
        a.step(ids, g, opts);
        b.step(ids, g, opts);
      }
      assert.equal(a.size, b.size);
      assert.equal(a.zeroRows, b.zeroRows, `${name} d=${d}: zero rows`);
      assert.ok(sameBits(new Float32Array(a.save().buffer), new Float32Array(b.save().buffer)), `${name} d=${d}: full state`);
    }
  }
});

test("table initialisers are bit-identical across backends and independent of arrival order", () => {
  for (const init of ["zeros", { uniform: [-0.5, 0.25] }, { normal: { mean: 0.1, std: 0.02 } }] as const) {
    const ids = new BigUint64Array(500).map((_, i) => BigInt(i) * 1000003n + 17n);
    const rev = ids.slice().reverse();
    const a = createOptimizer("adam", {}, { backend: "wasm" }).table({ rowLength: 7, seed: 5, init });
    const b = createOptimizer("adam", {}, { backend: "ts" }).table({ rowLength: 7, seed: 5, init });
    const wa = a.gather(ids);
    b.gather(rev);
    const wb = b.gather(ids);
    assert.ok(sameBits(wa, wb), JSON.stringify(init));
  }
});

test("accumulateInverse: wasm and ts give the same sums bit for bit (ragged row lengths, duplicates, -0.0, subnormals, overflow)", async () => {
  const { Arena } = await import("../../src/kernels/arena.js");
  const special = [0, -0, 1e-45, -1e-45, 3e38, -3e38, 1.5, -2.25];
  for (const d of [1, 2, 3, 4, 5, 8, 9, 12, 16, 17]) {
    for (const n of [0, 1, 2, 3, 7, 64, 333]) {
      const r = rng(d * 1000 + n);
      // Slots appear in order of first appearance, as dedupResolve writes them.
      const inverse = new Uint32Array(n);
      let u = 0;
      for (let i = 0; i < n; i++) inverse[i] = u === 0 || r() < 0.4 ? u++ : Math.floor(r() * r() * u);
      const g = new Float32Array(n * d), h = new Float32Array(n * d);
      for (let i = 0; i < n * d; i++) {
        g[i] = r() < 0.3 ? special[Math.floor(r() * special.length)] : (r() - 0.5) * 10;
        h[i] = r() < 0.3 ? special[Math.floor(r() * special.length)] : r() - 0.5;
      }
      const out: Float32Array[][] = [];
      for (const backend of ["wasm", "ts"] as const) {
        const a = new Arena(backend), heap = a.heap;
        const pi = heap.alloc(4 * n + 16), pg = heap.alloc(4 * n * d + 16), ph = heap.alloc(4 * n * d + 16);
        const og = heap.alloc(4 * u * d + 16), oh = heap.alloc(4 * u * d + 16);
        heap.u32.set(inverse, pi >>> 2);
        heap.f32.set(g, pg >>> 2);
        heap.f32.set(h, ph >>> 2);
        // Garbage in the outputs: the kernel must not read what was there.
        heap.f32.fill(NaN, og >>> 2, (og >>> 2) + u * d);
        heap.f32.fill(7, oh >>> 2, (oh >>> 2) + u * d);
        a.kernels.accumulateInverse(pi, n, pg, ph, d, og, oh, u);
        out.push([heap.f32.slice(og >>> 2, (og >>> 2) + u * d), heap.f32.slice(oh >>> 2, (oh >>> 2) + u * d)]);
        // Without a Hessian (the rows of whole vectors have their own loops).
        heap.f32.fill(NaN, og >>> 2, (og >>> 2) + u * d);
        a.kernels.accumulateInverse(pi, n, pg, 0, d, og, 0, u);
        out[out.length - 1].push(heap.f32.slice(og >>> 2, (og >>> 2) + u * d));
      }
      assert.ok(sameBits(out[0][0], out[1][0]), `gradient sums d=${d} n=${n}`);
      assert.ok(sameBits(out[0][2], out[1][0]) && sameBits(out[1][2], out[1][0]), `gradient sums without a Hessian d=${d} n=${n}`);
      assert.ok(sameBits(out[0][1], out[1][1]), `hessian sums d=${d} n=${n}`);
      // The first occurrence is the value itself, signed zeros included.
      const first = new Set<number>();
      for (let i = 0; i < n; i++) {
        if (first.has(inverse[i])) continue;
        first.add(inverse[i]);
        const once = inverse.filter((j) => j === inverse[i]).length === 1;
        if (once) assert.ok(sameBits(out[0][0].subarray(inverse[i] * d, inverse[i] * d + d), g.subarray(i * d, i * d + d)), `single occurrence kept bit for bit, d=${d} n=${n}`);
      }
    }
  }
});

test("batch lookup (dedupResolve): wasm and ts agree on ragged batch sizes with heavy duplication, and equal gather + step", () => {
  for (const name of ["group-adam", "adagrad", "group-adahessian"] as const) {
    for (const d of [3, 8]) {
      const h = { lr: 0.03, ...(name.startsWith("group-") ? { l21: 1e-3 } : {}) };
      const mk = (backend: "wasm" | "ts") => createOptimizer(name, h, { backend }).table({ rowLength: d, seed: 4, init: { uniform: [-0.1, 0.1] } });
      const a = mk("wasm"), b = mk("ts"), c = mk("wasm");
      const r = rng(d + name.length);
      for (const n of [1, 2, 3, 5, 16, 17, 100, 1, 1000, 4097, 0, 33, 2500]) {
        const ids = new BigUint64Array(n);
        const vocab = 1 + Math.floor(r() * 3 * n);
        for (let i = 0; i < n; i++) ids[i] = BigInt(Math.floor(r() * r() * vocab)) * 0x9e3779b97f4a7c15n % (1n << 64n);
        const ga = a.gatherBatch(ids), gb = b.gatherBatch(ids), gc = c.gather(ids);
        assert.ok(sameBits(ga, gb) && sameBits(ga, gc), `${name} d=${d} n=${n}: gathered weights`);
        const g = randomArray(r, n * d);
        const opts = name.endsWith("adahessian") ? { hessian: randomArray(r, n * d) } : {};
        a.stepBatch(g, opts);
        b.stepBatch(g, opts);
        c.step(ids, g, opts);
        assert.equal(a.size, b.size);
        assert.deepEqual(a.ids(), c.ids(), `${name} d=${d} n=${n}: rows in first-sight order`);
      }
      assert.deepEqual(a.save(), b.save(), `${name} d=${d}: wasm = ts`);
      assert.deepEqual(a.save(), c.save(), `${name} d=${d}: batch = gather + step`);
    }
  }
});

test("heap: every block comes zero-filled, fresh from the top (never written) or reused from the free list (written before), across growth", async () => {
  const { Heap } = await import("../../src/kernels/heap.js");
  for (const shared of [false, true]) {
    const heap = new Heap(new WebAssembly.Memory({ initial: 2, maximum: 65536, shared }));
    const blocks: number[] = [];
    for (let i = 0; i < 40; i++) {
      const size = 1000 + i * 40_000;
      const p = heap.alloc(size);
      assert.ok(heap.u8.subarray(p, p + size).every((b) => b === 0), `fresh block ${i}`);
      heap.u8.fill(0xab, p, p + size);
      blocks.push(p);
    }
    assert.ok(heap.byteLength > 2 * 65536, "the memory grew");
    // Reused blocks were written: the allocator must clear them.
    for (let i = 0; i < blocks.length; i += 2) heap.release(blocks[i]);
    for (let i = 0; i < 10; i++) {
      const size = 500 + i * 30_000;
      const p = heap.alloc(size);
      assert.ok(blocks.includes(p) || p < blocks[blocks.length - 1], "taken from the free list");
      assert.ok(heap.u8.subarray(p, p + size).every((b) => b === 0), `reused block ${i}`);
    }
  }
});
