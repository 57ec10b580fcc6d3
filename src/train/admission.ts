/**
 * Count-based feature admission and out-of-vocabulary (OOV) rows: a feature
 * gets an embedding row of its own on its N-th sighting in the training rows
 * (`minCount`); before that, and whenever a model meets a feature it has no
 * live row for (evaluation, serving), the feature reads its field's OOV row.
 * Rare features share one learned row per field instead of each keeping a
 * row trained on a handful of examples (the FuxiCTR / BARS practice of
 * `min_categr_count` with an OOV index per field), and a table holds only
 * the admitted features.
 *
 * Counting is per occurrence, in the order the rows are trained, during the
 * first pass over the training rows only: a later epoch reads the same rows
 * again and does not count them twice, so after one epoch the admitted set
 * is exactly the features seen at least N times in the training rows.
 *
 * The counts live in an open-addressing hash of (lo, hi, count) u32 triples,
 * interleaved so that a probe costs one cache line; it doubles at load 0.75
 * (12-24 bytes per distinct key).
 */
import type { BloomState } from "../util/bloom.js";
import { hashKey } from "../data/hash.js";
import { decodeEnvelope, encodeEnvelopeInto, intField } from "../io/envelope.js";
import { fmix32 } from "../util/fmix32.js";
import { PlainSlots } from "./admission-slots.js";

/** The bytes the OOV key of a field is hashed from: no reader produces them (0xff is never UTF-8). */
const OOV_BYTES = new Uint8Array([0xff, 0x4f, 0x4f, 0x56]);

/** The key of field `field`'s OOV row as (lo, hi) words written to out[o], out[o + 1]. */
export function oovWords(field: number, out: Uint32Array, o: number): void {
  hashKey(field, OOV_BYTES, 0, OOV_BYTES.length, out, o);
}

/** The key of field `field`'s OOV row. */
export function oovKey(field: number): bigint {
  const w = new Uint32Array(2);
  oovWords(field, w, 0);
  return (BigInt(w[1]) << 32n) | BigInt(w[0]);
}

/** The OOV keys of `fields` fields as (lo, hi) words, field f at 2f. */
export function oovTable(fields: number): Uint32Array {
  const w = new Uint32Array(2 * fields);
  for (let f = 0; f < fields; f++) oovWords(f, w, 2 * f);
  return w;
}

/**
 * Writes key j's routing to out ((lo, hi) pairs): its own key once admitted,
 * else the OOV key of its field (oov: (lo, hi) per field); returns 1 when the
 * key went to the OOV row.
 */
export function routeKey(out: Uint32Array, j: number, lo: number, hi: number, admitted: boolean, oov: Uint32Array, field: number): number {
  if (admitted) {
    out[2 * j] = lo;
    out[2 * j + 1] = hi;
    return 0;
  }
  out[2 * j] = oov[2 * field];
  out[2 * j + 1] = oov[2 * field + 1];
  return 1;
}

/**
 * Routes the n keys of `words` into `out` as routeKey does, a piece of
 * `piece` keys at a time, with the counts a counts' kernel gives each piece
 * (`countPiece(from, m, admitAt)`: the counts of keys from..from + m, admitAt
 * the count that admits a key, 0 when none can); key j's field is
 * fieldOf[j], or j % fields. Returns the keys routed to an OOV row.
 */
export function routeInPieces(words: Uint32Array, n: number, out: Uint32Array, fieldOf: Int32Array | undefined, fields: number, minCount: number, oov: Uint32Array, piece: number, countPiece: (from: number, m: number, admitAt: number) => Uint32Array): number {
  const admitAt = minCount <= 0xffffffff ? minCount : 0;
  let routed = 0;
  for (let j0 = 0, f = 0; j0 < n; j0 += piece) {
    const m = Math.min(piece, n - j0), c = countPiece(j0, m, admitAt);
    for (let i = 0, j = j0; i < m; i++, j++) {
      routed += routeKey(out, j, words[2 * j], words[2 * j + 1], c[i] >= minCount, oov, fieldOf === undefined ? f : fieldOf[j]);
      if (++f === fields) f = 0;
    }
  }
  return routed;
}

