/**
 * Feature admission counts that worker threads share: the occurrence counts
 * and routing of {@link Admission}, kept in a shared WebAssembly.Memory
 * (./shared-counts.ts: the layout, the concurrent inserts and increments)
 * so that any number of threads route their own batches against one set of
 * counts at the same time. Each key's occurrences are routed as some
 * sequential interleaving of the threads' calls would route them: exactly
 * min(count, minCount - 1) go to OOV rows.
 *
 * Capacity: a worker (or the thread coordinating the workers) asks
 * {@link SharedAdmission.room} before routing, and
 * {@link SharedAdmission.grow} rehashes into a larger slot region while no
 * thread routes (the caller parks the workers first). A counting route
 * without room throws a RangeError before it counts anything.
 *
 * A memory budget (`maxBytes`, as {@link Admission}'s): when the counts
 * need room and doubling the slots would pass it, {@link makeRoom} forgets
 * the keys not yet admitted instead (while no thread routes), and grows only
 * when the admitted keys alone leave too little room.
 * {@link SharedAdmission.toAdmission} gives the plain counts, so checkpoints
 * keep Admission's format.
 */
import { Admission, oovTable, routeInPieces, routeKey, type SightingsShare } from "./admission.js";
import { SharedCounts } from "./shared-counts.js";
import { MAX_CAP, MAX_LOAD, SLOT_BYTES } from "./shared-counts-memory.js";
import { BloomFilter } from "../util/bloom.js";

/** What a worker thread needs to attach to shared counts (plain data for postMessage / workerData). */
export interface SharedAdmissionState {
  readonly memory: WebAssembly.Memory;
  readonly minCount: number;
  readonly fields: number;
  /** The sightings of a cluster run's other workers, shared by the threads (see {@link SharedAdmission.from}). */
  readonly sightings?: SightingsShare;
}

/** Occurrence counts of feature keys in shared memory, routed by many threads at once (see the module comment). */
export class SharedAdmission {
  readonly minCount: number;
  readonly fields: number;
  private readonly counts: SharedCounts;
  private readonly oov: Uint32Array;
  /** Bytes the slots may take before makeRoom forgets unadmitted keys instead of growing (the owner's; default unbounded). */
  maxBytes = Infinity;
  /** Keys forgotten under maxBytes (counted by the owner, which alone makes room). */
  forgotten = 0;
  /** Sightings elsewhere (a cluster run's other workers): the keys counted first here are added to own; a key in run counts one more at its first occurrence. */
  private readonly sightings: SightingsShare | undefined;
  private readonly own: BloomFilter | undefined;
  private readonly run: BloomFilter | undefined;
  /** A new key's first count: 1, or 2 when counted elsewhere first (Admission.elsewhere). */
  private readonly first = (lo: number, hi: number): number => {
    if (this.own === undefined) return 1;
    this.own.add(lo, hi);
    return this.run!.has(lo, hi) ? 2 : 1;
  };

  private constructor(counts: SharedCounts, fields: number, sightings?: SightingsShare) {
    this.sightings = sightings;
    this.own = sightings && BloomFilter.attach(sightings.own);
    this.run = sightings && BloomFilter.attach(sightings.run);
    this.counts = counts;
    this.minCount = counts.minCount;
    this.fields = fields;
    this.oov = oovTable(fields);
  }

  /**
   * Empty counts with room for `capacity` slots (a power of two, 4 to 2^27;
   * 0.75 of them usable), and for the kernel counts of `pieces` threads
   * (SharedCounts.create; e.g. the workers that will route them).
   */
  static create(minCount: number, fields: number, capacity = 1 << 16, sightings?: SightingsShare, pieces = 0): SharedAdmission {
    if (!Number.isSafeInteger(minCount) || minCount < 2) throw new RangeError(`min count ${minCount} must be an integer >= 2 (1 admits every feature: no counts needed)`);
    if (!Number.isSafeInteger(fields) || fields < 1) throw new RangeError(`admission: fields = ${fields} must be a positive integer`);
    return new SharedAdmission(SharedCounts.create(minCount, fields, capacity, pieces), fields, sightings);
  }

  /**
   * Shared counts equal to `a`'s (counts, seen, admitted, routed, its memory
   * budget and keys forgotten), with its sightings elsewhere when it has
   * them (they must be shareable: Sightings.share), and room for the kernel
   * counts of `pieces` threads (create).
   */
  static from(a: Admission, pieces = 0): SharedAdmission {
    if (a.elsewhere && !a.elsewhere.share) throw new Error("shared admission: the counts' sightings elsewhere cannot be shared with worker threads");
    const slots = a.slotWords, sharing = a.elsewhere?.share?.();
    let s: SharedAdmission;
    if (slots.length / 3 >= 4 && slots.length / 3 <= MAX_CAP) {
      // The same hash and probing as Admission's: its slots are copied as they lie, in one pass (toAdmission's way back).
      s = SharedAdmission.create(a.minCount, a.fields, slots.length / 3, sharing, pieces);
      s.counts.fillSlots(slots);
    } else {
      // Fewer slots than shared counts take, or more (plain counts grown past them, then keys forgotten): rehashed.
      const e = a.entries(), keys = e.length / 3;
      let cap = 1 << 16;
      while (keys >= cap * MAX_LOAD) cap *= 2;
      if (cap > MAX_CAP) throw new RangeError(`shared admission: more than ${MAX_CAP * MAX_LOAD} distinct features`);
      s = SharedAdmission.create(a.minCount, a.fields, cap, sharing, pieces);
      s.counts.fill(e);
    }
    s.counts.routed = a.routed;
    s.maxBytes = a.maxBytes;
    s.forgotten = a.forgotten;
    return s;
  }

