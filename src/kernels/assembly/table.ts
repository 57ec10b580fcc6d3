// Row-sparse table kernels: the id index (open addressing on u64 keys), row
// creation (the records: row-init.ts), per-batch deduplication (with the
// gradient sums of batch-rows.ts), lookups. src/kernels/ts/table.ts is the
// twin. Every function here walks the same open-addressing probe sequence
// over the same slot layout.

import { M_SLOTS, M_CAP, M_SIZE, M_RECBYTES, M_D, HEADER_BYTES, TMP_SINK } from "./layout";
import { touchRecords } from "./rows";
import { fmix32, fmix32x4 } from "./hash";
import { accumulateInverse, copyRow, findNonFinite } from "./batch-rows";
import { initRow, initValues, meta32, recAddr } from "./row-init";

@inline function keyHash(lo: u32, hi: u32): u32 {
  return fmix32(lo ^ fmix32(hi));
}

export const SLOT: usize = 12;

// Finds the row of one id from its home slot h, creating it when absent (with
// the initial weights at init, when not 0); returns its record address.
@inline function findOrCreate(meta: usize, slots: usize, mask: u32, h: u32, lo: u32, hi: u32, init: usize = 0): usize {
  const key = (<u64>hi << 32) | <u64>lo;
  while (true) {
    const p = slots + <usize>h * SLOT;
    const v = load<u32>(p, 8);
    if (v == 0) {
      const row = meta32(meta, M_SIZE);
      store<u32>(meta + <usize>M_SIZE * 4, row + 1);
      store<u64>(p, key);
      store<u32>(p, row + 1, 8);
      const rec = recAddr(meta, row);
      initRow(meta, rec, lo, hi, init);
      return rec;
    }
    if (load<u64>(p) == key) return recAddr(meta, v - 1);
    h = (h + 1) & mask;
  }
}

/**
 * Looks up n u64 ids, creating missing rows; writes each id's record address to
 * out. The caller guarantees index capacity for size + n rows at load <= 0.75
 * and row chunks for size + n rows.
 *
 * Three passes instead of one so that cache misses overlap: the first only
 * hashes and touches each id's index slot, the second probes (slots now cached)
 * and touches each record's header, with no branch waiting on a miss. The
 * touched values go to a sink so the loads are kept.
 */
export function resolve(meta: usize, ids: usize, n: i32, out: usize): void {
  const slots = <usize>meta32(meta, M_SLOTS);
  const mask = meta32(meta, M_CAP) - 1;
  let sink: u32 = 0;
  for (let i = 0; i < n; i++) {
    const p = ids + <usize>i * 8;
    const h = keyHash(load<u32>(p), load<u32>(p + 4)) & mask;
    store<u32>(out + <usize>i * 4, h);
    sink ^= load<u32>(slots + <usize>h * SLOT, 8);
  }
  for (let i = 0; i < n; i++) {
    const p = ids + <usize>i * 8;
    const o = out + <usize>i * 4;
    const rec = findOrCreate(meta, slots, mask, load<u32>(o), load<u32>(p), load<u32>(p + 4));
    store<u32>(o, <u32>rec);
  }
  store<u32>(TMP_SINK, sink ^ touchRecords(out, n, <usize>meta32(meta, M_RECBYTES)));
}



// keyHash of n u64 ids into out (n u32).
function hashIds(ids: usize, n: i32, out: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = v128.load(ids + <usize>i * 8);
    const b = v128.load(ids + <usize>i * 8 + 16);
    const lo = v128.shuffle<u32>(a, b, 0, 2, 4, 6);
    const hi = v128.shuffle<u32>(a, b, 1, 3, 5, 7);
    v128.store(out + <usize>i * 4, fmix32x4(v128.xor(lo, fmix32x4(hi))));
  }
  for (; i < n; i++) {
    const p = ids + <usize>i * 8;
    store<u32>(out + <usize>i * 4, keyHash(load<u32>(p), load<u32>(p + 4)));
  }
}

/**
 * The batch dedup shared by dedupResolve and dedupLookup: hashes n u64 ids
 * (four at a time) and assigns each its distinct slot in order of first
 * appearance, through a small per-batch hash (tab: u32 entries, distinct
 * slot + 1 or 0 for empty, all zero on entry and left zero; room for the
 * smallest power of two >= max(2n, 16) entries). Writes each id's slot to
 * inverse (n u32), the distinct keys to keys (u64) and their hashes to
 * hashes (compacted in place); returns the distinct count.
 *
 * The loop does not branch on whether an id is new (that branch mispredicts
 * on about a third of the ids of a heavy-tailed batch): the entry, key and
 * hash are written either way and the distinct count grows by 0 or 1.
 */
