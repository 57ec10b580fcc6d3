// The elementwise parts of OPNN's product layer (sum-pooled outer product),
// the twins of the TypeScript loops in src/nn/product.ts: every sum and
// product is computed in the same order and precision (float64 where the
// TypeScript accumulates in numbers), so both give the same bits.

/**
 * For each of `batch` rows of x (fields x d floats): f = the sum over fields
 * (float64, rounded to float32), and the row's stacked input
 * xc = [x row | f f^T flattened] (fields*d + d*d floats).
 */
export function outerProductForward(x: usize, xc: usize, f: usize, batch: i32, fields: i32, d: i32): void {
  const fd = fields * d, wd = fd + d * d;
  for (let r = 0; r < batch; r++) {
    const e = x + ((<usize>r * <usize>fd) << 2), o = xc + ((<usize>r * <usize>wd) << 2), fo = f + ((<usize>r * <usize>d) << 2);
    let j = 0;
    for (; j + 4 <= fd; j += 4) v128.store(o + (<usize>j << 2), v128.load(e + (<usize>j << 2)));
    for (; j < fd; j++) store<f32>(o + (<usize>j << 2), load<f32>(e + (<usize>j << 2)));
    for (let k = 0; k < d; k++) {
      let s: f64 = 0;
      for (let i = 0; i < fields; i++) s += <f64>load<f32>(e + ((<usize>(i * d + k)) << 2));
      store<f32>(fo + (<usize>k << 2), <f32>s);
    }
    // A float32 product of two float32 values is the rounded exact product, as in TypeScript.
    const po = o + (<usize>fd << 2);
    for (let a = 0; a < d; a++) {
      const fa = f32x4.splat(load<f32>(fo + (<usize>a << 2)));
      const row = po + ((<usize>(a * d)) << 2);
      let c = 0;
      for (; c + 4 <= d; c += 4) v128.store(row + (<usize>c << 2), f32x4.mul(fa, v128.load(fo + (<usize>c << 2))));
      const sa = f32x4.extract_lane(fa, 0);
      for (; c < d; c++) store<f32>(row + (<usize>c << 2), sa * load<f32>(fo + (<usize>c << 2)));
    }
  }
}

/**
 * The input gradient from the stacked input's gradient dxc (batch x
 * (fields*d + d*d)) and f: df_a = sum over c, in order, of
 * (dp_ac + dp_ca) f_c in float64, and dx = dxc's embedding part + df
 * (rounded to float32) for every field.
 */
export function outerProductBackward(dxc: usize, f: usize, dx: usize, batch: i32, fields: i32, d: i32, df: usize): void {
  const fd = fields * d, wd = fd + d * d;
  for (let r = 0; r < batch; r++) {
    const o = dxc + ((<usize>r * <usize>wd) << 2), po = o + (<usize>fd << 2), fo = f + ((<usize>r * <usize>d) << 2);
    const e = dx + ((<usize>r * <usize>fd) << 2);
    for (let a = 0; a < d; a++) {
      let s: f64 = 0;
      for (let c = 0; c < d; c++) {
        const p = <f64>load<f32>(po + ((<usize>(a * d + c)) << 2)) + <f64>load<f32>(po + ((<usize>(c * d + a)) << 2));
        s += p * <f64>load<f32>(fo + (<usize>c << 2));
      }
      store<f64>(df + (<usize>a << 3), s);
    }
    for (let i = 0; i < fields; i++) {
      const q = <usize>(i * d) << 2;
      for (let k = 0; k < d; k++) {
        store<f32>(e + q + (<usize>k << 2), <f32>(<f64>load<f32>(o + q + (<usize>k << 2)) + load<f64>(df + (<usize>k << 3))));
      }
    }
  }
}