  /** The counts seen from a worker thread, given the {@link state} of those made on another. */
  static attach(state: SharedAdmissionState): SharedAdmission {
    return new SharedAdmission(SharedCounts.attach(state.memory, state.minCount, state.fields), state.fields, state.sightings);
  }

  /** What another thread needs to {@link attach} to these counts (postMessage / workerData). */
  state(): SharedAdmissionState {
    return { memory: this.counts.memory, minCount: this.minCount, fields: this.fields, ...(this.sightings ? { sightings: this.sightings } : {}) };
  }

  /** Distinct features counted (exact when no route is in flight). */
  get seen(): number { return this.counts.seen; }
  /** Features counted at least minCount times (exact when no route is in flight). */
  get admitted(): number { return this.counts.admitted; }
  /** Bytes of the shared memory holding the counts. */
  get bytes(): number { return this.counts.bytes; }
  /** Occurrences routed to an OOV row during training, by every thread. */
  get routed(): number { return this.counts.routed; }
  /** Slots of the hash (a power of two). */
  get capacity(): number { return this.counts.capacity; }
  /** Pieces made, and taken by the threads that count with the counts' kernel (SharedCounts.create). */
  get pieces(): { made: number; taken: number } { return this.counts.pieces; }

  /**
   * True when `n` more distinct keys surely fit: counting routes of n keys in
   * all (over every thread) may run before the next check. Check it while no
   * thread routes, and {@link grow} when it is false.
   */
  room(n: number): boolean {
    return this.counts.room(n);
  }

  /**
   * Rehashes the counts into a larger slot region: the smallest power of two,
   * at least twice the present capacity, under whose load limit `minKeys`
   * keys fit (afterwards room(minKeys - seen) holds). Only while no thread
   * routes: the caller parks the workers first (a grow that meets a route in
   * flight throws an Error, and a route started during a grow throws).
   * Throws a RangeError past 2^27 slots; the counts are unchanged then.
   */
  grow(minKeys = 0): void {
    this.counts.grow(minKeys);
  }

  /** The count of one key (0 when never counted); safe while threads route, not during a grow. */
  count(lo: number, hi: number): number {
    return this.counts.count(lo >>> 0, hi >>> 0);
  }

  /**
   * Routes the n keys in `words` ((lo, hi) pairs) into `out` as
   * {@link Admission.route} does: a key keeps its own value once admitted,
   * else it becomes its field's OOV key (field fieldOf[j], or j % fields).
   * With `count`, every key is counted first; `tally: false` leaves
   * {@link routed} as it is. Safe while other threads route the same counts.
   * Throws a RangeError, counting nothing, when `count` and n more keys may
   * not fit (see {@link room}).
   */
  route(words: Uint32Array, n: number, out: Uint32Array, fieldOf: Int32Array | undefined, count: boolean, tally = true): void {
    const counts = this.counts;
    counts.enter();
    let reserved = 0, routed = 0;
    try {
      if (count && n > 0) {
        counts.reserve(n);
        reserved = n;
      }
      const N = this.minCount, F = this.fields, oov = this.oov, first = this.first;
      // In pieces with the counts' kernel where this thread has a piece (a key new here counts 1 first, unless counted elsewhere).
      const piece = count && this.own !== undefined ? 0 : counts.pieceKeys();
      if (piece > 0) routed = routeInPieces(words, n, out, fieldOf, F, N, oov, piece, (from, m, admitAt) => counts.countPiece(words, from, m, count, admitAt));
      for (let j = 0, f = 0; j < n && piece === 0; j++) {
        const lo = words[2 * j], hi = words[2 * j + 1];
        const c = count ? counts.increment(lo, hi, first) : counts.lookup(lo, hi);
        routed += routeKey(out, j, lo, hi, c >= N, oov, fieldOf === undefined ? f : fieldOf[j]);
        if (++f === F) f = 0;
      }
      if (tally && routed > 0) counts.addRouted(routed);
    } finally {
      counts.leave(reserved);
    }
  }

  /**
   * Makes room for at least `least` more keys, `ahead` when it can (only
   * while no thread routes), as {@link Admission} does under its budget:
   * when doubling the slots would pass maxBytes, the keys counted fewer than
   * minCount times are forgotten (their counts start again); the slots grow
   * only when that leaves less than `least` of room (or without a budget).
   */
  makeRoom(least: number, ahead = least): void {
    if (this.room(ahead)) return;
    if (this.capacity * 2 * SLOT_BYTES > this.maxBytes) {
      this.forgotten += this.counts.forgetUnadmitted();
      if (this.room(least)) return;
      this.grow(this.seen + least);
      return;
    }
    this.grow(this.seen + ahead);
  }

  /**
   * Plain counts equal to these (counts, seen, admitted, routed, the budget
   * and keys forgotten), e.g. for a checkpoint; exact when no route is in
   * flight. With `reuse` (plain counts no longer used), their slots' memory
   * is written over where it has the room.
   */
  toAdmission(reuse?: Admission): Admission {
    // The same hash and probing as Admission's: the slots are copied as they lie (no rehash of every key).
    const a = Admission.fromSlots(this.minCount, this.fields, this.counts.slots(reuse?.slotWords), this.routed, { keys: this.seen, admitted: this.admitted });
    a.maxBytes = this.maxBytes;
    a.forgotten = this.forgotten;
    return a;
  }

  /** Every counted key as (lo, hi, count) triples, in slot order (complete when no route is in flight). */
  entries(): Uint32Array {
    return this.counts.entries();
  }
}
