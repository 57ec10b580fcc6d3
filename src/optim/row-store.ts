/**
 * The rows of a sparse table in its arena: fused records [header | x | z |
 * moments] in chunks of 2^shift records, the open-addressing id index
 * (12-byte slots: u64 id, u32 row + 1) and the meta block the kernels read
 * (row and zero-row counts, record layout, initialiser, seed). Rows are
 * numbered in order of creation; the kernels create them (table kernels).
 */
import type { Arena } from "../kernels/arena.js";
import {
  H_FLAGS, M_SLOTS, M_CAP, M_SIZE, M_CHUNKS, M_SHIFT, M_RECBYTES, M_D, M_INIT, M_INITA, M_INITB, M_SEED, M_ZEROS,
} from "../kernels/layout.js";

const META_WORDS = 16;
const MAX_LOAD = 0.75;
const INDEX_SLOT = 12;
const CHUNK_TARGET_BYTES = 4 << 20;

/** The initialiser's code (0 zeros, 1 uniform, 2 normal) and its two parameters, as the meta block holds them. */
export type InitCode = readonly [kind: number, a: number, b: number];

export class RowStore {
  /** Address of the meta block (the kernels' handle of the table). */
  readonly meta: number;
  /** log2 of the records per chunk. */
  readonly shift: number;
  private chunkCount = 0;
  private chunkCap = 0;

  constructor(readonly arena: Arena, readonly rowLength: number, readonly recBytes: number, init: InitCode, seed: number) {
    this.shift = Math.max(6, Math.min(20, Math.floor(Math.log2(CHUNK_TARGET_BYTES / recBytes))));
    const heap = arena.heap;
    this.meta = heap.alloc(META_WORDS * 4);
    const m = this.meta >>> 2, u = heap.u32;
    u[m + M_SHIFT] = this.shift;
    u[m + M_RECBYTES] = recBytes;
    u[m + M_D] = rowLength;
    u[m + M_INIT] = init[0];
    heap.f64[(this.meta + M_INITA * 4) >>> 3] = init[1];
    heap.f64[(this.meta + M_INITB * 4) >>> 3] = init[2];
    u[m + M_SEED] = seed;
    const cap = 1024;
    u[m + M_SLOTS] = heap.alloc(cap * INDEX_SLOT);
    u[m + M_CAP] = cap;
  }

  /** Rows present. */
  get size(): number { return this.word(M_SIZE); }
  /** Rows whose weights are all exactly 0.0 (kept by the kernels and by {@link addZeros}). */
  get zeroRows(): number { return this.word(M_ZEROS); }

  /** Changes the zero-row count by delta (after an update or a pruning). */
  addZeros(delta: number): void {
    this.arena.heap.u32[(this.meta >>> 2) + M_ZEROS] += delta;
  }

  /** Sets the zero-row count (after rows were rewritten: a load, an eviction). */
  setZeros(n: number): void {
    this.arena.heap.u32[(this.meta >>> 2) + M_ZEROS] = n;
  }

  /** Address of row r's record. */
  record(r: number): number {
    const heap = this.arena.heap, chunks = heap.u32[(this.meta >>> 2) + M_CHUNKS] >>> 2;
    return heap.u32[chunks + (r >>> this.shift)] + (r & ((1 << this.shift) - 1)) * this.recBytes;
  }

  /** Record address of an id's row, 0 when it has none. */
  lookup(lo: number, hi: number): number {
    return this.arena.kernels.lookup(this.meta, lo, hi) >>> 0;
  }

  /** Every id with a row, in row order (written into `into`, size x 8 bytes 8-byte aligned in its buffer, when given). */
  ids(into?: Uint8Array): BigUint64Array {
    const n = this.size, heap = this.arena.heap;
    const out = heap.alloc(Math.max(8, n * 8));
    this.arena.kernels.keysInRowOrder(this.meta, out);
    let res: BigUint64Array;
    if (into === undefined) res = heap.u64.slice(out >>> 3, (out >>> 3) + n);
    else {
      if (into.length !== n * 8 || into.byteOffset % 8 !== 0) throw new RangeError(`ids of ${n} rows: ${into.length} bytes at offset ${into.byteOffset} given, ${n * 8} 8-byte aligned needed`);
      into.set(heap.u8.subarray(out, out + n * 8));
      res = new BigUint64Array(into.buffer, into.byteOffset, n);
    }
    heap.release(out);
    return res;
  }

