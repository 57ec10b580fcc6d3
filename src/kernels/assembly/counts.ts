// Entry point of the admission counts' kernel module (dist/counts.wasm): the
// count and the lookup of a piece of keys in the shared counts of
// src/train/shared-counts.ts (countKeys), instantiated over the counts' own
// shared memory (one instance per thread), and in the plain counts of one
// thread (countPlain: src/train/admission.ts, its slots in a memory of their
// own). It holds no static data, so an instance writes nothing into that
// memory when it starts.
//
// The memory's layout, the slot protocol and the hash are shared-counts.ts'
// (its module comment): a header of u32 words at 0 (capacity at word 1, the
// slot region's offset at word 2), then each thread's
// piece (PIECE_* below, the same constants there), then the slots of
// (lo, hi, count, state) u32 quadruples. A key is inserted by claiming an
// empty slot (compare-and-swap of its state word, EMPTY -> CLAIMED),
// writing lo, hi and its count, then publishing it (READY, waking a
// JavaScript thread that sleeps on it: WAITED). A slot another thread is
// filling is waited for by spinning: a claim lasts three stores. Counts are
// incremented with an atomic add, and saturate at 2^32 - 1 (a compare-and-
// swap loop from 2^31 on), as shared-counts.ts' increment does, but once
// per distinct key of a piece, by its occurrences there.

import { dedupIds } from "./table";

const EMPTY: u32 = 0;
const CLAIMED: u32 = 1;
const WAITED: u32 = 2;
const READY: u32 = 3;
const SATURATED: u32 = 0xffffffff;
const FAST: u32 = 0x80000000;
const SLOT: usize = 16;
// A plain count's slot: lo, hi, count.
const PLAIN_SLOT: usize = 12;

// A piece: PIECE_KEYS keys as (lo, hi) words, their counts (u32), then the
// dedup's scratch (dedupIds in ./table.ts: hashes, inverse, distinct keys,
// table), each distinct key's count before the call and its occurrences,
// then the call's results: keys inserted, keys admitted.
const PIECE_KEYS: usize = 4096;
const P_COUNTS: usize = PIECE_KEYS * 8;
const P_HASHES: usize = P_COUNTS + PIECE_KEYS * 4;
const P_INVERSE: usize = P_HASHES + PIECE_KEYS * 4;
const P_DKEYS: usize = P_INVERSE + PIECE_KEYS * 4;
const P_TAB: usize = P_DKEYS + PIECE_KEYS * 8;
const P_BEFORE: usize = P_TAB + PIECE_KEYS * 2 * 4;
const P_TIMES: usize = P_BEFORE + PIECE_KEYS * 4;
const P_RESULT: usize = P_TIMES + PIECE_KEYS * 4;
// Distinct keys whose home slots are loaded ahead together (their misses overlap).
const BLOCK: u32 = 32;

/**
 * The dedup of a piece's n keys: each distinct key once, in order of first
 * appearance (its home hash at P_HASHES, the key at P_DKEYS), each key's
 * distinct index at P_INVERSE, and when counting each distinct key's
 * occurrences at P_TIMES (a lookup needs none); returns the distinct count.
 */
function dedupPiece(piece: usize, n: i32, count: i32): u32 {
  const u = dedupIds(piece, n, piece + P_HASHES, piece + P_INVERSE, piece + P_DKEYS, piece + P_TAB);
  if (count == 0) return u;
  const times = piece + P_TIMES, inverse = piece + P_INVERSE;
  memory.fill(times, 0, <usize>u * 4);
  for (let i = 0; i < n; i++) {
    const t = times + <usize>load<u32>(inverse + <usize>i * 4) * 4;
    store<u32>(t, load<u32>(t) + 1);
  }
  return u;
}

/**
 * Each key's count after its occurrence (counting: a distinct key's count
 * before the call plus 1, 2, ... at its occurrences in order, saturating;
 * P_BEFORE runs up to the last one's), or its count (a lookup), to the
 * piece's counts.
 */
function spreadCounts(piece: usize, n: i32, count: i32): void {
  const counts = piece + P_COUNTS, inverse = piece + P_INVERSE, before = piece + P_BEFORE;
  for (let i = 0; i < n; i++) {
    const b = before + <usize>load<u32>(inverse + <usize>i * 4) * 4;
    let c = load<u32>(b);
    if (count != 0 && c != SATURATED) store<u32>(b, ++c);
    store<u32>(counts + <usize>i * 4, c);
  }
}

// Whether counts from `c` up by `m` (saturating) pass through `admitAt` (0: none does).
@inline function admits(c: u32, m: u32, admitAt: u32): bool {
  return admitAt != 0 && c < admitAt && admitAt - c <= m;
}

// Keys inserted and admitted by the call in progress.
let inserted: u32 = 0;
let admitted: u32 = 0;

/**
 * Counts (count != 0) or looks up the n <= PIECE_KEYS keys of the piece at
 * `piece`, in order: writes each key's count after its occurrence (counting)
 * or its count (0 when absent; a lookup inserts nothing) to the piece's
 * counts, and the keys this call inserted and admitted (its occurrences
 * took their count to admitAt, the minCount: 0 for one no count reaches) to
 * its results. The keys are deduplicated first: each distinct key is found
 * once and counted with one atomic add of its occurrences (a hot key's
 * count is one contended word for every thread: one add a piece, not one an
 * occurrence), and its occurrences take the counts that add reserved, in
 * order; a count near 2^32 saturates with a compare-and-swap loop. The
 * caller has reserved room for n new keys.
 */
export function countKeys(piece: usize, n: i32, count: i32, admitAt: u32): void {
  countPiece(<usize>load<u32>(8), SLOT, load<u32>(4) - 1, piece, n, count, admitAt, true);
}

