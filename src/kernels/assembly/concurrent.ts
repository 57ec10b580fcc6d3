// Kernels for a table that several threads train at once, each with its own
// instance over the table's shared memory (built into
// dist/kernels-shared.wasm only: they need atomics).
//
// - Index: a thread that finds an empty slot claims it with a compare-and-
//   swap of its row word (0 -> CLAIMED), writes the key, takes a row number
//   with an atomic add on the row count, writes the record and then publishes
//   row + 1 with an atomic store; a thread meeting a CLAIMED slot waits for
//   it. So every id gets exactly one row, whichever threads see it first.
//   The index and the row chunks do not grow here: the caller reserves room
//   for every row the threads may create before they start (the index is
//   rehashed, and chunks added, only while no thread runs).
// - Rows: each row's Algorithm 1 step holds the row's lock, bit 1 of its
//   header flags, taken with an atomic or and released with an atomic store
//   after the record is written: no update is lost and no row is torn by
//   another update. (Reads for the forward pass take no lock.)
// - Counts: rows created as zeros are added to the zero-row count atomically.

import { M_SLOTS, M_CAP, M_SIZE, M_ZEROS, H_FLAGS, P_D, ROW_LOCK, TMP_SINK } from "./layout";
import { SLOT, dedupIds } from "./table";
import { initRecord, meta32, recAddr } from "./row-init";
import { TOUCH_BLOCK, pairs, setFlagKeep, touchRecords, updatePair, updateRow } from "./rows";
import { nslots, readParams, slotOff } from "./rule-chunks";

// A slot whose row word is being written by the thread that claimed it.
const CLAIMED: u32 = 0xffffffff;
// Waiting is a busy loop on atomic loads. (memory.atomic.wait32 here made
// Node 20's V8 11.3 lose a local across the wait: a thread re-probed from a
// wrong slot and inserted an id twice, about one run in ten with two
// threads; the shared-table tests caught it.) A row's lock and a claimed
// slot are held for one row's update or initialisation.

// Rows this thread created as all zeros in the current call.
let zerosMade: u32 = 0;

// Finds the row of key (lo, hi) from its home slot h or creates it; returns its record.
function findOrCreateShared(meta: usize, slots: usize, mask: u32, h: u32, lo: u32, hi: u32): usize {
  while (true) {
    const p = slots + <usize>h * SLOT;
    let v = atomic.load<u32>(p, 8);
    if (v == 0) {
      v = atomic.cmpxchg<u32>(p, 0, CLAIMED, 8);
      if (v == 0) {
        atomic.store<u32>(p, lo);
        atomic.store<u32>(p, hi, 4);
        const row = atomic.add<u32>(meta + <usize>M_SIZE * 4, 1);
        const rec = recAddr(meta, row);
        if (initRecord(meta, rec, lo, hi, 0)) zerosMade++;
        // Publishes the key and the record with the row.
        atomic.store<u32>(p, row + 1, 8);
        return rec;
      }
    }
    while (v == CLAIMED) v = atomic.load<u32>(p, 8);
    if (atomic.load<u32>(p) == lo && atomic.load<u32>(p, 4) == hi) return recAddr(meta, v - 1);
    h = (h + 1) & mask;
  }
}

/**
 * dedupResolve for a shared table, without the gradient sums: deduplicates n
 * u64 ids (private scratch: keys room for n u64, inverse n u32, tab as
 * dedupResolve) and finds or creates the distinct ids' rows in order of
 * first appearance, safe while other threads do the same; writes their
 * records (u32) to recs (room for n u32: the ids' hashes until then) and
 * returns their count.
 */
