/** Column-wise joins and splits of batch-major activations, and sums. */

/** out (batch x (da + db)) = [a | b] row by row, a: batch x da, b: batch x db. */
export function concatColumns(
  a: Float32Array, da: number, b: Float32Array, db: number, batch: number, out: Float32Array,
): void {
  const w = da + db;
  for (let r = 0; r < batch; r++) {
    out.set(a.subarray(r * da, r * da + da), r * w);
    out.set(b.subarray(r * db, r * db + db), r * w + da);
  }
}

/** The inverse of {@link concatColumns}: x (batch x (da + db)) into a and b. */
export function splitColumns(
  x: Float32Array, da: number, db: number, batch: number, a: Float32Array, b: Float32Array,
): void {
  const w = da + db;
  for (let r = 0; r < batch; r++) {
    a.set(x.subarray(r * w, r * w + da), r * da);
    b.set(x.subarray(r * w + da, r * w + w), r * db);
  }
}

/** dst[i] += src[i] for i < n. */
export function addInto(dst: Float32Array, src: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] += src[i];
}