@inline export function dedupIds(ids: usize, n: i32, hashes: usize, inverse: usize, keys: usize, tab: usize): u32 {
  hashIds(ids, n, hashes);
  let tcap: u32 = 16;
  while (tcap < <u32>n * 2) tcap <<= 1;
  const tmask = tcap - 1;
  // hashes is compacted in place: slot u <= i was read already.
  let u: u32 = 0;
  for (let i = 0; i < n; i++) {
    const key = load<u64>(ids + <usize>i * 8);
    const hash = load<u32>(hashes + <usize>i * 4);
    let s = hash & tmask;
    let e = load<u32>(tab + <usize>s * 4);
    // Loaded even for an empty entry (from slot 0: harmless) so that no
    // branch waits on the entry.
    const other = load<u64>(keys + <usize>select<u32>(e - 1, 0, e != 0) * 8);
    let seen = (e != 0) & (other == key);
    if ((e != 0) & !seen) {
      // Another key at the home entry: probe on (rare at load <= 1/2).
      while (true) {
        s = (s + 1) & tmask;
        e = load<u32>(tab + <usize>s * 4);
        if (e == 0) break;
        if (load<u64>(keys + <usize>(e - 1) * 8) == key) {
          seen = true;
          break;
        }
      }
    }
    const j = select<u32>(e - 1, u, seen);
    store<u32>(tab + <usize>s * 4, j + 1);
    store<u64>(keys + <usize>u * 8, key);
    store<u32>(hashes + <usize>u * 4, hash);
    store<u32>(inverse + <usize>i * 4, j);
    u += <u32>!seen;
  }
  memory.fill(tab, 0, <usize>tcap * 4);
  return u;
}

/**
 * A batch's lookup: deduplicates n u64 ids (see dedupIds; hashes is scratch
 * for n u32), then only the distinct ids go through the table index (created
 * when absent), in order of first appearance, with their index slots loaded
 * ahead. (The records are not loaded here: updateSparse and gatherInverse
 * load them in the order they use them.) Writes the distinct records (u32) to
 * outRecs (room for n u64) and returns their count.
 *
 * With g != 0 it also sums the gradient (and Hessian, h != 0) rows of the n
 * positions into their distinct rows, as accumulateInverse does, before the
 * index is touched; when a sum is not finite it returns -1 there, with no
 * row created (inverse is written; the caller finds the culprit).
 */
export function dedupResolve(
  meta: usize, ids: usize, n: i32, hashes: usize, inverse: usize, outRecs: usize, tab: usize,
  g: usize, h: usize, d: i32, outG: usize, outH: usize,
): i32 {
  // outRecs holds the distinct keys (u64) until the index replaces them with records.
  const u = dedupIds(ids, n, hashes, inverse, outRecs, tab);
  if (g) {
    // Summed here, between the batch's dedup and the index, while the
    // gradients are still in cache, and checked before any row is created.
    accumulateInverse(inverse, n, g, h, d, outG, outH, <i32>u);
    if (findNonFinite(outG, <i32>u * d) >= 0 || (h != 0 && findNonFinite(outH, <i32>u * d) >= 0)) return -1;
  }
  // The index slots of all distinct ids are loaded first (independent loads
  // that overlap their misses), then probed in order, creating rows in order
  // of first appearance; the records replace the keys in outRecs (u32),
  // front to back, which never overwrites an unread key.
  const slots = <usize>meta32(meta, M_SLOTS);
  const mask = meta32(meta, M_CAP) - 1;
  let sink: u32 = 0;
  for (let j: u32 = 0; j < u; j++) sink ^= load<u32>(slots + <usize>(load<u32>(hashes + <usize>j * 4) & mask) * SLOT, 8);
  for (let j: u32 = 0; j < u; j++) {
    const p = outRecs + <usize>j * 8;
    const rec = findOrCreate(meta, slots, mask, load<u32>(hashes + <usize>j * 4) & mask, load<u32>(p), load<u32>(p + 4));
    store<u32>(outRecs + <usize>j * 4, <u32>rec);
  }
  store<u32>(TMP_SINK, sink);
  return <i32>u;
}

// The record of one key from its home slot h, or 0 when absent.
@inline function findExisting(meta: usize, slots: usize, mask: u32, h: u32, key: u64): usize {
  while (true) {
    const p = slots + <usize>h * SLOT;
    const v = load<u32>(p, 8);
    if (v == 0) return 0;
    if (load<u64>(p) == key) return recAddr(meta, v - 1);
    h = (h + 1) & mask;
  }
}