/**
 * countKeys for the plain counts of one thread (src/train/admission.ts):
 * `cap` slots (a power of two) of (lo, hi, count) u32 triples at `slots`, a
 * count of 0 marking an empty slot, read and written by this thread only
 * (no atomics). The counts are those of Admission's increment, occurrence
 * by occurrence (a new key's first count 1, saturating at 2^32 - 1); the
 * piece and its results as countKeys'. The caller has made room for n new
 * keys.
 */
export function countPlain(slots: usize, cap: u32, piece: usize, n: i32, count: i32, admitAt: u32): void {
  countPiece(slots, PLAIN_SLOT, cap - 1, piece, n, count, admitAt, false);
}

/**
 * The count of both: the piece's keys deduplicated, the distinct keys' home
 * slots loaded ahead in blocks (the count word, at byte 8 of either slot),
 * each distinct key found (and counted) once, then the counts spread over
 * the occurrences.
 */
function countPiece(slots: usize, slotBytes: usize, mask: u32, piece: usize, n: i32, count: i32, admitAt: u32, shared: bool): void {
  const u = dedupPiece(piece, n, count);
  const hashes = piece + P_HASHES, dkeys = piece + P_DKEYS, before = piece + P_BEFORE, times = piece + P_TIMES;
  inserted = 0;
  admitted = 0;
  let sink: u32 = 0;
  for (let b: u32 = 0; b < u; b += BLOCK) {
    const e = min<u32>(u, b + BLOCK);
    for (let j = b; j < e; j++) sink ^= load<u32>(slots + <usize>(load<u32>(hashes + <usize>j * 4) & mask) * slotBytes, 8);
    for (let j = b; j < e; j++) {
      const k = dkeys + <usize>j * 8;
      // m (the occurrences) is read only when counting.
      const lo = load<u32>(k), hi = load<u32>(k, 4), m = load<u32>(times + <usize>j * 4), h = load<u32>(hashes + <usize>j * 4) & mask;
      const c = shared ? findShared(slots, mask, h, lo, hi, m, count, admitAt) : findPlain(slots, mask, h, lo, hi, m, count, admitAt);
      store<u32>(before + <usize>j * 4, c);
    }
  }
  spreadCounts(piece, n, count);
  store<u32>(piece + P_RESULT, inserted);
  store<u32>(piece + P_RESULT, admitted, 4);
  store<u32>(piece + P_RESULT, sink, 8);
}

// A distinct key of the shared counts from its home slot h: inserted with its m occurrences, or
// its count added to by them (counting), or looked up; returns its count before the call's (0 when absent).
@inline function findShared(base: usize, mask: u32, h: u32, lo: u32, hi: u32, m: u32, count: i32, admitAt: u32): u32 {
  for (let i = h; ; i = (i + 1) & mask) {
    const s = base + <usize>i * SLOT;
    let st = atomic.load<u32>(s, 12);
    if (st == EMPTY) {
      if (count == 0) return 0;
      st = atomic.cmpxchg<u32>(s + 12, EMPTY, CLAIMED);
      if (st == EMPTY) {
        store<u32>(s, lo);
        store<u32>(s, hi, 4);
        store<u32>(s, m, 8);
        // Publishing orders the stores above before any thread's read of READY.
        if (atomic.xchg<u32>(s + 12, READY) == WAITED) atomic.notify(s + 12);
        inserted++;
        if (admits(0, m, admitAt)) admitted++;
        return 0;
      }
    }
    while (st != READY) st = atomic.load<u32>(s, 12);
    if (load<u32>(s) != lo || load<u32>(s, 4) != hi) continue;
    let c = load<u32>(s, 8);
    if (count == 0) return c;
    if (c < FAST) c = atomic.add<u32>(s + 8, m);
    else {
      while (c != SATURATED) {
        const p = atomic.cmpxchg<u32>(s + 8, c, c > SATURATED - m ? SATURATED : c + m);
        if (p == c) break;
        c = p;
      }
    }
    if (admits(c, m, admitAt)) admitted++;
    return c;
  }
}

// findShared for the plain counts (a count of 0 marks an empty slot; no other thread).
@inline function findPlain(slots: usize, mask: u32, h: u32, lo: u32, hi: u32, m: u32, count: i32, admitAt: u32): u32 {
  for (let i = h; ; i = (i + 1) & mask) {
    const s = slots + <usize>i * PLAIN_SLOT;
    const c = load<u32>(s, 8);
    if (c == 0) {
      if (count != 0) {
        store<u32>(s, lo);
        store<u32>(s, hi, 4);
        store<u32>(s, m, 8);
        inserted++;
        if (admits(0, m, admitAt)) admitted++;
      }
      return 0;
    }
    if (load<u32>(s) != lo || load<u32>(s, 4) != hi) continue;
    if (count != 0) {
      store<u32>(s, c > SATURATED - m ? SATURATED : c + m, 8);
      if (admits(c, m, admitAt)) admitted++;
    }
    return c;
  }
}

/** Keys a piece holds (a call counts at most this many). */
export function pieceKeys(): i32 {
  return <i32>PIECE_KEYS;
}

/** Offset in a piece of its keys' counts (u32 each). */
export function pieceCounts(): i32 {
  return <i32>P_COUNTS;
}

/** Offset in a piece of a call's results: keys inserted, keys admitted (u32 each). */
export function pieceResult(): i32 {
  return <i32>P_RESULT;
}

/** Bytes of a piece (a multiple of 16: the slots after the pieces stay aligned). */
export function pieceBytes(): i32 {
  return <i32>(P_RESULT + 16);
}
