// OPNN's product layer: its elementwise loops in WebAssembly against the TypeScript ones, bit for bit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rng, sameBits } from "../helpers/rng.js";
import { withBackend, sparseArray } from "../helpers/backend.js";
import { OuterProductLayer } from "../../src/nn/index.js";

/** Values over a wide range of magnitudes (and signed zeros), so that float32 and float64 sums part ways. */
function wideArray(r: () => number, n: number): Float32Array {
  const a = sparseArray(r, n);
  for (let i = 0; i < n; i++) a[i] *= 2 ** Math.floor(r() * 40 - 20);
  return a;
}

test("outer-product layer: the WebAssembly loops give the TypeScript loops' outputs and gradients, ragged shapes", () => {
  for (const [fields, d, out, batch] of [[3, 5, 6, 7], [16, 10, 9, 5], [1, 3, 4, 2], [5, 1, 3, 3], [2, 8, 4, 1]]) {
    const run = (backend: "ts" | "wasm"): Float32Array[] => withBackend(backend, () => {
      const r = rng(fields * 100 + d);
      const l = new OuterProductLayer("product", fields, d, out, 3);
      for (const p of l.params()) p.value.set(sparseArray(r, p.value.length, 0.5));
      const got: Float32Array[] = [];
      for (let step = 0; step < 2; step++) {
        const x = wideArray(r, batch * fields * d), dy = wideArray(r, batch * out);
        got.push(l.forward(x, batch, true).slice());
        got.push(l.backward(dy, batch).slice());
        got.push(...l.params().map((p) => p.grad.slice()));
      }
      return got;
    });
    const ts = run("ts"), wasm = run("wasm");
    assert.equal(wasm.length, ts.length);
    for (let i = 0; i < ts.length; i++) assert.ok(sameBits(wasm[i], ts[i]), `fields ${fields} d ${d}: output ${i} differs`);
  }
});