/**
 * Sightings of the features elsewhere (the other workers of a cluster run:
 * ../cluster/sightings.ts): `add` hears of each key counted here for the
 * first time; a key `seen` elsewhere counts one sighting more at its first
 * occurrence here (with minCount 2 it is admitted at once, as one process
 * reading every worker's rows would admit it at its second).
 */
export interface Sightings {
  add(lo: number, hi: number): void;
  seen(lo: number, hi: number): boolean;
  /** The same sightings for worker threads (./shared-admission.ts), when they can be shared. */
  share?(): SightingsShare;
}

/**
 * Sightings that worker threads consult and add to at once: the keys counted
 * here (`own`, each first occurrence added) and the keys counted elsewhere
 * (`run`, read only), as Bloom filters in shared memory.
 */
export interface SightingsShare {
  readonly own: BloomState;
  readonly run: BloomState;
}

const MAX_LOAD = 0.75;
const MAX_CAP = 2 ** 30;
const STRIDE = 3;

/** Occurrence counts of feature keys, and the routing of keys to their own or their field's OOV row. */
export class Admission {
  readonly minCount: number;
  readonly fields: number;
  private cap: number;
  /** (lo, hi, count) per slot; count 0 = empty slot: the words of `store`, or slots taken over (fromSlots). */
  private slots: Uint32Array;
  /** The slots with the counts' kernel (./admission-slots.ts); undefined for slots taken over, which this class counts. */
  private store: PlainSlots | undefined;
  private used = 0;
  private admittedKeys = 0;
  private readonly oov: Uint32Array;
  /** Occurrences routed to an OOV row during training. */
  routed = 0;
  /**
   * Bytes the counts may take (a memory budget; default unbounded). When they
   * would outgrow it, the keys not yet admitted are forgotten (their counts
   * start again) instead: the counts then hold about the admitted keys, whose
   * number the table's budget bounds. Only when the admitted keys alone fill
   * the counts do they grow past it.
   */
  maxBytes = Infinity;
  /** Keys forgotten under maxBytes. */
  forgotten = 0;
  /** Sightings elsewhere, if any (see {@link Sightings}); keys loaded or admitted are not told. */
  elsewhere: Sightings | undefined;

  constructor(minCount: number, fields: number, capacity = 1 << 16) {
    if (!Number.isSafeInteger(minCount) || minCount < 2) throw new RangeError(`min count ${minCount} must be an integer >= 2 (1 admits every feature: no counts needed)`);
    if (!Number.isSafeInteger(fields) || fields < 1) throw new RangeError(`admission: fields = ${fields} must be a positive integer`);
    this.minCount = minCount;
    this.fields = fields;
    this.cap = capacity;
    this.store = new PlainSlots(capacity);
    this.slots = this.store.words;
    this.oov = oovTable(fields);
  }

  /** Distinct features counted. */
  get seen(): number { return this.used; }
  /** Features counted at least minCount times (those with a row of their own). */
  get admitted(): number { return this.admittedKeys; }
  /** Bytes of the counts. */
  get bytes(): number { return this.slots.byteLength; }
  /** The slots' words: read by SharedAdmission.from; for counts that take them over (SharedAdmission.toAdmission's reuse), this object is not used after. @internal */
  get slotWords(): Uint32Array { return this.slots; }

  /** The count of one key (0 when never counted). */
  count(lo: number, hi: number): number {
    const s = this.find(lo >>> 0, hi >>> 0);
    return s < 0 ? 0 : this.slots[s + 2];
  }

