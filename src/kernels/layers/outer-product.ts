/** The outer-product layer (OPNN, sum-pooled) in the layer kernels, forward and backward. */
import type { LayerEngine } from "./engine.js";
import { outerProductLayout, outerSizes } from "./layouts.js";

/** See layerOuterProductForward (./ops.ts): memory x [batch F d] | xc [batch (F d + d(d+1)/2)] | f [batch d]. */
export function outerProductForward(e: LayerEngine, x: Float32Array, xc: Float32Array, f: Float32Array, batch: number, fields: number, d: number): void {
  const [fd, wd] = outerSizes(batch, fields, d);
  const [px, pxc, pf] = e.place(outerProductLayout(batch, fields, d, false));
  const qx = e.in(x, px, fd), qxc = e.dst(xc, pxc, wd), qf = e.dst(f, pf, batch * d);
  e.ex.outerProductForward(qx, qxc, qf, batch, fields, d);
  e.fetch(xc, qxc, wd);
  e.fetch(f, qf, batch * d);
}

/** See layerOuterProductBackward (./ops.ts): memory dxc [batch (F d + d(d+1)/2)] | f [batch d] | dx [batch F d] | df [d float64]. */
export function outerProductBackward(e: LayerEngine, dxc: Float32Array, f: Float32Array, dx: Float32Array, batch: number, fields: number, d: number): void {
  const [fd, wd] = outerSizes(batch, fields, d);
  const [pdxc, pf, pdx, pdf] = e.place(outerProductLayout(batch, fields, d, true));
  const qdxc = e.in(dxc, pdxc, wd), qf = e.in(f, pf, batch * d), qdx = e.dst(dx, pdx, fd);
  e.ex.outerProductBackward(qdxc, qf, qdx, batch, fields, d, pdf);
  e.fetch(dx, qdx, fd);
}