/**
 * dedupResolve split in two, for a lookup made ahead on another thread: the
 * dedup (distinct keys to keys, room for n u64) and the index probe of the
 * distinct ids, writing each one's record, or 0 when it has no row, to
 * outRecs (u32). Nothing in the table is written, so it may run while the
 * owning thread updates records; only the index must not change meanwhile.
 * createMissing then creates the absent rows in the same order as
 * dedupResolve would. With init != 0 (room for n x d floats) it also
 * computes each absent id's initial weights at its distinct slot there, so
 * that the owning thread only copies them. The caller guarantees row chunks
 * for size + n rows (see faultInNewRows). Returns the distinct count.
 */
export function dedupLookup(meta: usize, ids: usize, n: i32, hashes: usize, inverse: usize, outRecs: usize, keys: usize, tab: usize, init: usize): i32 {
  const u = dedupIds(ids, n, hashes, inverse, keys, tab);
  const slots = <usize>meta32(meta, M_SLOTS);
  const mask = meta32(meta, M_CAP) - 1;
  const d = <usize>meta32(meta, M_D);
  let sink: u32 = 0;
  for (let j: u32 = 0; j < u; j++) sink ^= load<u32>(slots + <usize>(load<u32>(hashes + <usize>j * 4) & mask) * SLOT, 8);
  for (let j: u32 = 0; j < u; j++) {
    const rec = findExisting(meta, slots, mask, load<u32>(hashes + <usize>j * 4) & mask, load<u64>(keys + <usize>j * 8));
    store<u32>(outRecs + <usize>j * 4, <u32>rec);
    // A new id's initial weights, so that its creation is only a copy.
    if (rec == 0 && init != 0) initValues(meta, init + <usize>j * d * 4, load<u32>(keys + <usize>j * 8), load<u32>(keys + <usize>j * 8 + 4));
  }
  faultInNewRows(meta, outRecs, u);
  // A racy store of a value nobody reads: harmless on a shared memory.
  store<u32>(TMP_SINK, sink);
  return <i32>u;
}

/**
 * Writes a zero into every memory page the records of the u rows whose
 * record is 0 will take (rows size, size + 1, ...; the caller made their
 * chunks). Those records are not written by anyone until createMissing
 * creates them, so this races with nothing; it makes the kernel map the
 * fresh pages (a page fault each) on this thread, not on the one that
 * creates the rows.
 */
function faultInNewRows(meta: usize, recs: usize, u: u32): void {
  const recBytes = <usize>meta32(meta, M_RECBYTES);
  let row = meta32(meta, M_SIZE);
  let mapped: usize = <usize>-1;
  for (let j: u32 = 0; j < u; j++) {
    if (load<u32>(recs + <usize>j * 4) != 0) continue;
    const a = recAddr(meta, row++);
    const last = (a + recBytes - 1) >> PAGE_BITS;
    let page = a >> PAGE_BITS;
    if (page != mapped) store<u32>(a, 0);
    while (page < last) store<u32>(++page << PAGE_BITS, 0);
    mapped = last;
  }
}

const PAGE_BITS: usize = 12;

/**
 * The second half of dedupLookup, on the table's own thread: creates the
 * rows of the u distinct keys whose record is 0, in order (the index may
 * have been rehashed in between: hashes holds full hashes), with the
 * initial weights dedupLookup computed at init when it is not 0. Returns how
 * many it created.
 */
export function createMissing(meta: usize, hashes: usize, keys: usize, recs: usize, u: i32, init: usize): i32 {
  const slots = <usize>meta32(meta, M_SLOTS);
  const mask = meta32(meta, M_CAP) - 1;
  const d = <usize>meta32(meta, M_D);
  // The home slots and initial weights of the new rows (last touched by the
  // lookahead thread, so on the other core) are loaded here first, as
  // independent loads whose misses overlap; in the creation loop each row's
  // misses would come one after another. (Loading the fresh records here
  // would cost a second page fault: a read maps the zero page.)
  let sink: u32 = 0;
  for (let j = 0; j < u; j++) {
    if (load<u32>(recs + <usize>j * 4) != 0) continue;
    sink ^= load<u32>(slots + <usize>(load<u32>(hashes + <usize>j * 4) & mask) * SLOT, 8);
    if (init) sink ^= load<u32>(init + <usize>j * d * 4);
  }
  store<u32>(TMP_SINK, sink);
  let created = 0;
  for (let j = 0; j < u; j++) {
    const o = recs + <usize>j * 4;
    if (load<u32>(o) != 0) continue;
    const p = keys + <usize>j * 8;
    const w = init ? init + <usize>j * d * 4 : 0;
    store<u32>(o, <u32>findOrCreate(meta, slots, mask, load<u32>(hashes + <usize>j * 4) & mask, load<u32>(p), load<u32>(p + 4), w));
    created++;
  }
  return created;
}

