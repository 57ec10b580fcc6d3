import { test } from "node:test";
import assert from "node:assert/strict";
import { rng, randomArray, sameBits } from "../helpers/rng.js";
import { type MatmulBackend } from "../../src/nn/matmul.js";
import { layersAvailable } from "../../src/kernels/layers/index.js";
import { CrossLayer, CrossNet } from "../../src/nn/index.js";
import { withBackend, sparseArray } from "../helpers/backend.js";
import * as kernelsModule from "../../src/kernels/wasm.js";
import { HEAP_BASE } from "../../src/kernels/layout.js";

/** Runs fn with the products and cross loops forced to one backend, restoring the previous choice. */
interface CrossRun {
  y: Float32Array;
  dx0: Float32Array;
  dxl: Float32Array;
  dw: Float32Array;
  db: Float32Array;
}

/** One forward and backward of a fresh cross layer (same seed and inputs every call), outputs copied. */
function runLayer(b: MatmulBackend, dim: number, batch: number, seed: number, sameInput: boolean): CrossRun {
  return withBackend(b, () => {
    const r = rng(seed);
    const c = new CrossLayer("c", dim, seed);
    c.b.value.set(randomArray(r, dim, 0.5));
    c.w.grad.fill(NaN);
    c.b.grad.fill(NaN);
    const x0 = sparseArray(r, batch * dim), xl = sameInput ? x0 : sparseArray(r, batch * dim, 3);
    const dy = sparseArray(r, batch * dim, 2);
    const y = c.forward(x0, xl, batch).slice();
    const g = c.backward(dy, batch);
    return { y, dx0: g.dx0.slice(), dxl: g.dxl.slice(), dw: c.w.grad.slice(), db: c.b.grad.slice() };
  });
}

const DIMS = [1, 3, 4, 8, 312, 313];
const BATCHES = [1, 2, 5, 64];

test("cross layer: WebAssembly SIMD loops give the same bits as the TypeScript reference", { skip: !layersAvailable() }, () => {
  let seed = 1;
  for (const dim of DIMS) {
    for (const batch of BATCHES) {
      for (const same of [false, true]) {
        const s = seed++;
        const ts = runLayer("ts", dim, batch, s, same), wasm = runLayer("wasm", dim, batch, s, same);
        for (const k of ["y", "dx0", "dxl", "dw", "db"] as const) {
          assert.ok(sameBits(wasm[k], ts[k]), `${k} differs: dim ${dim}, batch ${batch}, x_l ${same ? "=" : "!="} x0`);
          assert.ok(ts[k].every(Number.isFinite), `${k} not finite: dim ${dim}, batch ${batch}`);
        }
      }
    }
  }
});

test("cross layer: the batch may change between calls on both backends", { skip: !layersAvailable() }, () => {
  const dim = 13;
  const layers = { ts: new CrossLayer("c", dim, 3), wasm: new CrossLayer("c", dim, 3) };
  for (const batch of [7, 2, 40, 1]) {
    const r = rng(batch), x0 = randomArray(r, batch * dim), xl = randomArray(r, batch * dim), dy = randomArray(r, batch * dim);
    const out = (b: "ts" | "wasm") => withBackend(b, () => {
      const l = layers[b], y = l.forward(x0, xl, batch).slice(), g = l.backward(dy, batch);
      return [y, g.dx0.slice(), g.dxl.slice(), l.w.grad.slice(), l.b.grad.slice()];
    });
    const a = out("ts"), w = out("wasm");
    for (let i = 0; i < a.length; i++) assert.ok(sameBits(w[i], a[i]), `output ${i}, batch ${batch}`);
  }
});

