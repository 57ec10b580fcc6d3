// One row's keys in bag form: what a parser fills when a row has a
// multi-valued field or a feature value other than 1 (see Batch.bags).
import { hashKey } from "../hash.js";

/**
 * The keys of one row slot by slot, each with its value, as a parser builds
 * them when the row does not fit one key of value 1 per slot. Keys are added
 * in non-decreasing slot order; a slot left without keys gets its field's
 * missing-value key (hashKey(field, empty bytes)) with value 1, so that every
 * slot holds at least one key. `finish` either writes the row in the plain
 * one-key layout (when every slot turned out to hold exactly one key of value
 * 1) or marks the bag `active` for the reader to take.
 */
export class RowBag {
  /** Set by `finish` when the row needs the bag layout; the reader takes the row and clears it. */
  active = false;
  /** Keys of the row so far. */
  n = 0;
  /** Keys of each slot. */
  readonly counts: Uint32Array;
  /** The keys as (lo, hi) u32 pairs; reallocated as it grows (read it after `add`). */
  keys = new Uint32Array(64);
  /** The value of each key. */
  values = new Float32Array(32);
  private cur = 0;
  private readonly missing: Uint32Array;

  constructor(readonly fields: number) {
    this.counts = new Uint32Array(fields);
    this.missing = new Uint32Array(2 * fields);
    const none = new Uint8Array(0);
    for (let f = 0; f < fields; f++) hashKey(f, none, 0, 0, this.missing, 2 * f);
  }

  /** Starts a new row. */
  clear(): void {
    this.n = 0;
    this.cur = 0;
    this.counts.fill(0);
  }

  /**
   * Adds one key of `value` to `slot` (slots in non-decreasing order) and
   * returns the u32 offset in `keys` where the caller writes it.
   */
  add(slot: number, value: number): number {
    if (slot !== this.cur) this.fillTo(slot);
    this.counts[slot]++;
    return this.append(value);
  }

  /**
   * Ends the row: fills the slots left empty with their missing key. When
   * every slot holds one key of value 1, writes them to out[o ..] as a plain
   * row and leaves the bag inactive; otherwise marks it active.
   */
  finish(out: Uint32Array, o: number): void {
    this.fillTo(this.fields);
    if (this.n === this.fields) {
      let plain = true;
      for (let k = 0; k < this.n && plain; k++) plain = this.values[k] === 1;
      if (plain) {
        out.set(this.keys.subarray(0, 2 * this.n), o);
        return;
      }
    }
    this.active = true;
  }

  /** Gives the slots in [cur, to) without keys their missing key. */
  private fillTo(to: number): void {
    for (let f = this.cur; f < to; f++) {
      if (this.counts[f] !== 0) continue;
      this.counts[f] = 1;
      const o = this.append(1);
      this.keys[o] = this.missing[2 * f];
      this.keys[o + 1] = this.missing[2 * f + 1];
    }
    this.cur = to;
  }

  /** Appends one key slot of `value`; returns its u32 offset in `keys`. */
  private append(value: number): number {
    if (2 * this.n + 2 > this.keys.length) this.grow();
    const o = 2 * this.n;
    this.values[this.n++] = value;
    return o;
  }

  private grow(): void {
    const k = new Uint32Array(this.keys.length * 2);
    k.set(this.keys);
    this.keys = k;
    const v = new Float32Array(this.values.length * 2);
    v.set(this.values);
    this.values = v;
  }
}
