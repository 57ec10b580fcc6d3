// One table step a round when several threads each train a share of the
// round's batch (--dense-updates split, src/train/parallel-worker.ts): a row
// met in several shares must take one step with the whole batch's gradient,
// as with one thread, not one step per share.
//
// Each thread, after its share's backward, has its distinct rows and their
// gradient sums (dedupResolveShared, accumulateInverse). bucketByOwner groups
// them by the thread that owns each row (a mix of the row's record address:
// ownerOf). After a barrier, each thread gathers the rows it owns from every
// thread's groups (mergeOwned), adding up the gradients of a row in thread
// order (so the sum does not depend on timing), and steps them once with
// updateSparseShared. Every row has one owner, so no two threads step a row
// in the same round; each step still takes the row's lock.
//
// Built into dist/kernels-shared.wasm only (the threads read each other's
// scratch in the shared memory). test/unit/round-merge.test.ts checks both
// kernels against a brute-force sum.

import { fmix32 } from "./hash";
import { addRow, copyRow } from "./batch-rows";

// A thread's descriptor in the list mergeOwned reads: u32 words.
const L_RECS = 0;
const L_GRAD = 1;
const L_HESS = 2;
const L_ORDER = 3;
const L_OFFSETS = 4;
const L_WORDS = 5;

// The owner of a record among `owners` threads: the high bits of its mix (the merge's hash table uses the low ones).
@inline function ownerOf(rec: u32, owners: u32): u32 {
  return <u32>((<u64>fmix32(rec) * <u64>owners) >>> 32);
}

/** The thread that owns the row whose record is at rec, among `owners` (for tests and callers). */
export function rowOwner(rec: u32, owners: i32): i32 {
  return <i32>ownerOf(rec, <u32>owners);
}

/**
 * Groups a thread's u distinct records (recs, u32) by owner: order (u u32)
 * gets their positions, owner 0's first, each group in recs order; offsets
 * (owners + 1 u32) the groups' starts, offsets[owners] = u.
 */
export function bucketByOwner(recs: usize, u: i32, owners: i32, order: usize, offsets: usize): void {
  const W = <u32>owners;
  memory.fill(offsets, 0, (<usize>W + 1) * 4);
  for (let i = 0; i < u; i++) {
    const c = offsets + (<usize>ownerOf(load<u32>(recs + <usize>i * 4), W) + 1) * 4;
    store<u32>(c, load<u32>(c) + 1);
  }
  // offsets[o] = the start of group o.
  for (let o: u32 = 0; o < W; o++) {
    const c = offsets + (<usize>o + 1) * 4;
    store<u32>(c, load<u32>(c) + load<u32>(c - 4));
  }
  // Placing moves each group's cursor (offsets[o]) to its end, which is group o + 1's start ...
  for (let i = 0; i < u; i++) {
    const c = offsets + <usize>ownerOf(load<u32>(recs + <usize>i * 4), W) * 4, j = load<u32>(c);
    store<u32>(order + <usize>j * 4, <u32>i);
    store<u32>(c, j + 1);
  }
  // ... so the starts are the cursors shifted by one.
  for (let o = W; o > 0; o--) store<u32>(offsets + <usize>o * 4, load<u32>(offsets + (<usize>o - 1) * 4));
  store<u32>(offsets, 0);
}

/**
 * Gathers the rows `owner` owns from every thread's groups (lists: `threads`
 * descriptors of 5 u32 words: recs, gradient sums, Hessian sums or 0, order,
 * offsets, as bucketByOwner left them), in thread order, into outRecs (u32),
 * outG and outH (d floats a row; outH 0: no Hessian): one row per distinct
 * record, its gradients added up in thread order. tab (room for 2 * cap
 * u32, cap a power of two) is the record -> row table, of the smallest
 * power of two >= max(16, 2 x the rows to gather, up to cap) entries: all
 * zero on entry and left zero (as dedupIds, which shares it, requires).
 *
 * At most cap rows at a time: the cursor (2 u32: thread, position in its
 * group) says where to start, and is left where the call stopped (thread =
 * threads when every row was gathered). Returns the rows written. A row met
 * again after a full call is gathered again by the next (a second step of
 * the row: the data-parallel trainer sizes cap for every share of a round,
 * train/parallel-plan.ts scratchIds, so that one call takes them all).
 */
export function mergeOwned(lists: usize, threads: i32, owner: i32, d: i32, cap: i32, cursor: usize, outRecs: usize, outG: usize, outH: usize, tab: usize): i32 {
  let k = load<i32>(cursor);
  let at = load<u32>(cursor, 4);
  // The rows to gather from the cursor on (with repeats): the table's size (clearing it costs as much as its entries).
  let rows: u32 = 0;
  for (let j = k; j < threads; j++) {
    const offsets = <usize>load<u32>(lists + (<usize>j * L_WORDS + L_OFFSETS) * 4);
    rows += load<u32>(offsets + (<usize>owner + 1) * 4) - max<u32>(j == k ? at : 0, load<u32>(offsets + <usize>owner * 4));
  }
  let size: u32 = 16;
  while (size < 2 * min<u32>(rows, <u32>cap)) size <<= 1;
  const mask = size - 1;
  const rb = <usize>d * 4;
  let n = 0;
  for (; k < threads; k++) {
    const l = lists + <usize>k * L_WORDS * 4;
    const recs = <usize>load<u32>(l + L_RECS * 4), g = <usize>load<u32>(l + L_GRAD * 4), h = <usize>load<u32>(l + L_HESS * 4);
    const order = <usize>load<u32>(l + L_ORDER * 4), offsets = <usize>load<u32>(l + L_OFFSETS * 4);
    const end = load<u32>(offsets + (<usize>owner + 1) * 4);
    let j = max<u32>(at, load<u32>(offsets + <usize>owner * 4));
    at = 0;
    for (; j < end; j++) {
      const i = <usize>load<u32>(order + <usize>j * 4), rec = load<u32>(recs + i * 4);
      let p = fmix32(rec) & mask;
      let slot: u32 = 0;
      while (true) {
        slot = load<u32>(tab + <usize>p * 4);
        if (slot == 0 || load<u32>(outRecs + (<usize>slot - 1) * 4) == rec) break;
        p = (p + 1) & mask;
      }
      if (slot != 0) {
        addRow(outG + (<usize>slot - 1) * rb, g + i * rb, d);
        if (outH) addRow(outH + (<usize>slot - 1) * rb, h + i * rb, d);
        continue;
      }
      if (n == cap) {
        store<i32>(cursor, k);
        store<u32>(cursor, j, 4);
        memory.fill(tab, 0, (<usize>mask + 1) * 4);
        return n;
      }
      store<u32>(tab + <usize>p * 4, <u32>n + 1);
      store<u32>(outRecs + <usize>n * 4, rec);
      copyRow(outG + <usize>n * rb, g + i * rb, d);
      if (outH) copyRow(outH + <usize>n * rb, h + i * rb, d);
      n++;
    }
  }
  store<i32>(cursor, threads);
  store<u32>(cursor, 0, 4);
  memory.fill(tab, 0, (<usize>mask + 1) * 4);
  return n;
}