test("cross network (the DCN shape and others): same bits on both backends and run to run", { skip: !layersAvailable() }, () => {
  for (const [dim, count, batch] of [[312, 2, 33], [1, 1, 3], [3, 3, 5], [313, 3, 7], [8, 0, 4]]) {
    const run = (b: MatmulBackend) => withBackend(b, () => {
      const r = rng(77), net = new CrossNet("cross", dim, count, 5);
      for (const p of net.params()) p.value.set(randomArray(r, p.value.length, 0.3));
      const x = randomArray(r, batch * dim), dy = randomArray(r, batch * dim);
      const y = net.forward(x, batch, true).slice(), dx = net.backward(dy, batch).slice();
      // With another path's gradient added: exactly one more float32 add per element.
      const extra = randomArray(r, batch * dim);
      net.forward(x, batch, true);
      const dxPlus = net.backward(dy, batch, extra).slice();
      for (let i = 0; i < dx.length; i++) assert.ok(sameBits(new Float32Array([dxPlus[i]]), new Float32Array([dx[i] + extra[i]])), `addend, element ${i}`);
      return [y, dx, dxPlus, ...net.params().map((p) => p.grad.slice())];
    });
    const ts = run("ts"), wasm = run("wasm"), auto = run("auto"), again = run("wasm");
    for (let i = 0; i < ts.length; i++) {
      assert.ok(sameBits(wasm[i], ts[i]), `dim ${dim} x ${count} layers, output ${i}: wasm != ts`);
      assert.ok(sameBits(auto[i], ts[i]), `output ${i}: auto != ts`);
      assert.ok(sameBits(again[i], wasm[i]), `output ${i}: not deterministic`);
    }
  }
});

test("crossBackwardAccumulate: crossBackward's ds, dxl and db, the input gradient summed in float32 as src/nn/cross.ts sums it, and dw = x_l^T ds: signed zeros, ragged widths, every case", () => {
  const memory = new WebAssembly.Memory({ initial: 16 });
  const ex = kernelsModule.kernelModuleExports(memory);
  const f = new Float32Array(memory.buffer), r = rng(41);
  // Zeros of both signs where a sum of +0 and -0 shows: dy and s hold many.
  const signed = (n: number): Float32Array => Float32Array.from({ length: n }, () => {
    const u = r();
    return u < 0.2 ? 0 : u < 0.4 ? -0 : (r() - 0.5) * 4;
  });
  const fr = Math.fround;
  for (const [batch, d] of [[1, 1], [3, 5], [7, 8], [5, 13], [16, 312]]) {
    const n = batch * d;
    for (const [first, last, withAdd] of [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 1, 1], [1, 1, 1]]) {
      // Float offsets above the module's static data: dy x0 s w add | acc dxl ds db (fused) | dx0 dxl ds db (crossBackward).
      const at = (k: number): number => HEAP_BASE / 4 + k * (n + 64);
      const B = (k: number): number => at(k) * 4;
      const view = (k: number, len: number): Float32Array => f.slice(at(k), at(k) + len);
      [signed(n), signed(n), signed(batch), signed(d), signed(n)].forEach((a, k) => f.set(a, at(k)));
      const acc0 = signed(n);
      f.set(acc0, at(5));
      f.fill(NaN, at(6), at(6) + n);
      // x_l, and a dw full of garbage (the kernel overwrites it).
      const xl = signed(n);
      f.set(xl, at(13));
      f.fill(NaN, at(14), at(14) + d);
      ex.crossBackwardAccumulate(B(0), B(1), B(2), B(3), B(5), B(6), B(7), B(8), batch, d, first, last, withAdd ? B(4) : 0, B(13), B(14));
      f.fill(NaN, at(15), at(15) + d);
      ex.crossBackward(B(0), B(1), B(13), B(2), B(3), B(9), B(10), B(11), B(12), B(15), batch, d);
      const dx0 = view(9, n), dxl = view(10, n), add = view(4, n);
      const want = Float32Array.from(acc0, (a, i) => {
        let t = fr((first ? 0 : a) + dx0[i]);
        if (last) t = fr(t + dxl[i]);
        if (withAdd) t = fr(t + add[i]);
        return t;
      });
      const where = `batch ${batch}, d ${d}, first ${first}, last ${last}, add ${withAdd}`;
      assert.ok(sameBits(view(5, n), want), `acc, ${where}`);
      assert.ok(sameBits(view(7, batch), view(11, batch)), `ds, ${where}`);
      assert.ok(sameBits(view(8, d), view(12, d)), `db, ${where}`);
      // dxl feeds the next layer, except after the first layer (last), where it only goes into acc.
      if (!last) assert.ok(sameBits(view(6, n), dxl), `dxl, ${where}`);
      // dw: each column from +0, adding x_l(r, j) * ds_r for the rows in order, in float32.
      const ds = view(11, batch), dw = new Float32Array(d);
      for (let j = 0; j < d; j++) {
        let t = 0;
        for (let q = 0; q < batch; q++) t = fr(t + fr(xl[q * d + j] * ds[q]));
        dw[j] = t;
      }
      assert.ok(sameBits(view(14, d), dw), `dw, ${where}`);
      assert.ok(sameBits(view(15, d), dw), `crossBackward's dw, ${where}`);
    }
  }
});
