// The WebAssembly SIMD kernels against their plain TypeScript twins: same
// layout constants, and the same float32 bits for every rule, row length,
// norm mode and row-step mode, dense and sparse.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createOptimizer, OPTIMIZER_NAMES, type Hyperparams, type OptimizerName } from "../src/index.js";
import * as layout from "../src/kernels/layout.js";
import { wasmExports } from "../src/kernels/wasm.js";
import { randomArray, rng, sameBits } from "./helpers/rng.js";

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
        const rows = 6, r = rng(d * 31 + name.length);
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
