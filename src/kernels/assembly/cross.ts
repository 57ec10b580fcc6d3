// The per-element loops of the DCN cross layer (src/nn/cross.ts) in
// WebAssembly SIMD, the twins of its TypeScript reference loops, with the same
// float32 arithmetic (f32x4.mul and f32x4.add, rounding after every operation,
// never a fused multiply-add), so both give the same bits:
// - forward, every element: y = ((x0 * s) + b) + x_l;
// - backward, every row r: ds_r = dy_r . x0_r, summed in 4 lanes (lane q takes
//   the columns j = q mod 4 below d & ~3, each starting at +0), the lanes
//   combined as (l0 + l1) + (l2 + l3), then the columns from d & ~3 on added
//   one by one; dx0 = dy * s; dxl = dy + (ds * w); db = the column sums of dy,
//   starting at +0 and adding the rows in order; dw = x_l^T ds, each element
//   from +0 adding x_l(r, j) * ds_r for the rows in order, as the dense
//   product would (the same madd, fused where relaxed SIMD is compiled in,
//   on the lanes, and plain on the last d % 4 columns).
// Matrices are batch x d, row-major, row stride d floats; all addresses are
// byte offsets (no alignment needed: loads and stores may be unaligned).

import { madd } from "./matmul";

/** y[batch x d] = x0 * s (one scalar per row) + b (one per column) + xl. */
export function crossForward(x0: usize, xl: usize, s: usize, b: usize, y: usize, batch: i32, d: i32): void {
  const d4 = d & ~3, rs = <usize>d << 2;
  let o: usize = 0;
  for (let r = 0; r < batch; r++) {
    const sr = load<f32>(s + (<usize>r << 2)), sv = f32x4.splat(sr);
    const px0 = x0 + o, pxl = xl + o, py = y + o;
    let j = 0;
    for (; j < d4; j += 4) {
      const jo = <usize>j << 2;
      const t = f32x4.add(f32x4.mul(v128.load(px0 + jo), sv), v128.load(b + jo));
      v128.store(py + jo, f32x4.add(t, v128.load(pxl + jo)));
    }
    for (; j < d; j++) {
      const jo = <usize>j << 2;
      store<f32>(py + jo, load<f32>(px0 + jo) * sr + load<f32>(b + jo) + load<f32>(pxl + jo));
    }
    o += rs;
  }
}

/**
 * The backward loops: ds[batch], dx0 and dxl [batch x d], db[d] and dw[d]
 * (overwritten) from dy, x0 and xl (the layer's input) [batch x d], s[batch]
 * (the forward's x_l . w) and w[d].
 */
export function crossBackward(
  dy: usize, x0: usize, xl: usize, s: usize, w: usize, dx0: usize, dxl: usize, ds: usize, db: usize, dw: usize, batch: i32, d: i32,
): void {
  backwardRows(dy, x0, s, w, dx0, dxl, ds, db, batch, d, false, false, false, false, 0, xl, dw);
}

/**
 * One layer of a network's backward, summing the network's input gradient
 * as it goes: the ds, dxl and db of crossBackward, and instead of writing
 * dx0, acc = (first ? +0 : acc) + dx0, then, for the first layer (last),
 * + dxl and + add[] when add is not 0 (another path's gradient), each a
 * float32 add in that order (src/nn/cross.ts sums them so). The first
 * layer's dxl only goes into acc and is not written. dw[d] as in crossBackward.
 */
