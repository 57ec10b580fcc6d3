/**
 * Row surgery on a sparse table: magnitude pruning of whole rows (the paper's
 * baseline) and eviction down to a row budget. Both work on the table's row
 * store and keep its live and zero-row counts exact.
 */
import { HEADER_BYTES, H_FLAGS, H_COUNT, H_TAU } from "../kernels/layout.js";
import type { RowOwner } from "./row-store.js";

/** See SparseTable.pruneToTopRows (./table.ts). */
export function pruneToTopRows(t: RowOwner, keep: number): number {
  if (!Number.isSafeInteger(keep) || keep < 0) throw new RangeError(`${t.optimizer}: keep = ${keep} must be a non-negative integer`);
  const store = t.mutate(), n = store.size, d = t.rowLength, heap = store.arena.heap, w = heap.f32;
  const norms = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const x = (store.record(r) + HEADER_BYTES) >>> 2;
    let s = 0;
    for (let j = 0; j < d; j++) s += w[x + j] * w[x + j];
    norms[r] = s;
  }
  const order = Array.from({ length: n }, (_, r) => r).sort((a, b) => norms[b] - norms[a] || a - b);
  let zeroed = 0;
  for (let k = keep; k < n; k++) {
    const base = store.record(order[k]), flags = (base + H_FLAGS) >>> 2;
    w.fill(0, (base + HEADER_BYTES) >>> 2, ((base + HEADER_BYTES) >>> 2) + d);
    if ((heap.u32[flags] & 1) === 0) {
      heap.u32[flags] |= 1;
      zeroed++;
    }
  }
  store.addZeros(zeroed);
  return zeroed;
}

/** See SparseTable.evictTo (./table.ts). */
export function evictTo(t: RowOwner, keep: number): { evicted: number; zeroEvicted: number } {
  if (!Number.isSafeInteger(keep) || keep < 0) throw new RangeError(`${t.optimizer}: keep = ${keep} must be a non-negative integer`);
  const store = t.mutate(), n = store.size, heap = store.arena.heap, rb = store.recBytes;
  if (keep >= n) return { evicted: 0, zeroEvicted: 0 };
  const zero = new Uint8Array(n), count = new Uint32Array(n), tau = new Uint32Array(n);
  for (let r = 0; r < n; r++) {
    const b = store.record(r) >>> 2;
    zero[r] = heap.u32[b + (H_FLAGS >>> 2)] & 1;
    count[r] = heap.u32[b + (H_COUNT >>> 2)];
    tau[r] = heap.u32[b + (H_TAU >>> 2)];
  }
  const order = Uint32Array.from({ length: n }, (_, r) => r).sort((a, b) => zero[b] - zero[a] || count[a] - count[b] || tau[a] - tau[b] || a - b);
  const gone = new Uint8Array(n);
  let zeroEvicted = 0;
  for (let k = 0; k < n - keep; k++) {
    gone[order[k]] = 1;
    zeroEvicted += zero[order[k]];
  }
  // The kept rows' keys and records, in row order, then the table is refilled with them.
  const ids = store.ids(), keys = new BigUint64Array(keep), recs = new Uint8Array(keep * rb);
  for (let r = 0, w = 0; r < n; r++) {
    if (gone[r]) continue;
    keys[w] = ids[r];
    const b = store.record(r);
    recs.set(heap.u8.subarray(b, b + rb), w * rb);
    w++;
  }
  store.clear();
  t.refill(keys, recs);
  return { evicted: n - keep, zeroEvicted };
}