export function dedupResolveShared(meta: usize, ids: usize, n: i32, recs: usize, inverse: usize, keys: usize, tab: usize): i32 {
  const u = dedupIds(ids, n, recs, inverse, keys, tab);
  const slots = <usize>meta32(meta, M_SLOTS);
  const mask = meta32(meta, M_CAP) - 1;
  // As dedupResolve: the index slots of all distinct ids are loaded first
  // (independent loads that overlap their misses), then probed in order.
  let sink: u32 = 0;
  for (let j: u32 = 0; j < u; j++) sink ^= load<u32>(slots + <usize>(load<u32>(recs + <usize>j * 4) & mask) * SLOT, 8);
  zerosMade = 0;
  for (let j: u32 = 0; j < u; j++) {
    const p = keys + <usize>j * 8;
    const r = recs + <usize>j * 4;
    const rec = findOrCreateShared(meta, slots, mask, load<u32>(r) & mask, load<u32>(p), load<u32>(p + 4));
    // Each distinct id's hash is replaced by its record.
    store<u32>(r, <u32>rec);
  }
  store<u32>(TMP_SINK, sink);
  if (zerosMade) atomic.add<u32>(meta + <usize>M_ZEROS * 4, zerosMade);
  return <i32>u;
}

// Takes a row's lock (test, then test-and-set).
@inline function lockRow(hdr: usize): void {
  const p = hdr + H_FLAGS;
  while (true) {
    if ((atomic.load<u32>(p) & ROW_LOCK) == 0 && (atomic.or<u32>(p, ROW_LOCK) & ROW_LOCK) == 0) return;
  }
}

// Releases a row's lock, publishing its record.
@inline function unlockRow(hdr: usize): void {
  atomic.store<u32>(hdr + H_FLAGS, load<u32>(hdr + H_FLAGS) & ~ROW_LOCK);
}

/**
 * updateSparse for a shared table: the same update of each of the n distinct
 * records at recs, each under its row lock (two rows of a pair are locked in
 * address order, so no two threads wait on each other). Returns the change
 * in live rows (the caller adds it to the count atomically). Its loop is
 * updateSparse's with the locks added, kept apart: the locks are atomic
 * instructions, which kernels.wasm (no shared memory, built without the
 * threads feature) cannot hold, and a run-time flag would put a branch on
 * every row of the unshared loop.
 */
export function updateSparseShared(pp: usize, recs: usize, n: i32, gBase: usize, hBase: usize): i32 {
  readParams(pp);
  const d = load<i32>(pp + 4 * P_D);
  const rb = <usize>d * 4;
  const recBytes = slotOff + <usize>nslots * rb;
  setFlagKeep(ROW_LOCK);
  let delta = 0;
  let sink: u32 = 0;
  // In blocks whose records are loaded first (their misses overlap), as updateSparse does.
  for (let b = 0; b < n; b += TOUCH_BLOCK) {
    const e = min<i32>(n, b + TOUCH_BLOCK);
    sink ^= touchRecords(recs + <usize>b * 4, e - b, recBytes);
    delta += updateSharedBlock(recs, b, e, gBase, hBase, d, rb);
  }
  store<u32>(TMP_SINK, sink);
  setFlagKeep(0);
  return delta;
}

// updateSparseShared's rows [b, e).
function updateSharedBlock(recs: usize, b: i32, n: i32, gBase: usize, hBase: usize, d: i32, rb: usize): i32 {
  let delta = 0;
  let i = b;
  if (pairs(d)) {
    for (; i + 1 < n; i += 2) {
      const ra = <usize>load<u32>(recs + <usize>i * 4), rb2 = <usize>load<u32>(recs + <usize>i * 4, 4);
      const first = min<usize>(ra, rb2), second = max<usize>(ra, rb2);
      lockRow(first);
      lockRow(second);
      const u = <usize>i, v = u + 1;
      delta += updatePair(ra + 16, ra, gBase + u * rb, hBase + u * rb, rb2 + 16, rb2, gBase + v * rb, hBase + v * rb, d);
      unlockRow(second);
      unlockRow(first);
    }
  }
  for (; i < n; i++) {
    const rec = <usize>load<u32>(recs + <usize>i * 4);
    const u = <usize>i;
    lockRow(rec);
    delta += updateRow(rec + 16, rec, gBase + u * rb, hBase + u * rb, d);
    unlockRow(rec);
  }
  return delta;
}
