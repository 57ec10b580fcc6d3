/** Cross layers (DCN) in the layer kernels: one layer forward and backward, and a whole network in one call each way. */
import type { LayerEngine } from "./engine.js";
import { crossBackwardLayout, crossForwardLayout, crossNetBackwardLayout, crossNetForwardLayout, matmulWorkBytes, type CrossNetLayer } from "./layouts.js";

/** See layerCrossForward (./ops.ts). */
export function crossForward(
  e: LayerEngine, x0: Float32Array, xl: Float32Array, w: Float32Array, b: Float32Array,
  s: Float32Array, y: Float32Array, batch: number, d: number,
): void {
  const n = batch * d;
  const [px0, pxl0, pw, pb, ps, py, work] = e.place(crossForwardLayout(batch, d), matmulWorkBytes(batch, d, 1));
  const qx0 = e.in(x0, px0, n);
  // The first layer has x_l = x0: one copy serves both.
  const qxl = xl === x0 ? qx0 : e.in(xl, pxl0, n);
  const qw = e.in(w, pw, d), qb = e.in(b, pb, d);
  const qs = e.dst(s, ps, batch), qy = e.dst(y, py, n);
  e.ex.sgemm(qxl, qw, qs, batch, d, 1, work);
  e.ex.crossForward(qx0, qxl, qs, qb, qy, batch, d);
  e.fetch(s, qs, batch);
  e.fetch(y, qy, n);
}

/** One cross layer's backward loops (dw = transpose(xl) * ds among them); dx0, dxl, ds, db, dw copied out. */
export function crossBackward(
  e: LayerEngine, dy: Float32Array, x0: Float32Array, xl: Float32Array, s: Float32Array, w: Float32Array,
  dx0: Float32Array, dxl: Float32Array, ds: Float32Array, db: Float32Array, dw: Float32Array, batch: number, d: number,
): void {
  const n = batch * d;
  const [pdy, px0, pxl0, ps, pw, pdx0, pdxl, pds, pdb, pdw] = e.place(crossBackwardLayout(batch, d));
  const qdy = e.in(dy, pdy, n), qx0 = e.in(x0, px0, n);
  const qxl = xl === x0 ? qx0 : e.in(xl, pxl0, n);
  const qs = e.in(s, ps, batch), qw = e.in(w, pw, d);
  const qdx0 = e.dst(dx0, pdx0, n), qdxl = e.dst(dxl, pdxl, n), qds = e.dst(ds, pds, batch);
  e.ex.crossBackward(qdy, qx0, qxl, qs, qw, qdx0, qdxl, qds, pdb, pdw, batch, d);
  e.fetch(dx0, qdx0, n);
  e.fetch(dxl, qdxl, n);
  e.fetch(ds, qds, batch);
  e.fetch(db, pdb, d);
  e.fetch(dw, pdw, d);
}

/** See layerCrossNetForward (./ops.ts). */
export function crossNetForward(e: LayerEngine, x0: Float32Array, layers: readonly CrossNetLayer[], batch: number, d: number): void {
  const n = batch * d, L = layers.length;
  const at = e.place(crossNetForwardLayout(batch, d, L), matmulWorkBytes(batch, d, 1)), work = at[at.length - 1];
  // x[l]: where x_l is, x[0] = x0; each layer's output x_{l+1} is written
  // into its y when y lives in the memory (the next layer reads it there).
  const x = [e.in(x0, at[0], n)], w: number[] = [], b: number[] = [];
  for (let l = 0; l < L; l++) {
    w.push(e.in(layers[l].w, at[1 + 2 * L + l], d));
    b.push(e.in(layers[l].b, at[1 + 3 * L + l], d));
  }
  for (let l = 0; l < L; l++) {
    const qs = e.dst(layers[l].s, at[1 + L + l], batch);
    x.push(e.dst(layers[l].y, at[l + 1], n));
    e.ex.sgemm(x[l], w[l], qs, batch, d, 1, work);
    e.ex.crossForward(x[0], x[l], qs, b[l], x[l + 1], batch, d);
    e.fetch(layers[l].s, qs, batch);
    e.fetch(layers[l].y, x[l + 1], n);
  }
}

/** See layerCrossNetBackward (./ops.ts). */
export function crossNetBackward(
  e: LayerEngine, dy: Float32Array, x0: Float32Array, layers: readonly CrossNetLayer[], out: Float32Array, addend: Float32Array | undefined,
  batch: number, d: number,
): void {
  const n = batch * d, L = layers.length;
  const at = e.place(crossNetBackwardLayout(batch, d, L));
  const [padd, pg0, pg1, pds, pdb, pdw, pacc] = at.slice(at.length - 8);
  const qdy = e.in(dy, at[0], n);
  // x[l]: where x_l is (x_0 = x0; x_l, l >= 1, is the previous layer's y).
  const x = [e.in(x0, at[1], n)], s: number[] = [], w: number[] = [];
  for (let l = 1; l < L; l++) x.push(e.in(layers[l - 1].y, at[1 + l], n));
  for (let l = 0; l < L; l++) {
    s.push(e.in(layers[l].s, at[L + 1 + l], batch));
    w.push(e.in(layers[l].w, at[2 * L + 1 + l], d));
  }
  const qadd = addend ? e.in(addend, padd, n) : 0;
  // The sum goes straight into out when it lives in the memory.
  const acc = e.dst(out, pacc, n);
  // From the last layer to the first; the gradient through the x_l chain
  // alternates between g0 and g1, dx0 of every layer adds up in acc, and
  // the addend with the first layer's (in the same pass as the layer's
  // backward loops).
  let g = qdy;
  for (let l = L - 1; l >= 0; l--) {
    const next = g === pg0 ? pg1 : pg0;
    e.ex.crossBackwardAccumulate(
      g, x[0], s[l], w[l], acc, next, pds, pdb, batch, d, l === L - 1 ? 1 : 0, l === 0 ? 1 : 0, l === 0 ? qadd : 0, x[l], pdw,
    );
    e.fetch(layers[l].db, pdb, d);
    e.fetch(layers[l].dw, pdw, d);
    g = next;
  }
  e.fetch(out, acc, n);
}