  /**
   * Routes the n keys in `words` ((lo, hi) pairs) into `out` (the same
   * layout): a key keeps its own value once admitted, else it becomes its
   * field's OOV key. Key j's field is fieldOf[j], or j % fields without
   * fieldOf (one key per slot). With `count`, every key is first counted (an
   * occurrence in the first pass over the training rows), so the occurrence
   * that brings a key to minCount is already its own. `tally: false` leaves
   * {@link routed} as it is (a provisional routing, made again when the
   * batch trains).
   */
  route(words: Uint32Array, n: number, out: Uint32Array, fieldOf: Int32Array | undefined, count: boolean, tally = true): void {
    const N = this.minCount, F = this.fields, oov = this.oov;
    // Room for every key of the call first: no check per key.
    if (count) {
      while (this.used + n >= this.cap * MAX_LOAD) {
        if (this.cap * 2 * STRIDE * 4 > this.maxBytes && this.forgetUnadmitted(n)) break;
        this.grow();
      }
    }
    let routed = 0;
    // With the counts' kernel a piece at a time (a key counted elsewhere first counts 2: counted here, as it needs the sightings).
    const piece = count && this.elsewhere ? 0 : this.store?.pieceKeys ?? 0;
    if (piece > 0) {
      routed = routeInPieces(words, n, out, fieldOf, F, N, oov, piece, (from, m, admitAt) => {
        const r = this.store!.count(words, from, m, count, admitAt);
        this.used += r.inserted;
        this.admittedKeys += r.admitted;
        return r.counts;
      });
    }
    for (let j = 0, f = 0; j < n && piece === 0; j++) {
      const lo = words[2 * j], hi = words[2 * j + 1];
      let c: number;
      if (count) c = this.increment(lo, hi);
      else {
        const s = this.find(lo, hi);
        c = s < 0 ? 0 : this.slots[s + 2];
      }
      routed += routeKey(out, j, lo, hi, c >= N, oov, fieldOf === undefined ? f : fieldOf[j]);
      if (++f === F) f = 0;
    }
    if (tally) this.routed += routed;
  }

  /**
   * Admits the keys of `words` ((lo, hi) pairs), but the fields' OOV keys:
   * each count becomes at least minCount (features another process
   * admitted, whose rows this one holds: a cluster run's rank 0 once it has
   * taken the whole model).
   */
  admitKeys(words: Uint32Array): void {
    const oov = this.oov;
    next: for (let i = 0; i < words.length; i += 2) {
      const lo = words[i] >>> 0, hi = words[i + 1] >>> 0;
      for (let f = 0; f < oov.length; f += 2) if (oov[f] === lo && oov[f + 1] === hi) continue next;
      const s = this.find(lo, hi);
      if (s >= 0) {
        if (this.slots[s + 2] < this.minCount) {
          this.slots[s + 2] = this.minCount;
          this.admittedKeys++;
        }
        continue;
      }
      while (this.used + 1 >= this.cap * MAX_LOAD) this.grow();
      this.insert(lo, hi, this.minCount);
    }
  }

  /** Every counted key as (lo, hi, count) triples, in slot order (the body {@link save} writes; into `body`, of used x 3 words, when given). */
  entries(body: Uint32Array = new Uint32Array(this.used * 3)): Uint32Array {
    if (body.length !== this.used * 3) throw new RangeError(`admission entries: ${body.length} words given, ${this.used * 3} needed`);
    let k = 0;
    for (let s = 0; s < this.slots.length; s += STRIDE) {
      if (this.slots[s + 2] === 0) continue;
      body[k++] = this.slots[s];
      body[k++] = this.slots[s + 1];
      body[k++] = this.slots[s + 2];
    }
    return body;
  }