/** Record address of one id, or 0 when absent. */
export function lookup(meta: usize, lo: u32, hi: u32): u32 {
  const mask = meta32(meta, M_CAP) - 1;
  return <u32>findExisting(meta, <usize>meta32(meta, M_SLOTS), mask, keyHash(lo, hi) & mask, (<u64>hi << 32) | <u64>lo);
}

/** Moves the index into a new zeroed slot array of newCap slots and updates meta. */
export function rehash(meta: usize, newSlots: usize, newCap: u32): void {
  const slots = <usize>meta32(meta, M_SLOTS);
  const cap = meta32(meta, M_CAP);
  const mask = newCap - 1;
  for (let s: u32 = 0; s < cap; s++) {
    const p = slots + <usize>s * SLOT;
    const v = load<u32>(p, 8);
    if (v == 0) continue;
    let h = keyHash(load<u32>(p), load<u32>(p, 4)) & mask;
    while (load<u32>(newSlots + <usize>h * SLOT, 8) != 0) h = (h + 1) & mask;
    const q = newSlots + <usize>h * SLOT;
    store<u64>(q, load<u64>(p));
    store<u32>(q, v, 8);
  }
  store<u32>(meta + <usize>M_SLOTS * 4, <u32>newSlots);
  store<u32>(meta + <usize>M_CAP * 4, newCap);
}

/** Writes every row's key, in row order, to out (u64[size]). */
export function keysInRowOrder(meta: usize, out: usize): void {
  const slots = <usize>meta32(meta, M_SLOTS);
  const cap = meta32(meta, M_CAP);
  for (let s: u32 = 0; s < cap; s++) {
    const p = slots + <usize>s * SLOT;
    const v = load<u32>(p, 8);
    if (v != 0) store<u64>(out + <usize>(v - 1) * 8, load<u64>(p));
  }
}

// Ids gatherExisting deduplicates at a time: its scratch then stays in a core's cache (2^15 table entries).
const GATHER_PIECE: i32 = 16384;

/**
 * Copies the weights of n u64 ids into out (n x d floats) without creating
 * rows: an id with no row reads as zeros (a feature never trained, like a
 * pruned one). Returns how many ids had no row. As dedupResolve, the ids are
 * deduplicated first (hashes: scratch for n u32; inverse n u32; recs room
 * for n u64; tab as dedupIds), GATHER_PIECE at a time, and only the
 * distinct ones go through the index, their slots loaded ahead (512 rows of
 * Criteo hold a fifth as many distinct ids as ids); their rows are then
 * copied in the ids' order.
 */
export function gatherExisting(meta: usize, ids: usize, n: i32, out: usize, hashes: usize, inverse: usize, recs: usize, tab: usize): i32 {
  const d = <i32>meta32(meta, M_D);
  const rb = <usize>d * 4;
  const slots = <usize>meta32(meta, M_SLOTS);
  const mask = meta32(meta, M_CAP) - 1;
  let absent = 0, sink: u32 = 0;
  for (let a = 0; a < n; a += GATHER_PIECE) {
    const m = min<i32>(GATHER_PIECE, n - a);
    // recs holds the distinct keys (u64) until the index replaces them with records (front to back).
    const u = dedupIds(ids + <usize>a * 8, m, hashes, inverse, recs, tab);
    for (let j: u32 = 0; j < u; j++) sink ^= load<u32>(slots + <usize>(load<u32>(hashes + <usize>j * 4) & mask) * SLOT, 8);
    for (let j: u32 = 0; j < u; j++) {
      const rec = findExisting(meta, slots, mask, load<u32>(hashes + <usize>j * 4) & mask, load<u64>(recs + <usize>j * 8));
      store<u32>(recs + <usize>j * 4, <u32>rec);
    }
    const o = out + <usize>a * rb;
    for (let i = 0; i < m; i++) {
      const rec = <usize>load<u32>(recs + <usize>load<u32>(inverse + <usize>i * 4) * 4);
      if (rec) copyRow(o + <usize>i * rb, rec + HEADER_BYTES, d);
      else {
        memory.fill(o + <usize>i * rb, 0, rb);
        absent++;
      }
    }
  }
  store<u32>(TMP_SINK, sink);
  return absent;
}

