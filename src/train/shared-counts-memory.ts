/**
 * The memory of the shared admission counts (./shared-counts.ts): its
 * layout (header words, slots of (lo, hi, count, state) words and their
 * states, sizes and limits) and the passes over every slot, which run only
 * while no thread routes the counts: listing the keys, copying the slots
 * out in Admission's layout, and putting keys or plain counts' slots in.
 */
import { slotOf } from "./admission.js";
import { pieceLayout } from "../kernels/counts.js";

// Header words (u32 indices); the routed occurrences are the u64 at bytes 40..47 (u32 words 10 and 11).
export const H_MAGIC = 0, H_CAP = 1, H_SLOTS = 2, H_USED = 3, H_ADMITTED = 4, H_ACTIVE = 5, H_COMMITTED = 6, H_MINCOUNT = 7, H_FIELDS = 8, H_PIECES = 12, H_TAKEN = 13;
export const H_ROUTED64 = 5;
export const HEADER_BYTES = 64;
export const MAGIC = 0x53414431; // "SAD1"
/** Words per slot: lo, hi, count, state. */
export const STRIDE = 4;
/** Bytes per slot. */
export const SLOT_BYTES = STRIDE * 4;
export const EMPTY = 0, CLAIMED = 1, WAITED = 2, READY = 3;
/** The bit of H_ACTIVE held by a grow. */
export const GROWING = 0x80000000;
/** The load the slots never pass. */
export const MAX_LOAD = 0.75;
/** Slots at most: the region (2 GiB) must fit a 32-bit memory. */
export const MAX_CAP = 1 << 27;
/** Pieces at most: each a thread's keys for the counts' kernel (kernels/counts.ts). */
export const MAX_PIECES = 256;
export const PAGE = 65536;
/** A count that has reached 2^32 - 1 stays there. */
export const SATURATED = 0xffffffff;
/** Below this count an increment cannot wrap, whatever other threads add meanwhile: plain Atomics.add. */
export const FAST = 0x80000000;
/** Probes of a claimed slot before sleeping on it. */
export const SPINS = 200;

/** Pages of a memory holding `cap` slots from byte `base`. */
export function pagesFor(cap: number, base: number): number {
  return Math.ceil((base + cap * STRIDE * 4) / PAGE);
}

/** Where the slots begin: after the header and `pieces` pieces. */
export function slotBase(pieces: number): number {
  return HEADER_BYTES + (pieces > 0 ? pieces * pieceLayout().bytes : 0);
}

/**
 * Every counted key of the counts in `u` as (lo, hi, count) triples, in slot
 * order (complete when no route is in flight). With `quiet` (no route in
 * flight: the threads that routed synchronised with this one since, as for
 * a grow) the state words are read plainly, a scan about a third faster.
 */
export function slotEntries(u: Uint32Array, quiet = false): Uint32Array {
  const base = u[H_SLOTS] >>> 2, cap = u[H_CAP];
  const e = new Uint32Array(3 * Atomics.load(u, H_USED));
  let k = 0;
  for (let i = 0; i < cap && k < e.length; i++) {
    const s = base + i * STRIDE;
    if ((quiet ? u[s + 3] : Atomics.load(u, s + 3)) !== READY) continue;
    e[k++] = u[s];
    e[k++] = u[s + 1];
    e[k++] = u[s + 2];
  }
  return k === e.length ? e : e.slice(0, k);
}

/**
 * The slots of the counts in `u` as (lo, hi, count) triples in slot order,
 * empty ones zeros (Admission.fromSlots' layout); with no route in flight.
 * Written over `into` when it has that many words (earlier slots no longer
 * needed: memory already paged in), else into a new array.
 */
export function slotTriples(u: Uint32Array, into?: Uint32Array): Uint32Array {
  // Plain reads: no route is in flight (the threads that routed synchronised with this one since).
  const base = u[H_SLOTS] >>> 2, cap = u[H_CAP];
  const fresh = into?.length !== cap * 3, slots = fresh ? new Uint32Array(cap * 3) : into!;
  for (let i = 0, s = base, o = 0; i < cap; i++, s += STRIDE, o += 3) {
    if (u[s + 3] !== READY) {
      if (!fresh && slots[o + 2] !== 0) slots[o] = slots[o + 1] = slots[o + 2] = 0;
      continue;
    }
    slots[o] = u[s];
    slots[o + 1] = u[s + 1];
    slots[o + 2] = u[s + 2];
  }
  return slots;
}

/** Inserts (lo, hi, count) triples of distinct keys into the empty slots of the counts in `u`, with no thread routing; seen / admitted become theirs. */
export function putEntries(u: Uint32Array, e: Uint32Array, minCount: number): void {
  const base = u[H_SLOTS] >>> 2, mask = u[H_CAP] - 1;
  let admitted = 0;
  for (let k = 0; k < e.length; k += 3) {
    const lo = e[k], hi = e[k + 1];
    let i = slotOf(lo, hi) & mask;
    while (u[base + i * STRIDE + 3] !== EMPTY) i = (i + 1) & mask;
    const s = base + i * STRIDE;
    u[s] = lo;
    u[s + 1] = hi;
    u[s + 2] = e[k + 2];
    u[s + 3] = READY;
    if (e[k + 2] >= minCount) admitted++;
  }
  Atomics.store(u, H_USED, e.length / 3);
  Atomics.store(u, H_COMMITTED, e.length / 3);
  Atomics.store(u, H_ADMITTED, admitted);
}

/**
 * Puts the keys of plain counts' slots ((lo, hi, count) per slot, count 0
 * empty: Admission's layout, laid out by the same hash and probing) into
 * the empty counts in `u` of as many slots, each in the slot of the same
 * index: one pass in slot order, no rehash (putEntries' probes miss the
 * cache once a key on a large table). Only while no thread routes.
 */
export function putSlots(u: Uint32Array, slots: Uint32Array, minCount: number): void {
  const base = u[H_SLOTS] >>> 2, cap = u[H_CAP];
  if (slots.length !== cap * 3) throw new RangeError(`shared admission: ${slots.length / 3} slots given for counts of ${cap}`);
  if (u[H_USED] !== 0) throw new Error("shared admission: the slots go into empty counts only");
  let used = 0, admitted = 0;
  for (let i = 0, o = 0, s = base; i < cap; i++, o += 3, s += STRIDE) {
    const c = slots[o + 2];
    if (c === 0) continue;
    u[s] = slots[o];
    u[s + 1] = slots[o + 1];
    u[s + 2] = c;
    u[s + 3] = READY;
    used++;
    if (c >= minCount) admitted++;
  }
  if (used >= cap * MAX_LOAD) throw new RangeError(`shared admission: ${used} keys in ${cap} slots pass the load limit ${MAX_LOAD}`);
  Atomics.store(u, H_USED, used);
  Atomics.store(u, H_COMMITTED, used);
  Atomics.store(u, H_ADMITTED, admitted);
}
