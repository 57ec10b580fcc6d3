// A table's new rows: the meta block's words, record addresses, and a new
// row's record (zero state, the seeded initialiser's weights, the zero-row
// flag). src/kernels/ts/table.ts is the twin.
import { M_CHUNKS, M_SHIFT, M_RECBYTES, M_D, M_INIT, M_INITA, M_INITB, M_SEED, M_ZEROS, H_FLAGS, HEADER_BYTES } from "./layout";
import { fmix32, fmix32x4 } from "./hash";
import { copyRow } from "./batch-rows";

@inline export function meta32(meta: usize, w: i32): u32 {
  return load<u32>(meta + <usize>w * 4);
}

@inline export function recAddr(meta: usize, row: u32): usize {
  const shift = meta32(meta, M_SHIFT);
  const chunk = <usize>load<u32>(<usize>meta32(meta, M_CHUNKS) + (<usize>(row >>> shift)) * 4);
  return chunk + <usize>(row & ((1 << shift) - 1)) * <usize>meta32(meta, M_RECBYTES);
}

// Uniform in [0, 1) with 24 random bits: draw k of the stream of one row.
@inline function uniform(base: u32, k: u32): f64 {
  return <f64>(fmix32(base + (k + 1) * 0x9e3779b9) >>> 8) * (1.0 / 16777216.0);
}

// The initial weights of the row of id (lo, hi): d floats to dst; returns
// whether any is non-zero.
export function initValues(meta: usize, dst: usize, lo: u32, hi: u32): bool {
  const d = <i32>meta32(meta, M_D);
  const kind = meta32(meta, M_INIT);
  const a = load<f64>(meta + <usize>M_INITA * 4);
  const b = load<f64>(meta + <usize>M_INITB * 4);
  const base = fmix32(lo ^ fmix32(hi ^ fmix32(meta32(meta, M_SEED) ^ 0x9e3779b9)));
  let nonzero = false;
  for (let j = 0; j < d; j++) {
    let v: f64 = 0;
    if (kind == 1) {
      v = a + (b - a) * uniform(base, <u32>j);
    } else if (kind == 2) {
      // Irwin-Hall: the sum of 12 uniforms minus 6 has mean 0 and variance 1;
      // plain arithmetic keeps every backend bit-identical. The 12 draws are
      // made four at a time; each is a multiple of 2^-24 below 1, so their sum
      // is exact in any order and is taken over the integers.
      const k0 = <u32>(12 * j + 1);
      const step = i32x4.splat(<i32>(4 * 0x9e3779b9));
      let h = i32x4.add(i32x4.splat(<i32>base), i32x4.mul(i32x4(<i32>k0, <i32>(k0 + 1), <i32>(k0 + 2), <i32>(k0 + 3)), i32x4.splat(<i32>0x9e3779b9)));
      let sum = i32x4.shr_u(fmix32x4(h), 8);
      h = i32x4.add(h, step);
      sum = i32x4.add(sum, i32x4.shr_u(fmix32x4(h), 8));
      h = i32x4.add(h, step);
      sum = i32x4.add(sum, i32x4.shr_u(fmix32x4(h), 8));
      const total = <u32>(i32x4.extract_lane(sum, 0) + i32x4.extract_lane(sum, 1) + i32x4.extract_lane(sum, 2) + i32x4.extract_lane(sum, 3));
      const s: f64 = <f64>total * (1.0 / 16777216.0);
      v = a + b * (s - 6.0);
    }
    const f = <f32>v;
    store<f32>(dst + <usize>j * 4, f);
    if (f != 0) nonzero = true;
  }
  return nonzero;
}

// A new row's record and the table's zero-row count.
@inline export function initRow(meta: usize, rec: usize, lo: u32, hi: u32, init: usize): void {
  if (initRecord(meta, rec, lo, hi, init)) store<u32>(meta + <usize>M_ZEROS * 4, meta32(meta, M_ZEROS) + 1);
}

// A new row's record: zero state, the initial weights (computed, or copied
// from init when it is not 0) and the zero-row flag; returns whether the
// weights are all zero (for the caller's count).
@inline export function initRecord(meta: usize, rec: usize, lo: u32, hi: u32, init: usize): bool {
  zeroBytes(rec, <usize>meta32(meta, M_RECBYTES));
  let nonzero = false;
  if (init) {
    const d = <i32>meta32(meta, M_D);
    copyRow(rec + HEADER_BYTES, init, d);
    for (let j = 0; j < d; j++) if (load<f32>(init + <usize>j * 4) != 0) nonzero = true;
  } else {
    nonzero = initValues(meta, rec + HEADER_BYTES, lo, hi);
  }
  if (!nonzero) store<u32>(rec + H_FLAGS, 1);
  return !nonzero;
}

// Zeroes a record (a multiple of 4 bytes): memory.fill is a runtime call,
// which costs more than the stores for a record of a few hundred bytes.
@inline function zeroBytes(p: usize, bytes: usize): void {
  const z = i32x4.splat(0);
  let o: usize = 0;
  for (; o + 16 <= bytes; o += 16) v128.store(p + o, z);
  for (; o < bytes; o += 4) store<u32>(p + o, 0);
}

