import { fmix32 } from "../util/fmix32.js";

/**
 * Feature vocabulary: maps 64-bit feature keys to dense row ids in order of
 * first sight ("the features present in the training data"). Open addressing
 * with linear probing on typed arrays (a JS Map stops at 2^24 entries): per
 * slot 4 + 4 bytes of key and 4 of id (+ 4 of count with minCount > 1), the
 * table doubling at load 0.75, so 16-32 bytes per distinct key (12/load), e.g.
 * 20.1 bytes per key at 20M keys (2^25 slots, 403 MB). Capacity limit 2^29
 * slots (about 400M keys).
 *
 * With minCount > 1, ids 0..fields-1 are the out-of-vocabulary rows of each
 * field: a key gets its own id on the occurrence that brings its count to
 * minCount, and uses its field's OOV id before that (one streaming pass, no
 * second reading of the data).
 */
export interface VocabOptions {
  /** Key fields per row (the field of key j of a row is j % fields). */
  fields: number;
  /** Occurrences a key needs before it gets its own id (default 1). */
  minCount?: number;
  /** Initial slot count (power of two, default 2^16). */
  capacity?: number;
}

const MAX_LOAD = 0.75;
const MAX_CAP = 2 ** 29;

export class Vocabulary {
  readonly fields: number;
  readonly minCount: number;
  private cap: number;
  private lo: Uint32Array;
  private hi: Uint32Array;
  /** id + 1 of each slot, 0 = none yet (or empty slot when count is 0). */
  private ids: Uint32Array;
  private counts: Uint32Array | null;
  private used = 0;
  private nextId: number;

  constructor(opts: VocabOptions) {
    if (!Number.isSafeInteger(opts.fields) || opts.fields < 1) throw new RangeError(`vocabulary: fields = ${opts.fields} must be a positive integer`);
    const minCount = opts.minCount ?? 1;
    if (!Number.isSafeInteger(minCount) || minCount < 1) throw new RangeError(`vocabulary: minCount = ${minCount} must be an integer >= 1`);
    const cap = opts.capacity ?? 1 << 16;
    if (!Number.isSafeInteger(cap) || cap < 16 || cap > MAX_CAP || (cap & (cap - 1)) !== 0) throw new RangeError(`vocabulary: capacity ${cap} must be a power of two in [16, 2^29]`);
    this.fields = opts.fields;
    this.minCount = minCount;
    this.cap = cap;
    this.lo = new Uint32Array(cap);
    this.hi = new Uint32Array(cap);
    this.ids = new Uint32Array(cap);
    this.counts = minCount > 1 ? new Uint32Array(cap) : null;
    this.nextId = minCount > 1 ? opts.fields : 0;
  }

  /** Distinct keys seen. */
  get keys(): number { return this.used; }
  /** Ids handed out, OOV rows included: the rows an embedding table needs. */
  get size(): number { return this.nextId; }
  /** Bytes held by the index. */
  get bytes(): number { return this.cap * (this.counts ? 16 : 12); }

  /**
   * Encodes n keys given as (lo, hi) u32 pairs in `words`, writing one id per
   * key to out; the field of key j is j % fields.
   */
  encode(words: Uint32Array, n: number, out: Uint32Array): void {
    if (words.length < 2 * n || out.length < n) throw new RangeError(`vocabulary: ${n} keys need ${2 * n} words and ${n} outputs`);
    for (let j = 0; j < n; j++) {
      if (this.used >= this.cap * MAX_LOAD) this.grow();
      out[j] = this.one(words[2 * j], words[2 * j + 1], j % this.fields);
    }
  }

  /** The id of one key without inserting it, or -1 when it has none yet. */
  lookup(lo: number, hi: number): number {
    const mask = this.cap - 1;
    for (let s = slotOf(lo, hi) & mask; ; s = (s + 1) & mask) {
      const c = this.counts ? this.counts[s] : this.ids[s];
      if (c === 0) return -1;
      if (this.lo[s] === lo && this.hi[s] === hi) return this.ids[s] - 1;
    }
  }

  private one(lo: number, hi: number, field: number): number {
    const mask = this.cap - 1, counts = this.counts;
    let s = slotOf(lo, hi) & mask;
    for (;;) {
      const occupied = counts ? counts[s] !== 0 : this.ids[s] !== 0;
      if (!occupied) {
        this.lo[s] = lo;
        this.hi[s] = hi;
        this.used++;
        if (!counts) return (this.ids[s] = ++this.nextId) - 1;
        counts[s] = 1;
        if (this.minCount <= 1) return (this.ids[s] = ++this.nextId) - 1;
        return field;
      }
      if (this.lo[s] === lo && this.hi[s] === hi) {
        if (!counts) return this.ids[s] - 1;
        if (this.ids[s] !== 0) { if (counts[s] < 0xffffffff) counts[s]++; return this.ids[s] - 1; }
        if (++counts[s] >= this.minCount) return (this.ids[s] = ++this.nextId) - 1;
        return field;
      }
      s = (s + 1) & mask;
    }
  }

  private grow(): void {
    const cap = this.cap * 2;
    if (cap > MAX_CAP) throw new RangeError(`vocabulary: more than ${MAX_CAP * MAX_LOAD} distinct keys: use hashing (a fixed number of rows) instead`);
    const { lo, hi, ids, counts } = this;
    this.cap = cap;
    this.lo = new Uint32Array(cap);
    this.hi = new Uint32Array(cap);
    this.ids = new Uint32Array(cap);
    this.counts = counts ? new Uint32Array(cap) : null;
    const mask = cap - 1;
    for (let s = 0; s < lo.length; s++) {
      if (counts ? counts[s] === 0 : ids[s] === 0) continue;
      let t = slotOf(lo[s], hi[s]) & mask;
      while (this.counts ? this.counts[t] !== 0 : this.ids[t] !== 0) t = (t + 1) & mask;
      this.lo[t] = lo[s];
      this.hi[t] = hi[s];
      this.ids[t] = ids[s];
      if (counts) this.counts![t] = counts[s];
    }
  }
}

// Keys from hashKey are well mixed already, but keys a user builds (sequential
// ids, say) may not be: mix both halves before probing.
function slotOf(lo: number, hi: number): number {
  return fmix32((lo ^ fmix32(hi)) >>> 0);
}

/**
 * Fixed-size hashing instead of a vocabulary: key -> (both halves mixed) mod
 * buckets. No memory per key; distinct features may share a row.
 */
export function hashIds(words: Uint32Array, n: number, buckets: number, out: Uint32Array): void {
  if (!Number.isSafeInteger(buckets) || buckets < 1 || buckets > 2 ** 32) throw new RangeError(`hashing: buckets = ${buckets} must be an integer in [1, 2^32]`);
  for (let j = 0; j < n; j++) out[j] = slotOf(words[2 * j], words[2 * j + 1]) % buckets;
}