  /** The ids of the rows with a non-zero weight (zero flag clear), in row order. */
  liveIds(): BigUint64Array {
    const n = this.size, all = this.ids(), u32 = this.arena.heap.u32, out = new BigUint64Array(n - this.zeroRows);
    // The ids move as pairs of 32-bit words (no BigInt per row); the flags are read chunk by chunk.
    const src = new Uint32Array(all.buffer, all.byteOffset, 2 * n), dst = new Uint32Array(out.buffer, 0, 2 * out.length);
    const chunks = u32[(this.meta >>> 2) + M_CHUNKS] >>> 2, per = 1 << this.shift, step = this.recBytes >>> 2;
    let k = 0;
    for (let r0 = 0; r0 < n; r0 += per) {
      let f = (u32[chunks + (r0 >>> this.shift)] + H_FLAGS) >>> 2;
      for (let r = r0, end = Math.min(n, r0 + per); r < end; r++, f += step) {
        if ((u32[f] & 1) !== 0) continue;
        if (k === out.length) throw new Error(`internal: more live rows than ${n} rows less ${this.zeroRows} zero rows`);
        dst[2 * k] = src[2 * r];
        dst[2 * k + 1] = src[2 * r + 1];
        k++;
      }
    }
    if (k !== out.length) throw new Error(`internal: ${k} live rows, ${n} rows less ${this.zeroRows} zero rows make ${out.length}`);
    return out;
  }

  /** The records of rows [r0, r0 + n) as one copy, chunk by chunk (into `into`, of n records' bytes, when given). */
  records(r0: number, n: number, into?: Uint8Array): Uint8Array {
    if (into !== undefined && into.length !== n * this.recBytes) throw new RangeError(`records of ${n} rows: ${into.length} bytes given, ${n * this.recBytes} needed`);
    const out = into ?? new Uint8Array(n * this.recBytes), heap = this.arena.heap, per = 1 << this.shift;
    for (let r = r0; r < r0 + n;) {
      const rows = Math.min(per - (r & (per - 1)), r0 + n - r), base = this.record(r);
      out.set(heap.u8.subarray(base, base + rows * this.recBytes), (r - r0) * this.recBytes);
      r += rows;
    }
    return out;
  }

  /** Drops every row and empties the index (the memory stays; new rows reuse it). */
  clear(): void {
    const heap = this.arena.heap, m = this.meta >>> 2;
    heap.u8.fill(0, heap.u32[m + M_SLOTS], heap.u32[m + M_SLOTS] + heap.u32[m + M_CAP] * INDEX_SLOT);
    heap.u32[m + M_SIZE] = 0;
    heap.u32[m + M_ZEROS] = 0;
  }

  /** Makes room for `rows` rows: record chunks and index capacity (the index doubles at load 0.75). */
  ensureRows(rows: number, what: string): void {
    const heap = this.arena.heap, m = this.meta >>> 2;
    const need = Math.ceil(rows / (1 << this.shift));
    if (need > this.chunkCount) {
      if (need > this.chunkCap) {
        const cap = Math.max(16, 2 ** Math.ceil(Math.log2(need)));
        const p = heap.alloc(cap * 4);
        const old = heap.u32[m + M_CHUNKS];
        if (old) {
          heap.u32.copyWithin(p >>> 2, old >>> 2, (old >>> 2) + this.chunkCount);
          heap.release(old);
        }
        heap.u32[m + M_CHUNKS] = p;
        this.chunkCap = cap;
      }
      while (this.chunkCount < need) {
        const c = heap.alloc((1 << this.shift) * this.recBytes);
        heap.u32[(heap.u32[m + M_CHUNKS] >>> 2) + this.chunkCount++] = c;
      }
    }
    const cap = heap.u32[m + M_CAP];
    if (rows > cap * MAX_LOAD) {
      let nc = cap;
      while (rows > nc * MAX_LOAD) nc *= 2;
      if (nc > 2 ** 31) throw new RangeError(`${what}: ${rows} rows exceed the index limit of one table shard`);
      const old = heap.u32[m + M_SLOTS];
      this.arena.kernels.rehash(this.meta, heap.alloc(nc * INDEX_SLOT), nc);
      heap.release(old);
    }
  }

  private word(w: number): number {
    return this.arena.heap.u32[(this.meta >>> 2) + w];
  }
}

/** What row surgery (./table-rows.ts) needs of a table: its row store, made safe to change, and a refill of rows. */
export interface RowOwner {
  readonly optimizer: string;
  readonly rowLength: number;
  /** The row store, once no lookup is in flight and no prepared batch is left (its rows may move). */
  mutate(): RowStore;
  /** Creates the rows of distinct keys after the present ones and writes their records; returns their zero-row count. */
  refill(keys: BigUint64Array, recs: Uint8Array): number;
}

/** Bytes an index slot takes, and the load at which the index doubles (for memory estimates). */
export const INDEX_SLOT_BYTES = INDEX_SLOT;
export const INDEX_MAX_LOAD = MAX_LOAD;