export function crossBackwardAccumulate(
  dy: usize, x0: usize, s: usize, w: usize, acc: usize, dxl: usize, ds: usize, db: usize, batch: i32, d: i32,
  first: i32, last: i32, add: usize, xl: usize, dw: usize,
): void {
  // Each case a loop of its own, its flags constants (no branch per element).
  if (last) {
    if (first) {
      if (add) backwardRows(dy, x0, s, w, acc, dxl, ds, db, batch, d, true, true, true, true, add, xl, dw);
      else backwardRows(dy, x0, s, w, acc, dxl, ds, db, batch, d, true, true, true, false, 0, xl, dw);
    } else if (add) backwardRows(dy, x0, s, w, acc, dxl, ds, db, batch, d, true, false, true, true, add, xl, dw);
    else backwardRows(dy, x0, s, w, acc, dxl, ds, db, batch, d, true, false, true, false, 0, xl, dw);
  } else if (first) backwardRows(dy, x0, s, w, acc, dxl, ds, db, batch, d, true, true, false, false, 0, xl, dw);
  else backwardRows(dy, x0, s, w, acc, dxl, ds, db, batch, d, true, false, false, false, 0, xl, dw);
}

// The backward row loop; with sum (a network's layer), dx0 is acc, to which
// dx0 is added (then dxl when last, which then is not stored, and add[] with
// hasAdd). The flags are constants at every call.
@inline function backwardRows(
  dy: usize, x0: usize, s: usize, w: usize, dx0: usize, dxl: usize, ds: usize, db: usize, batch: i32, d: i32,
  sum: bool, first: bool, last: bool, hasAdd: bool, add: usize, xl: usize, dw: usize,
): void {
  const d4 = d & ~3, rs = <usize>d << 2, zero = f32x4.splat(0);
  memory.fill(db, 0, rs);
  memory.fill(dw, 0, rs);
  let o: usize = 0;
  for (let r = 0; r < batch; r++) {
    const pdy = dy + o, px0 = x0 + o, pdx0 = dx0 + o, pdxl = dxl + o, padd = add + o, pxl = xl + o;
    let acc = f32x4.splat(0);
    let j = 0;
    for (; j < d4; j += 4) {
      const jo = <usize>j << 2;
      acc = f32x4.add(acc, f32x4.mul(v128.load(pdy + jo), v128.load(px0 + jo)));
    }
    let dot: f32 = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) +
      (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
    for (; j < d; j++) {
      const jo = <usize>j << 2;
      dot += load<f32>(pdy + jo) * load<f32>(px0 + jo);
    }
    store<f32>(ds + (<usize>r << 2), dot);
    const sr = load<f32>(s + (<usize>r << 2)), sv = f32x4.splat(sr), dv = f32x4.splat(dot);
    j = 0;
    for (; j < d4; j += 4) {
      const jo = <usize>j << 2;
      const g = v128.load(pdy + jo);
      const gx0 = f32x4.mul(g, sv), gxl = f32x4.add(g, f32x4.mul(dv, v128.load(w + jo)));
      if (sum) {
        let t = f32x4.add(first ? zero : v128.load(pdx0 + jo), gx0);
        if (last) {
          t = f32x4.add(t, gxl);
          if (hasAdd) t = f32x4.add(t, v128.load(padd + jo));
        } else {
          v128.store(pdxl + jo, gxl);
        }
        v128.store(pdx0 + jo, t);
      } else {
        v128.store(pdx0 + jo, gx0);
        v128.store(pdxl + jo, gxl);
      }
      v128.store(db + jo, f32x4.add(v128.load(db + jo), g));
      v128.store(dw + jo, madd(v128.load(dw + jo), v128.load(pxl + jo), dv));
    }
    for (; j < d; j++) {
      const jo = <usize>j << 2;
      const g = load<f32>(pdy + jo);
      const gx0 = g * sr, gxl = g + dot * load<f32>(w + jo);
      if (sum) {
        let t = (first ? <f32>0 : load<f32>(pdx0 + jo)) + gx0;
        if (last) {
          t = t + gxl;
          if (hasAdd) t = t + load<f32>(padd + jo);
        } else {
          store<f32>(pdxl + jo, gxl);
        }
        store<f32>(pdx0 + jo, t);
      } else {
        store<f32>(pdx0 + jo, gx0);
        store<f32>(pdxl + jo, gxl);
      }
      store<f32>(db + jo, load<f32>(db + jo) + g);
      store<f32>(dw + jo, load<f32>(dw + jo) + load<f32>(pxl + jo) * dot);
    }
    o += rs;
  }
}
