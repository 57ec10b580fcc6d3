/** A fully connected layer followed by a ReLU (src/kernels/assembly/relu.ts) in the layer kernels, forward and backward. */
import type { LayerEngine } from "./engine.js";
import { linearReluLayout, matmulWorkBytes } from "./layouts.js";

/** See layerLinearReluForward (./ops.ts). */
export function linearReluForward(e: LayerEngine, x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, m: number, k: number, n: number): void {
  const [py, px, pw, pb, work] = e.place(linearReluLayout(m, k, n, false), matmulWorkBytes(m, k, n));
  const qx = e.in(x, px, m * k), qw = e.in(w, pw, k * n), qb = e.in(b, pb, n), qy = e.dst(y, py, m * n);
  e.product("nn", qx, qw, qy, m, k, n, work);
  e.ex.biasRelu(qy, qb, m, n);
  e.fetch(y, qy, m * n);
}

/** See layerLinearReluBackward (./ops.ts). */
export function linearReluBackward(
  e: LayerEngine, dy: Float32Array, y: Float32Array, x: Float32Array, w: Float32Array,
  dw: Float32Array, db: Float32Array, dx: Float32Array, m: number, k: number, n: number,
): void {
  const [pdz, py, px, pw, pdw, pdx, pdb, work] = e.place(linearReluLayout(m, k, n, true), Math.max(matmulWorkBytes(k, m, n), matmulWorkBytes(m, n, k)));
  // dz goes to its own slot: dy is the caller's.
  const qdy = e.in(dy, pdz, m * n), qy = e.in(y, py, m * n), qx = e.in(x, px, m * k), qw = e.in(w, pw, k * n);
  const qdw = e.dst(dw, pdw, k * n), qdx = e.dst(dx, pdx, m * k);
  e.ex.reluBackward(qdy, qy, pdz, pdb, m, n);
  e.product("tn", qx, pdz, qdw, k, m, n, work);
  e.product("nt", pdz, qw, qdx, m, n, k, work);
  e.fetch(dw, qdw, k * n);
  e.fetch(dx, qdx, m * k);
  // pdb is 16-byte aligned (carve): the sums are float64s of the memory's view from pdb / 8.
  const sums = e.view64(), o = pdb >>> 3;
  for (let j = 0; j < n; j++) db[j] = sums[o + j];
}
