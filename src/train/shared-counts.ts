/**
 * The occurrence counts of feature keys in a shared WebAssembly.Memory,
 * counted by any number of threads at once: the concurrent insert and
 * increment, growth and refills. The memory's layout and the passes over
 * every slot are ./shared-counts-memory.ts; the admission rule over the
 * counts (routing, budgets, the plain counts) is ./shared-admission.ts.
 *
 * Every piece of state is in the shared memory, so every thread sees one
 * truth. It starts with a header of u32 words (see the H_ constants):
 * capacity, slot region offset, distinct keys, admitted keys, routed
 * occurrences (a u64), routes in flight (with a "growing" bit), keys
 * committed (the distinct keys and the room reserved by counting routes in
 * flight, in one word), minCount and fields, pieces made
 * and taken. Then come the pieces: a thread that routes takes one (while
 * any is left) and counts its keys there with the counts' kernel
 * (kernels/assembly/counts.ts: a piece's keys deduplicated, each distinct
 * key counted with one atomic add of its occurrences, the home slots loaded
 * ahead together so that their cache misses overlap; `npm run bench --
 * admission` times both ways). The slots follow: an open-addressing hash of
 * (lo, hi, count, state) u32 quadruples (16 bytes a slot, 21-43 bytes per
 * distinct key at load 0.375-0.75). The kernel and this file follow one
 * protocol, so threads of either kind count the same keys together.
 *
 * Concurrency: a key is inserted by claiming an empty slot with
 * `Atomics.compareExchange` on its state word (EMPTY -> CLAIMED), writing lo,
 * hi and its first count, then publishing it (READY); a thread that meets a
 * claimed slot waits for it to be published (it spins, then sleeps with
 * `Atomics.wait`; the publisher wakes it). Counts are incremented with
 * `Atomics.add` (a compare-exchange loop near 2^32, where they saturate at
 * 2^32 - 1), so every occurrence of a key gets its own count, and the one
 * that reaches minCount bumps the admitted keys. The state word is separate
 * from the count because every u32 value is a possible count, so a count
 * word could not also hold a CLAIMED marker.
 *
 * Capacity: counting never takes the table past load 0.75: a counting route
 * reserves room for its keys first ({@link SharedCounts.reserve}), and
 * {@link SharedCounts.grow} rehashes into a larger slot region; growing (and
 * any change of every slot) may only run while no thread counts (a grow that
 * meets a route in flight, or a route that meets a grow, throws instead of
 * corrupting the table).
 */
import { slotOf } from "./admission.js";
import { countInPiece, countsKernels, pieceLayout } from "../kernels/counts.js";
import {
  CLAIMED, EMPTY, FAST, GROWING, H_ACTIVE, H_ADMITTED, H_CAP, H_FIELDS, H_MAGIC, H_MINCOUNT, H_PIECES, H_COMMITTED, H_ROUTED64, H_SLOTS, H_TAKEN, H_USED,
  HEADER_BYTES, MAGIC, MAX_CAP, MAX_LOAD, MAX_PIECES, PAGE, READY, SATURATED, SPINS, STRIDE, WAITED, pagesFor, putEntries, putSlots, slotBase, slotEntries, slotTriples,
} from "./shared-counts-memory.js";
import type { CountsModule } from "../kernels/generated/counts-exports.js";

/** Key counts in shared memory (see the module comment); one object per thread over the same memory. */
export class SharedCounts {
  private u32: Uint32Array;
  private i32: Int32Array;
  private u64: BigUint64Array;
  /** Keys this thread inserted / admitted during the route in progress (added to the header when it ends). */
  private newKeys = 0;
  private newAdmitted = 0;
  /** This thread's piece (undefined until its first route; -1: none left, the keys are counted here) and its instance of the counts' kernel. */
  private piece: number | undefined;
  private kernel: CountsModule | undefined;

  private constructor(readonly memory: WebAssembly.Memory, readonly minCount: number) {
    const b = memory.buffer;
    this.u32 = new Uint32Array(b);
    this.i32 = new Int32Array(b);
    this.u64 = new BigUint64Array(b, 0, HEADER_BYTES / 8);
  }