  /**
   * Counts from (lo, hi, count) triples (as {@link entries} gives them, in
   * any order) and a number of routed occurrences. Throws a RangeError on a
   * count of 0 or a repeated key.
   */
  static fromEntries(minCount: number, fields: number, words: Uint32Array, routed = 0): Admission {
    if (words.length % 3 !== 0) throw new RangeError(`admission entries: ${words.length} words are not (lo, hi, count) triples`);
    const keys = words.length / 3;
    if (keys >= MAX_CAP * MAX_LOAD) throw new RangeError(`admission entries: more than ${MAX_CAP * MAX_LOAD} distinct features`);
    if (!Number.isSafeInteger(routed) || routed < 0) throw new RangeError(`admission entries: routed = ${routed} must be a non-negative integer`);
    let cap = 1 << 16;
    while (keys >= cap * MAX_LOAD) cap *= 2;
    const a = new Admission(minCount, fields, cap);
    a.routed = routed;
    for (let k = 0; k < keys; k++) {
      const lo = words[3 * k], hi = words[3 * k + 1], c = words[3 * k + 2];
      if (c === 0 || a.find(lo, hi) >= 0) throw new RangeError(`admission entries: entry ${k} has count 0 or repeats a key`);
      a.insert(lo, hi, c);
    }
    return a;
  }

  /**
   * Counts given as their hash slots: `slots` holds (lo, hi, count) per slot
   * (count 0: empty), a power of two of them, laid out by this class's
   * probing (slotOf, then the next slots) under its load limit, e.g. the
   * shared counts' slots (SharedAdmission.toAdmission, which uses the same
   * hash and probing): taken as they are, with no rehash. The keys and
   * admitted keys among them are counted, unless `counted` gives them (the
   * shared counts keep both exactly). @internal
   */
  static fromSlots(minCount: number, fields: number, slots: Uint32Array, routed = 0, counted?: { keys: number; admitted: number }): Admission {
    const cap = slots.length / STRIDE;
    if (!Number.isInteger(cap) || cap < 4 || cap > MAX_CAP || (cap & (cap - 1)) !== 0) throw new RangeError(`admission slots: ${slots.length} words are not a power of two of (lo, hi, count) slots`);
    const a = new Admission(minCount, fields, 4);
    a.cap = cap;
    a.store = undefined;
    a.slots = slots;
    a.routed = routed;
    if (counted) {
      a.used = counted.keys;
      a.admittedKeys = counted.admitted;
    } else {
      for (let s = 2; s < slots.length; s += STRIDE) {
        if (slots[s] === 0) continue;
        a.used++;
        if (slots[s] >= minCount) a.admittedKeys++;
      }
    }
    if (a.used >= cap * MAX_LOAD) throw new RangeError(`admission slots: ${a.used} keys in ${cap} slots pass the load limit ${MAX_LOAD}`);
    return a;
  }

  /** Counts, minCount and fields as bytes (a checkpoint's part); over `into` (earlier bytes no longer needed) where they fit; unsealed without `seal` (sealEnvelope). */
  save(into?: Uint8Array, seal = true): Uint8Array {
    return encodeEnvelopeInto({ kind: "admission", version: 1, minCount: this.minCount, fields: this.fields, keys: this.used, routed: this.routed },
      [this.used * 12], (_, dest) => { this.entries(new Uint32Array(dest.buffer, dest.byteOffset, this.used * 3)); }, into, seal);
  }

  /** Restores counts saved by {@link save}. */
  static load(bytes: Uint8Array, what = "admission counts"): Admission {
    const { header: h, body } = decodeEnvelope(bytes, what);
    if (h.kind !== "admission" || h.version !== 1) throw new RangeError(`${what}: kind/version ${String(h.kind)}/${String(h.version)} is not admission/1`);
    const keys = intField(h, "keys", what, MAX_CAP * MAX_LOAD);
    if (body.length !== keys * 12) throw new RangeError(`${what}: body has ${body.length} bytes, ${keys} keys need ${keys * 12}`);
    let cap = 1 << 16;
    while (keys >= cap * MAX_LOAD) cap *= 2;
    const a = new Admission(intField(h, "minCount", what, 2 ** 32 - 1), intField(h, "fields", what, 2 ** 31), cap);
    a.routed = intField(h, "routed", what);
    const w = new Uint32Array(body.slice().buffer);
    for (let k = 0; k < keys; k++) {
      const lo = w[3 * k], hi = w[3 * k + 1], c = w[3 * k + 2];
      if (c === 0 || a.find(lo, hi) >= 0) throw new RangeError(`${what}: entry ${k} has count 0 or repeats a key`);
      a.insert(lo, hi, c);
    }
    return a;
  }

