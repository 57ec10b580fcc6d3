// The elementwise parts of OPNN's product layer (sum-pooled outer product,
// kept as its upper triangle q: f_a f_c for a <= c, row by row), the twins
// of the TypeScript loops in src/nn/product.ts: every sum and product is
// computed in the same order and precision (float64 where the TypeScript
// accumulates in numbers), so both give the same bits.

/**
 * For each of `batch` rows of x (fields x d floats): f = the sum over fields
 * (float64, rounded to float32), and the row's stacked input
 * xc = [x row | q] (fields*d + d(d+1)/2 floats).
 */
export function outerProductForward(x: usize, xc: usize, f: usize, batch: i32, fields: i32, d: i32): void {
  const fd = fields * d, wd = fd + ((d * (d + 1)) >> 1);
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
    let t = o + (<usize>fd << 2);
    for (let a = 0; a < d; a++) {
      const sa = load<f32>(fo + (<usize>a << 2)), fa = f32x4.splat(sa);
      let c = a;
      for (; c + 4 <= d; c += 4, t += 16) v128.store(t, f32x4.mul(fa, v128.load(fo + (<usize>c << 2))));
      for (; c < d; c++, t += 4) store<f32>(t, sa * load<f32>(fo + (<usize>c << 2)));
    }
  }
}

/**
 * The input gradient from the stacked input's gradient dxc (batch x
 * (fields*d + d(d+1)/2)) and f: df_k = sum over j, in order, of
 * dq(min(k, j), max(k, j)) f_j, twice that at j = k, in float64; then
 * dx = dxc's embedding part + df (rounded to float32) for every field.
 * df: scratch for d float64.
 */
export function outerProductBackward(dxc: usize, f: usize, dx: usize, batch: i32, fields: i32, d: i32, df: usize): void {
  const fd = fields * d, wd = fd + ((d * (d + 1)) >> 1);
  for (let r = 0; r < batch; r++) {
    const o = dxc + ((<usize>r * <usize>wd) << 2), qo = o + (<usize>fd << 2), fo = f + ((<usize>r * <usize>d) << 2);
    const e = dx + ((<usize>r * <usize>fd) << 2);
    for (let k = 0; k < d; k++) {
      let s: f64 = 0;
      // j < k: dq(j, k), down column k of the triangle (the step from row j
      // to row j + 1 is d - j - 1 entries).
      let t = k;
      for (let j = 0; j < k; j++) {
        s += <f64>load<f32>(qo + (<usize>t << 2)) * <f64>load<f32>(fo + (<usize>j << 2));
        t += d - j - 1;
      }
      // j = k: dq(k, k) twice; j > k: along row k, which starts there.
      s += 2 * <f64>load<f32>(qo + (<usize>t << 2)) * <f64>load<f32>(fo + (<usize>k << 2));
      for (let j = k + 1; j < d; j++) {
        t++;
        s += <f64>load<f32>(qo + (<usize>t << 2)) * <f64>load<f32>(fo + (<usize>j << 2));
      }
      store<f64>(df + (<usize>k << 3), s);
    }
    for (let i = 0; i < fields; i++) {
      const q = <usize>(i * d) << 2;
      for (let k = 0; k < d; k++) {
        store<f32>(e + q + (<usize>k << 2), <f32>(<f64>load<f32>(o + q + (<usize>k << 2)) + load<f64>(df + (<usize>k << 3))));
      }
    }
  }
}
