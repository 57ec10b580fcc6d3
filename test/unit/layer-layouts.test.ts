// The layer kernels' call layouts (src/kernels/layers/layouts.ts) are made
// once per call and size and kept: a kept layout is the same array call after
// call, and equals the layout written out here from the kernels' memory maps
// (16-byte aligned parts from HEAP_BASE), for every size, whatever was kept
// before (sizes that differ in one place only, more sizes than are kept).
import { test } from "node:test";
import assert from "node:assert/strict";
import { HEAP_BASE } from "../../src/kernels/layout.js";
import {
  crossBackwardLayout, crossForwardLayout, crossNetBackwardLayout, crossNetForwardLayout, dropoutBackwardLayout, dropoutLayout,
  linearReluLayout, matmulLayout, outerProductLayout,
} from "../../src/kernels/layers/layouts.js";
import { rng } from "../helpers/rng.js";

/** Offsets of consecutive arrays of `floats` floats each, every one starting 16-byte aligned, from HEAP_BASE; then the end. */
function offsets(floats: number[]): number[] {
  const at = [HEAP_BASE];
  for (const f of floats) {
    const end = at[at.length - 1] + 4 * f;
    at.push(end % 16 === 0 ? end : end + 16 - (end % 16));
  }
  return at;
}
const rep = (n: number, v: number): number[] => new Array<number>(n).fill(v);

/** Each call's layout of sizes (a, b, c), and the same written out from the memory maps in the kernels' docs. */
const CALLS: { name: string; got: (a: number, b: number, c: number) => readonly number[]; want: (a: number, b: number, c: number) => number[] }[] = [
  { name: "matmul", got: matmulLayout, want: (m, k, n) => offsets([m * n, m * k, k * n]) },
  { name: "cross forward", got: (b, d) => crossForwardLayout(b, d), want: (b, d) => offsets([b * d, b * d, d, d, b, b * d]) },
  { name: "cross backward", got: (b, d) => crossBackwardLayout(b, d), want: (b, d) => offsets([b * d, b * d, b * d, b, d, b * d, b * d, b, d, d]) },
  { name: "cross net forward", got: crossNetForwardLayout, want: (b, d, L) => offsets([b * d, ...rep(L, b * d), ...rep(L, b), ...rep(2 * L, d)]) },
  { name: "cross net backward", got: crossNetBackwardLayout, want: (b, d, L) => offsets([b * d, b * d, ...rep(L - 1, b * d), ...rep(L, b), ...rep(L, d), b * d, b * d, b * d, b, d, d, b * d]) },
  { name: "linear relu forward", got: (m, k, n) => linearReluLayout(m, k, n, false), want: (m, k, n) => offsets([m * n, m * k, k * n, n]) },
  { name: "linear relu backward", got: (m, k, n) => linearReluLayout(m, k, n, true), want: (m, k, n) => offsets([m * n, m * n, m * k, k * n, k * n, m * k, 2 * n]) },
  { name: "dropout", got: (n, mask, bits) => dropoutLayout(n, mask % 2 === 1, bits % 2 === 1), want: (n, mask, bits) => offsets([32, n, n, mask % 2 ? n : 0, bits % 2 ? Math.ceil(n / 32) : 0]) },
  { name: "dropout backward", got: (n) => dropoutBackwardLayout(n), want: (n) => offsets([Math.ceil(n / 32), n, n]) },
  { name: "outer product forward", got: (b, f, d) => outerProductLayout(b, f, d, false), want: (b, f, d) => offsets([b * f * d, b * (f * d + (d * (d + 1)) / 2), b * d]) },
  { name: "outer product backward", got: (b, f, d) => outerProductLayout(b, f, d, true), want: (b, f, d) => offsets([b * (f * d + (d * (d + 1)) / 2), b * d, b * f * d, 2 * d]) },
];

test("a call's layout is kept: the same sizes give the same array, sizes that differ in one place another layout", () => {
  for (const c of CALLS) {
    const x = c.got(64, 13, 5);
    assert.equal(c.got(64, 13, 5), x, `${c.name}: made again`);
    assert.deepEqual(x, c.want(64, 13, 5), c.name);
    for (const [a, b, k] of [[65, 13, 5], [64, 14, 5], [64, 13, 6]]) {
      // Calls that take fewer sizes ignore the rest (dropout's flags are sizes too).
      assert.deepEqual(c.got(a, b, k), c.want(a, b, k), `${c.name} (${a}, ${b}, ${k})`);
    }
  }
  // Different calls of the same sizes are different layouts.
  assert.notDeepEqual(linearReluLayout(8, 4, 2, true), linearReluLayout(8, 4, 2, false));
  assert.notDeepEqual(matmulLayout(8, 4, 2), linearReluLayout(8, 4, 2, false));
});

test("every kept layout equals the one written out, over more sizes than are kept and in random order (hash collisions and the cache's clearing included)", () => {
  const r = rng(11), sizes: [number, number, number][] = [];
  for (let i = 0; i < 3000; i++) sizes.push([1 + Math.floor(r() * 600), 1 + Math.floor(r() * 40), 1 + Math.floor(r() * 8)]);
  for (let round = 0; round < 2; round++) {
    for (const [a, b, k] of sizes) {
      const c = CALLS[Math.floor(r() * CALLS.length)];
      assert.deepEqual(c.got(a, b, k), c.want(a, b, k), `${c.name} (${a}, ${b}, ${k})`);
    }
  }
});