  /** Slot offset of a key, or -1. */
  private find(lo: number, hi: number): number {
    const mask = this.cap - 1, w = this.slots;
    for (let i = slotOf(lo, hi) & mask; ; i = (i + 1) & mask) {
      const s = i * STRIDE;
      if (w[s + 2] === 0) return -1;
      if (w[s] === lo && w[s + 1] === hi) return s;
    }
  }

  /** Adds one occurrence; returns the new count (saturating at 2^32 - 1). */
  private increment(lo: number, hi: number): number {
    const mask = this.cap - 1, w = this.slots;
    for (let i = slotOf(lo, hi) & mask; ; i = (i + 1) & mask) {
      const s = i * STRIDE;
      const c = w[s + 2];
      if (c === 0) {
        let n = 1;
        if (this.elsewhere) {
          this.elsewhere.add(lo, hi);
          if (this.elsewhere.seen(lo, hi)) n = 2;
        }
        w[s] = lo;
        w[s + 1] = hi;
        w[s + 2] = n;
        this.used++;
        if (n >= this.minCount) this.admittedKeys++;
        return n;
      }
      if (w[s] === lo && w[s + 1] === hi) {
        if (c === 0xffffffff) return c;
        w[s + 2] = c + 1;
        if (c + 1 === this.minCount) this.admittedKeys++;
        return c + 1;
      }
    }
  }

  private insert(lo: number, hi: number, c: number): void {
    const mask = this.cap - 1, w = this.slots;
    let i = slotOf(lo, hi) & mask;
    while (w[i * STRIDE + 2] !== 0) i = (i + 1) & mask;
    w[i * STRIDE] = lo;
    w[i * STRIDE + 1] = hi;
    w[i * STRIDE + 2] = c;
    this.used++;
    if (c >= this.minCount) this.admittedKeys++;
  }

  /** Drops the keys counted fewer than minCount times; true when n more keys then fit. */
  private forgetUnadmitted(n: number): boolean {
    const old = this.slots, admitted = this.admittedKeys, before = this.used;
    this.store = new PlainSlots(this.cap);
    this.slots = this.store.words;
    this.used = 0;
    this.admittedKeys = 0;
    for (let s = 0; s < old.length; s += STRIDE) if (old[s + 2] >= this.minCount) this.insert(old[s], old[s + 1], old[s + 2]);
    if (this.admittedKeys !== admitted) throw new Error("feature admission: forgetting lost admitted keys");
    this.forgotten += before - this.used;
    return this.used + n < this.cap * MAX_LOAD;
  }

  private grow(): void {
    if (this.cap * 2 > MAX_CAP) throw new RangeError(`feature admission: more than ${MAX_CAP * MAX_LOAD} distinct features`);
    const old = this.slots;
    this.cap *= 2;
    this.store = new PlainSlots(this.cap);
    this.slots = this.store.words;
    const used = this.used, admitted = this.admittedKeys;
    this.used = 0;
    this.admittedKeys = 0;
    for (let s = 0; s < old.length; s += STRIDE) if (old[s + 2] !== 0) this.insert(old[s], old[s + 1], old[s + 2]);
    if (this.used !== used || this.admittedKeys !== admitted) throw new Error("feature admission: rehash lost keys");
  }
}

/** A key's slot hash (Admission's and the shared counts'): keys from hashKey are well mixed, but keys a user builds (sequential ids) may not be. */
export function slotOf(lo: number, hi: number): number {
  return fmix32((lo ^ fmix32(hi)) >>> 0);
}
