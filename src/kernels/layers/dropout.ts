/** Dropout in the layer kernels: the mask drawn from its stream, and the backward through it. */
import type { LayerEngine } from "./engine.js";
import { dropoutBackwardLayout, dropoutLayout } from "./layouts.js";

/** See layerDropout (./ops.ts): memory st (128 bytes) | x [n] | y [n] | mask [n] | bits [n / 32]. */
export function dropout(e: LayerEngine, state: Uint32Array, x: Float32Array, y: Float32Array, mask: Float32Array | null, bits: Uint32Array | null, n: number, threshold: number, keep: number): void {
  const words = Math.ceil(n / 32);
  const [pst, px, py, pm, pbits] = e.place(dropoutLayout(n, mask !== null, bits !== null));
  const f = e.view(), u = new Uint32Array(f.buffer, pst, 32);
  u.set(state);
  const qx = e.in(x, px, n), qy = e.dst(y, py, n), qm = mask ? e.dst(mask, pm, n) : 0;
  e.ex.dropout(pst, qx, qy, qm, bits ? pbits : 0, n, threshold, keep);
  e.fetch(y, qy, n);
  if (mask) e.fetch(mask, qm, n);
  if (bits) bits.set(new Uint32Array(e.view().buffer, pbits, words));
  state.set(u);
}

/** See layerDropoutBackward (./ops.ts): memory bits [n / 32] | dy [n] | dx [n]. */
export function dropoutBackward(e: LayerEngine, bits: Uint32Array, dy: Float32Array, dx: Float32Array, n: number, keep: number): void {
  const words = Math.ceil(n / 32);
  const [pbits, pdy, pdx] = e.place(dropoutBackwardLayout(n));
  new Uint32Array(e.view().buffer, pbits, words).set(bits.subarray(0, words));
  const qdy = e.in(dy, pdy, n), qdx = e.dst(dx, pdx, n);
  e.ex.dropoutBackward(pbits, qdy, qdx, n, keep);
  e.fetch(dx, qdx, n);
}
