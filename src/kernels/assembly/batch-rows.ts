// Batch row kernels that do not touch the index: summing a batch's gradient
// rows into its distinct rows (accumulateInverse), copying weights out of
// records (gatherInverse, gather, copyRow) and the finite check of a buffer.
// table.ts holds the index and row creation; src/kernels/ts/table.ts is the
// twin of both.

import { HEADER_BYTES, TMP_SINK } from "./layout";
import { touchRecords } from "./rows";

// Copies one row of d floats (memory.copy is a runtime call: too slow for 32 bytes).
@inline export function copyRow(dst: usize, src: usize, d: i32): void {
  let i = 0;
  for (; i + 4 <= d; i += 4) v128.store(dst + <usize>i * 4, v128.load(src + <usize>i * 4));
  for (; i < d; i++) store<f32>(dst + <usize>i * 4, load<f32>(src + <usize>i * 4));
}


/**
 * Sums the gradient rows (and Hessian rows when h != 0) of n positions into
 * their u distinct rows (inverse from dedupResolve), in order of appearance.
 * Each sum starts from -0.0, which adds exactly (-0.0 + x is x, bit for bit,
 * for every x but NaN), so the first occurrence needs no branch of its own.
 */
export function accumulateInverse(inverse: usize, n: i32, g: usize, h: usize, d: i32, outG: usize, outH: usize, u: i32): void {
  const rb = <usize>d * 4;
  fillNegZero(outG, <usize>u * rb);
  if (h) fillNegZero(outH, <usize>u * rb);
  if (h == 0 && d == 8) {
    // The paper's Criteo rows (8 floats), without a Hessian, as straight-line
    // code: half the time of the general loop in `bench optim`.
    for (let i = 0; i < n; i++) {
      const dst = outG + (<usize>load<u32>(inverse + <usize>i * 4) << 5), src = g + (<usize>i << 5);
      v128.store(dst, f32x4.add(v128.load(dst), v128.load(src)));
      v128.store(dst, f32x4.add(v128.load(dst, 16), v128.load(src, 16)), 16);
    }
    return;
  }
  if (h == 0 && (d & 3) == 0) {
    // Rows of whole vectors without a Hessian: no tail, no Hessian test per row.
    for (let i = 0; i < n; i++) {
      const dst = outG + <usize>load<u32>(inverse + <usize>i * 4) * rb, src = g + <usize>i * rb;
      for (let o: usize = 0; o < rb; o += 16) v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const j = <usize>load<u32>(inverse + <usize>i * 4);
    addRow(outG + j * rb, g + <usize>i * rb, d);
    if (h) addRow(outH + j * rb, h + <usize>i * rb, d);
  }
}

@inline function fillNegZero(p: usize, bytes: usize): void {
  const nz = i32x4.splat(0x80000000);
  let o: usize = 0;
  for (; o + 16 <= bytes; o += 16) v128.store(p + o, nz);
  for (; o < bytes; o += 4) store<u32>(p + o, 0x80000000);
}

/**
 * out[i] = the weights of recs[inverse[i]], for n positions (n x d floats);
 * recs holds u distinct records, whose header and weights are loaded first.
 */
export function gatherInverse(recs: usize, inverse: usize, n: i32, d: i32, out: usize, u: i32): void {
  const rb = <usize>d * 4;
  store<u32>(TMP_SINK, touchRecords(recs, u, HEADER_BYTES + rb));
  for (let i = 0; i < n; i++) {
    const rec = <usize>load<u32>(recs + <usize>load<u32>(inverse + <usize>i * 4) * 4);
    copyRow(out + <usize>i * rb, rec + HEADER_BYTES, d);
  }
}

// Adds one row of d floats to another.
@inline export function addRow(dst: usize, src: usize, d: i32): void {
  let i = 0;
  for (; i + 4 <= d; i += 4) {
    const o = <usize>i * 4;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < d; i++) {
    const o = <usize>i * 4;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/** Copies the weights of n records into out (n x d floats). */
export function gather(recs: usize, n: i32, d: i32, out: usize): void {
  const rb = <usize>d * 4;
  for (let i = 0; i < n; i++) {
    copyRow(out + <usize>i * rb, <usize>load<u32>(recs + <usize>i * 4) + HEADER_BYTES, d);
  }
}

/** Index of the first NaN or infinite float of n at p, or -1. */
export function findNonFinite(p: usize, n: i32): i32 {
  const zero = f32x4.splat(0);
  let i = 0;
  // x - x is 0 for finite x and NaN otherwise; sixteen floats a test.
  for (; i + 16 <= n; i += 16) {
    const q = p + <usize>i * 4;
    const a = v128.load(q), b = v128.load(q, 16), c = v128.load(q, 32), e = v128.load(q, 48);
    const ok = v128.and(
      v128.and(f32x4.eq(f32x4.sub(a, a), zero), f32x4.eq(f32x4.sub(b, b), zero)),
      v128.and(f32x4.eq(f32x4.sub(c, c), zero), f32x4.eq(f32x4.sub(e, e), zero)),
    );
    if (!i32x4.all_true(ok)) break;
  }
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p + <usize>i * 4);
    if (!i32x4.all_true(f32x4.eq(f32x4.sub(v, v), zero))) break;
  }
  for (; i < n; i++) {
    const x = load<f32>(p + <usize>i * 4);
    if (x - x != 0) return i;
  }
  return -1;
}