  /**
   * Empty counts with room for `capacity` slots (a power of two, 4 to 2^27;
   * 0.75 of them usable), and `pieces` pieces (0 to MAX_PIECES): the first
   * threads to route each take one and count there with the counts' kernel
   * (kernels/assembly/counts.ts), the others here.
   */
  static create(minCount: number, fields: number, capacity: number, pieces = 0): SharedCounts {
    if (!Number.isSafeInteger(capacity) || capacity < 4 || capacity > MAX_CAP || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`shared admission: capacity ${capacity} must be a power of two from 4 to ${MAX_CAP}`);
    }
    if (!Number.isSafeInteger(pieces) || pieces < 0 || pieces > MAX_PIECES) throw new RangeError(`shared admission: ${pieces} pieces must be an integer from 0 to ${MAX_PIECES}`);
    const base = slotBase(pieces);
    const memory = new WebAssembly.Memory({ initial: pagesFor(capacity, base), maximum: pagesFor(MAX_CAP, slotBase(MAX_PIECES)), shared: true });
    const u = new Uint32Array(memory.buffer);
    u[H_MAGIC] = MAGIC;
    u[H_CAP] = capacity;
    u[H_SLOTS] = base;
    u[H_PIECES] = pieces;
    // minCount above 2^32 - 1 is never reached (counts saturate): store it as that.
    u[H_MINCOUNT] = Math.min(minCount, SATURATED);
    u[H_FIELDS] = fields;
    return new SharedCounts(memory, minCount);
  }

  /** The counts in `memory`, made on another thread for minCount and fields (checked). */
  static attach(memory: WebAssembly.Memory, minCount: number, fields: number): SharedCounts {
    const s = new SharedCounts(memory, minCount), u = s.u32;
    if (u[H_MAGIC] !== MAGIC || u[H_MINCOUNT] !== Math.min(minCount, SATURATED) || u[H_FIELDS] !== fields) {
      throw new RangeError(`shared admission: the memory does not hold counts with minCount ${minCount} and ${fields} fields`);
    }
    return s;
  }

  /** Distinct keys counted (exact when no route is in flight). */
  get seen(): number { return Atomics.load(this.views(), H_USED); }
  /** Keys counted at least minCount times (exact when no route is in flight). */
  get admitted(): number { return Atomics.load(this.views(), H_ADMITTED); }
  /** Bytes of the shared memory. */
  get bytes(): number { return this.memory.buffer.byteLength; }
  /** Slots of the hash (a power of two). */
  get capacity(): number { return Atomics.load(this.views(), H_CAP); }
  /** Occurrences routed to an OOV row, by every thread. */
  get routed(): number { this.views(); return Number(Atomics.load(this.u64, H_ROUTED64)); }
  set routed(n: number) { this.views(); Atomics.store(this.u64, H_ROUTED64, BigInt(n)); }

  /** Adds n occurrences routed to an OOV row. */
  addRouted(n: number): void {
    Atomics.add(this.u64, H_ROUTED64, BigInt(n));
  }

  /** True when `n` more distinct keys surely fit, over every thread's routes in flight. */
  room(n: number): boolean {
    const u = this.views();
    return Atomics.load(u, H_COMMITTED) + n < Atomics.load(u, H_CAP) * MAX_LOAD;
  }

  /** Marks a route in flight (throws during a grow), with the current views; end it with {@link leave}. */
  enter(): void {
    const u = this.u32;
    if ((Atomics.add(u, H_ACTIVE, 1) & GROWING) !== 0) {
      Atomics.sub(u, H_ACTIVE, 1);
      throw new Error("shared admission: route while the counts grow (park the workers before grow())");
    }
    const v = this.views();
    if (v[H_SLOTS] + v[H_CAP] * STRIDE * 4 > v.byteLength) {
      Atomics.sub(u, H_ACTIVE, 1);
      throw new Error("shared admission: this thread's view of the memory is older than the counts' capacity");
    }
  }

  /**
   * Reserves room for n keys a route in flight may insert: a RangeError,
   * reserving nothing, when they may not fit under the load limit.
   */
  reserve(n: number): void {
    const u = this.u32;
    if (Atomics.add(u, H_COMMITTED, n) + n >= u[H_CAP] * MAX_LOAD) {
      Atomics.sub(u, H_COMMITTED, n);
      throw new RangeError(`shared admission: ${n} more keys may not fit under load ${MAX_LOAD} of ${u[H_CAP]} slots (check room() and grow() while no thread routes)`);
    }
  }

  /**
   * Ends a route: the keys it inserted are counted, and the room it reserved
   * (`reserved` keys) and did not fill goes back in one step. The committed
   * word never holds an inserted key twice (as a key and as room reserved),
   * so a reserve() meanwhile never fails for room that is there.
   */
  leave(reserved: number): void {
    const u = this.u32;
    if (this.newKeys > 0) Atomics.add(u, H_USED, this.newKeys);
    if (this.newAdmitted > 0) Atomics.add(u, H_ADMITTED, this.newAdmitted);
    if (reserved !== this.newKeys) Atomics.sub(u, H_COMMITTED, reserved - this.newKeys);
    this.newKeys = this.newAdmitted = 0;
    Atomics.sub(u, H_ACTIVE, 1);
  }

  /**
   * Rehashes the counts into a larger slot region: the smallest power of two,
   * at least twice the present capacity, under whose load limit `minKeys`
   * keys fit. Only while no thread routes. Throws a RangeError past 2^27
   * slots; the counts are unchanged then.
   */
  grow(minKeys = 0): void {
    this.exclusive("grow", () => {
      let cap = this.u32[H_CAP] * 2;
      while (minKeys >= cap * MAX_LOAD) cap *= 2;
      if (cap > MAX_CAP) throw new RangeError(`shared admission: more than ${MAX_CAP * MAX_LOAD} distinct features`);
      const pages = pagesFor(cap, slotBase(this.u32[H_PIECES])), have = this.memory.buffer.byteLength / PAGE;
      if (pages > have) this.memory.grow(pages - have);
      const u = this.views(), e = slotEntries(u, true), used = u[H_USED], admitted = u[H_ADMITTED];
      this.refill(cap, e);
      if (this.u32[H_USED] !== used || this.u32[H_ADMITTED] !== admitted) throw new Error("shared admission: rehash lost keys");
    });
  }

  /** Drops the keys counted fewer than minCount times (only while no thread routes); returns how many. */
  forgetUnadmitted(): number {
    let forgotten = 0;
    this.exclusive("forget counts", () => {
      const all = slotEntries(this.views(), true), keep = new Uint32Array(all.length), admitted = this.u32[H_ADMITTED], before = this.u32[H_USED];
      let k = 0;
      for (let i = 0; i < all.length; i += 3) {
        if (all[i + 2] < this.minCount) continue;
        keep[k++] = all[i];
        keep[k++] = all[i + 1];
        keep[k++] = all[i + 2];
      }
      this.refill(this.u32[H_CAP], keep.subarray(0, k));
      if (this.u32[H_ADMITTED] !== admitted) throw new Error("shared admission: forgetting lost admitted keys");
      forgotten = before - this.u32[H_USED];
    });
    return forgotten;
  }

  /** Every counted key as (lo, hi, count) triples, in slot order (complete when no route is in flight). */
  entries(): Uint32Array {
    return slotEntries(this.views());
  }

  /** The slots as (lo, hi, count) triples (Admission.fromSlots' layout), over `into` when it fits; with no route in flight (slotTriples). */
  slots(into?: Uint32Array): Uint32Array {
    return slotTriples(this.views(), into);
  }

  /** The count of one key (0 when never counted); safe while threads route, not during a grow. */
  count(lo: number, hi: number): number {
    this.views();
    return this.lookup(lo, hi);
  }

  /** Pieces made, and taken by threads that routed (each counts with the counts' kernel there). */
  get pieces(): { made: number; taken: number } {
    const u = this.views();
    return { made: u[H_PIECES], taken: Math.min(Atomics.load(u, H_TAKEN), u[H_PIECES]) };
  }

  /** Keys one call of {@link countPiece} takes: those of this thread's piece, 0 when it has none (it counts with increment and lookup). */
  pieceKeys(): number {
    if (this.piece === undefined) {
      const u = this.views(), pieces = u[H_PIECES];
      const k = pieces > 0 ? Atomics.add(u, H_TAKEN, 1) : 0;
      this.piece = k < pieces ? k : -1;
      if (this.piece >= 0) this.kernel = countsKernels(this.memory);
    }
    return this.piece >= 0 ? pieceLayout().keys : 0;
  }

  /**
   * increment (count) or lookup of the m keys from..from + m of `words`
   * ((lo, hi) pairs; m at most {@link pieceKeys}) with the counts' kernel,
   * in this thread's piece: their counts, in a view valid until the next
   * call (admitAt: the count that admits a key, 0 when none does). A
   * new key's first count is 1 (counts with sightings elsewhere count with
   * increment). During a route (enter).
   */
  countPiece(words: Uint32Array, from: number, m: number, count: boolean, admitAt: number): Uint32Array {
    const at = HEADER_BYTES + this.piece! * pieceLayout().bytes;
    const r = countInPiece(this.u32, at, words, from, m, () => this.kernel!.countKeys(at, m, count ? 1 : 0, admitAt));
    this.newKeys += r.inserted;
    this.newAdmitted += r.admitted;
    return r.counts;
  }

  /** A key's count (0 when absent), waiting for a slot another thread is filling; during a route (enter). */
  lookup(lo: number, hi: number): number {
    const u = this.u32, base = u[H_SLOTS] >>> 2, mask = u[H_CAP] - 1;
    for (let i = slotOf(lo, hi) & mask; ; i = (i + 1) & mask) {
      const s = base + i * STRIDE, st = Atomics.load(u, s + 3);
      if (st === EMPTY) return 0;
      if (st !== READY) this.await(s + 3);
      if (u[s] === lo && u[s + 1] === hi) return u[s + 2];
    }
  }

  /**
   * Adds one occurrence of a key, inserting it when new with the count
   * `first(lo, hi)` gives (called once, by the inserting thread); returns its
   * new count (saturating at 2^32 - 1). During a route (enter).
   */
  increment(lo: number, hi: number, first: (lo: number, hi: number) => number): number {
    const u = this.u32, base = u[H_SLOTS] >>> 2, mask = u[H_CAP] - 1;
    for (let i = slotOf(lo, hi) & mask; ; i = (i + 1) & mask) {
      const s = base + i * STRIDE;
      let st = Atomics.load(u, s + 3);
      if (st === EMPTY) {
        st = Atomics.compareExchange(u, s + 3, EMPTY, CLAIMED);
        if (st === EMPTY) {
          const n = first(lo, hi);
          u[s] = lo;
          u[s + 1] = hi;
          u[s + 2] = n;
          // Publishing orders the writes above before any thread's read of READY.
          if (Atomics.exchange(this.i32, s + 3, READY) === WAITED) Atomics.notify(this.i32, s + 3);
          this.newKeys++;
          if (n >= this.minCount) this.newAdmitted++;
          return n;
        }
      }
      if (st !== READY) this.await(s + 3);
      if (u[s] !== lo || u[s + 1] !== hi) continue;
      let c = u[s + 2];
      if (c < FAST) c = Atomics.add(u, s + 2, 1) + 1;
      else {
        for (;;) {
          if (c === SATURATED) return c;
          const p = Atomics.compareExchange(u, s + 2, c, c + 1);
          if (p === c) break;
          c = p;
        }
        c++;
      }
      if (c === this.minCount) this.newAdmitted++;
      return c;
    }
  }

  /** Inserts (lo, hi, count) triples of distinct keys into empty slots, with no thread routing; seen / admitted become theirs. */
  fill(e: Uint32Array): void {
    putEntries(this.views(), e, this.minCount);
  }

  /** Puts plain counts' slots into these empty counts of as many slots, slot for slot, with no thread routing (putSlots). */
  fillSlots(slots: Uint32Array): void {
    putSlots(this.views(), slots, this.minCount);
  }

  /** Runs `f` while no thread routes (holding the growing bit): a route in flight makes it throw, a route started meanwhile throws. */
  private exclusive(what: string, f: () => void): void {
    const u = this.views();
    if (Atomics.compareExchange(u, H_ACTIVE, 0, GROWING) !== 0) throw new Error(`shared admission: ${what} while threads route these counts (park the workers first)`);
    try {
      f();
    } finally {
      Atomics.sub(this.views(), H_ACTIVE, GROWING);
    }
  }

  /** Empties `cap` slots (the memory holds them) and puts the (lo, hi, count) entries back. */
  private refill(cap: number, e: Uint32Array): void {
    const v = this.views(), base = slotBase(v[H_PIECES]);
    v.fill(0, base / 4, base / 4 + cap * STRIDE);
    v[H_CAP] = cap;
    v[H_SLOTS] = base;
    this.fill(e);
  }

  /** Waits until the slot whose state word is at `k` is published. */
  private await(k: number): void {
    const a = this.i32;
    for (let spin = 0; ; spin++) {
      const st = Atomics.load(a, k);
      if (st === READY) return;
      if (spin < SPINS) continue;
      if (st === CLAIMED) Atomics.compareExchange(a, k, CLAIMED, WAITED);
      Atomics.wait(a, k, WAITED, 50);
    }
  }

  /** The header view, after taking new views of the memory when it has grown. */
  private views(): Uint32Array {
    const b = this.memory.buffer;
    if (b.byteLength !== this.u32.byteLength) {
      this.u32 = new Uint32Array(b);
      this.i32 = new Int32Array(b);
      this.u64 = new BigUint64Array(b, 0, HEADER_BYTES / 8);
    }
    return this.u32;
  }
}

