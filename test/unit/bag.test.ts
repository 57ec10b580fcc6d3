// Embedding bags (multi-valued fields, feature values): pooling equals a
// brute-force sum (mean) of value-weighted rows, and its backward passes a
// finite-difference gradient check for both modes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { poolBags, unpoolBags, bagFields, type Pooling } from "../../src/nn/bag.js";
import { gradCheck } from "../../src/nn/index.js";
import { rng, randomArray } from "../helpers/rng.js";

/** Slots of 1..4 entries (values in [0.5, 2)), some of 1 entry of value 1. */
function bags(slots: number, seed: number): { offsets: Uint32Array; values: Float32Array } {
  const r = rng(seed), offsets = new Uint32Array(slots + 1), values: number[] = [];
  for (let s = 0; s < slots; s++) {
    const n = 1 + Math.floor(r() * 4);
    for (let e = 0; e < n; e++) values.push(n === 1 && r() < 0.5 ? 1 : 0.5 + 1.5 * r());
    offsets[s + 1] = offsets[s] + n;
  }
  return { offsets, values: Float32Array.from(values) };
}

for (const mode of ["mean", "sum"] as Pooling[]) {
  test(`${mode} pooling equals the brute-force pooled rows; its backward passes a gradient check`, () => {
    const d = 5, slots = 12, b = bags(slots, mode === "mean" ? 1 : 2), n = b.offsets[slots];
    const x = randomArray(rng(3), n * d);
    const out = poolBags(x, d, b.offsets, b.values, mode, new Float32Array(slots * d));
    for (let s = 0; s < slots; s++) {
      const a = b.offsets[s], e = b.offsets[s + 1];
      for (let j = 0; j < d; j++) {
        let want = 0;
        for (let k = a; k < e; k++) want += b.values[k] * x[k * d + j];
        if (mode === "mean") want /= e - a;
        assert.ok(Math.abs(out[s * d + j] - want) < 1e-5, `slot ${s} col ${j}: ${out[s * d + j]} vs ${want}`);
      }
    }
    let dx: Float32Array = new Float32Array(0);
    const [r] = gradCheck({
      forward: () => poolBags(x, d, b.offsets, b.values, mode, new Float32Array(slots * d)),
      backward: (dy) => { dx = unpoolBags(dy, d, b.offsets, b.values, mode, new Float32Array(n * d)); },
    }, [{ name: "x", value: x, grad: () => dx }]);
    assert.ok(r.checked > 0);
    assert.deepEqual(r.failures, []);
  });
}

test("bagFields gives every entry its slot's field", () => {
  const b = bags(9, 4), f = bagFields(b.offsets, 3);
  for (let s = 0; s < 9; s++) for (let e = b.offsets[s]; e < b.offsets[s + 1]; e++) assert.equal(f[e], s % 3);
});
