// The elementwise parts of a fully connected layer followed by a ReLU, the
// twins of src/nn/linear-relu.ts's TypeScript loops (same bits):
// forward  y = relu(c + b): c + b rounded to float32, then v <= 0 ? +0 : v
//          (NaN passes through);
// backward dz = y > 0 ? dy : +0, and db[j] = sum over rows, in row order, of
//          dz(r, j) in float64 (rounded to float32 by the caller).

/** c[m x n] (row-major) becomes relu(c + b), b[n]. */
export function biasRelu(c: usize, b: usize, m: i32, n: i32): void {
  const n4 = n & ~3, zero = f32x4.splat(0);
  for (let r = 0; r < m; r++) {
    const row = c + ((<usize>r * <usize>n) << 2);
    let j = 0;
    for (; j < n4; j += 4) {
      const o = <usize>j << 2;
      const v = f32x4.add(v128.load(row + o), v128.load(b + o));
      v128.store(row + o, v128.bitselect(zero, v, f32x4.le(v, zero)));
    }
    for (; j < n; j++) {
      const o = <usize>j << 2;
      const v = load<f32>(row + o) + load<f32>(b + o);
      store<f32>(row + o, v <= 0 ? 0 : v);
    }
  }
}

/** dz = y > 0 ? dy : +0 (m x n; dz may be dy itself); db[n] (float64) = column sums of dz. */
export function reluBackward(dy: usize, y: usize, dz: usize, db: usize, m: i32, n: i32): void {
  const n4 = n & ~3, n2 = n & ~1, zero = f32x4.splat(0);
  memory.fill(db, 0, <usize>n << 3);
  for (let r = 0; r < m; r++) {
    const o = (<usize>r * <usize>n) << 2;
    let j = 0;
    for (; j < n4; j += 4) {
      const p = o + (<usize>j << 2);
      v128.store(dz + p, v128.and(v128.load(dy + p), f32x4.gt(v128.load(y + p), zero)));
    }
    for (; j < n; j++) {
      const p = o + (<usize>j << 2);
      store<f32>(dz + p, load<f32>(y + p) > 0 ? load<f32>(dy + p) : 0);
    }
    const row = dz + o;
    j = 0;
    for (; j < n2; j += 2) {
      const q = db + (<usize>j << 3);
      v128.store(q, f64x2.add(v128.load(q), f64x2.promote_low_f32x4(v128.load64_zero(row + (<usize>j << 2)))));
    }
    for (; j < n; j++) {
      const q = db + (<usize>j << 3);
      store<f64>(q, load<f64>(q) + <f64>load<f32>(row + (<usize>j << 2)));
    }
  }
}
