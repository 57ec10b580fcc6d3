/**
 * A Bloom filter of 64-bit keys (lo, hi words): 2^b bits, k probes by
 * double hashing (Kirsch & Mitzenmacher 2006: probe i at h1 + i h2), with
 * the key's two hashes of ./fmix32.ts (those the HyperLogLog sketch uses). No false
 * negatives; after n distinct keys a key never added is reported with
 * probability about (1 - e^(-k n / m))^k, which {@link falsePositiveRate}
 * estimates from the bits set. Filters of the same size merge by OR of
 * their words, so processes that each saw a part of the keys share one
 * filter of their union (the words are exchanged in segments).
 *
 * A filter made with `shared: true` keeps its words and change marks in
 * shared memory: {@link BloomFilter.state} posts it to other threads, which
 * {@link BloomFilter.attach} to the same bits; `add` sets bits with an
 * atomic OR, so that threads adding keys at once lose none.
 *
 * Written here rather than taken from npm: the packages there hash strings
 * or buffers (an allocation per key; a key here is two u32 words, probed on
 * the training thread at each new feature) and do not expose their words
 * for a segment-wise merge.
 */
import { keyHashA, keyHashB } from "./fmix32.js";

/** A filter in shared memory, as posted to another thread ({@link BloomFilter.state}). */
export interface BloomState {
  readonly bits: number;
  readonly k: number;
  readonly segmentWords: number;
  readonly words: SharedArrayBuffer;
  readonly changed: SharedArrayBuffer;
}

export class BloomFilter {
  /** The filter's bits, 32 a word (bit j of the filter is bit j & 31 of word j >>> 5). */
  readonly words: Uint32Array;
  /** Words with a bit newly set since the last {@link takeChanged}, by segment of `segmentWords`. */
  private readonly changed: Uint8Array;
  private readonly mask: number;
  /** Whether the words are in shared memory (see {@link state}). */
  readonly shared: boolean;

  /**
   * @param bits the filter's size, a power of two from 2^5 to 2^32
   * @param k probes per key, 1 to 16
   * @param segmentWords words per segment, a power of two (the unit {@link takeChanged} reports)
   * @param shared the words and change marks in shared memory (see {@link state}), or those of a filter's state to attach to
   */
  constructor(readonly bits: number, readonly k = 3, readonly segmentWords = 1 << 14, shared: boolean | BloomState = false) {
    if (!Number.isSafeInteger(bits) || bits < 32 || bits > 2 ** 32 || !Number.isInteger(Math.log2(bits))) throw new RangeError(`a Bloom filter's size must be a power of two from 32 to 2^32 bits, not ${bits}`);
    if (!Number.isInteger(k) || k < 1 || k > 16) throw new RangeError(`a Bloom filter's probes must be 1 to 16, not ${k}`);
    if (!Number.isInteger(segmentWords) || segmentWords < 1 || (segmentWords & (segmentWords - 1)) !== 0) throw new RangeError(`segment words must be a power of two, not ${segmentWords}`);
    const words = bits / 32, segWords = Math.min(segmentWords, words);
    this.shared = shared !== false;
    const at = typeof shared === "object" ? shared : undefined;
    if (at && (at.words.byteLength !== words * 4 || at.changed.byteLength !== words / segWords)) throw new RangeError("a Bloom filter's shared state does not match its size");
    this.words = new Uint32Array(at?.words ?? (shared ? new SharedArrayBuffer(words * 4) : new ArrayBuffer(words * 4)));
    this.segmentWords = segWords;
    this.changed = new Uint8Array(at?.changed ?? (shared ? new SharedArrayBuffer(words / segWords) : new ArrayBuffer(words / segWords)));
    this.mask = (bits - 1) >>> 0;
  }

  /** The filter in shared memory, for another thread's {@link attach} (only a filter made shared). */
  state(): BloomState {
    if (!this.shared) throw new Error("a Bloom filter not made with shared: true cannot be shared with other threads");
    return { bits: this.bits, k: this.k, segmentWords: this.segmentWords, words: this.words.buffer as SharedArrayBuffer, changed: this.changed.buffer as SharedArrayBuffer };
  }

  /** Another thread's shared filter: the same bits and change marks. */
  static attach(s: BloomState): BloomFilter {
    return new BloomFilter(s.bits, s.k, s.segmentWords, s);
  }

  /** Segments of the filter (each `segmentWords` words). */
  get segments(): number { return this.changed.length; }

  /** Adds the key (lo, hi). */
  add(lo: number, hi: number): void {
    const h1 = keyHashA(lo, hi), h2 = keyHashB(lo, hi) | 1;
    for (let i = 0, h = h1; i < this.k; i++, h = (h + h2) >>> 0) {
      const j = (h & this.mask) >>> 0, w = j >>> 5, bit = 1 << (j & 31);
      // Atomic (on a private filter too: one path), so that threads adding to a shared filter lose no bit.
      if ((this.words[w] & bit) === 0) {
        Atomics.or(this.words, w, bit);
        Atomics.store(this.changed, Math.floor(w / this.segmentWords), 1);
      }
    }
  }

  /** True when the key (lo, hi) may have been added (always when it was). */
  has(lo: number, hi: number): boolean {
    const h1 = keyHashA(lo, hi), h2 = keyHashB(lo, hi) | 1;
    for (let i = 0, h = h1; i < this.k; i++, h = (h + h2) >>> 0) {
      const j = (h & this.mask) >>> 0;
      if ((this.words[j >>> 5] & (1 << (j & 31))) === 0) return false;
    }
    return true;
  }

  /** The words of segment s (a view). */
  segment(s: number): Uint32Array {
    if (!Number.isInteger(s) || s < 0 || s >= this.segments) throw new RangeError(`segment ${s} of a filter of ${this.segments}`);
    return this.words.subarray(s * this.segmentWords, (s + 1) * this.segmentWords);
  }

  /** ORs another filter's words of segment s into this one's (words: the segment's length, or shorter: the rest is zeros). */
  orSegment(s: number, words: Uint32Array): void {
    const own = this.segment(s);
    if (words.length > own.length) throw new RangeError(`${words.length} words for a segment of ${own.length}`);
    for (let i = 0; i < words.length; i++) own[i] |= words[i];
  }

  /** The segments with a bit set since the last call (or since the filter was made), in order; clears the marks. */
  takeChanged(): number[] {
    const out: number[] = [];
    // Each mark taken with an exchange, so that a mark another thread sets meanwhile is not cleared unseen.
    for (let s = 0; s < this.changed.length; s++) if (Atomics.exchange(this.changed, s, 0)) out.push(s);
    return out;
  }

  /** The share of bits set. */
  fill(): number {
    let n = 0;
    for (let i = 0; i < this.words.length; i++) {
      let v = this.words[i];
      v -= (v >>> 1) & 0x55555555;
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      n += (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
    }
    return n / this.bits;
  }

  /** The probability that a key never added is reported as added: fill^k. */
  falsePositiveRate(): number { return this.fill() ** this.k; }
}
