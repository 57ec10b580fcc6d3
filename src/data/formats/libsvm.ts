// libsvm / libfm rows (`label idx:value ...`) into feature keys, with the
// one-key-per-slot fast path and the bag path for values other than 1 and
// multi-valued fields.
import { hashKey } from "../hash.js";
import { RowError } from "../errors.js";
import { parseDecimal, parseSignedLabel, show, type RowParser } from "./parser.js";
import { featPosition, type FeatIndex } from "./featindex.js";
import { RowBag } from "./rowbag.js";

/**
 * libsvm / libfm rows, `label idx:value ...` (the iPinYou files, Frappe's
 * libfm files). The label is 0/1 or -1/+1 (also 0.0, 1.0, -1.0, +1.0; -1 is
 * 0). With a featindex each index lands in its field's slot (a field absent
 * from a row is that field's missing value; several indices of one field make
 * that slot multi-valued). Without one, the k-th index of a row is field k,
 * and every row must have as many as the first. A value other than 1 scales
 * its feature (Batch.bags); a value of 0 is an absent feature (a slot left
 * without features holds its missing key with value 1); a value that is not
 * a finite number is an error.
 */
export class LibsvmParser implements RowParser {
  readonly format = "libsvm";
  readonly fields: readonly string[];
  readonly numeric: readonly string[] = [];
  readonly hasHeader = false;
  readonly quoted = false;
  readonly bag: RowBag;
  private readonly missing: Uint32Array;
  private readonly seen: Int32Array;
  private row = 0;
  // The bag path's tokens: field, key (lo, hi) and value of each.
  private tField = new Int32Array(64);
  private tKey = new Uint32Array(128);
  private tValue = new Float32Array(64);
  private order = new Int32Array(64);
  private readonly firstOf: Int32Array;

  constructor(private readonly dict: FeatIndex | undefined, fieldCount?: number) {
    const n = dict ? dict.fields.length : fieldCount ?? 0;
    this.fields = dict ? dict.fields : Array.from({ length: n }, (_, i) => `f${i}`);
    this.missing = new Uint32Array(2 * n);
    const none = new Uint8Array(0);
    for (let f = 0; f < n; f++) hashKey(f, none, 0, 0, this.missing, 2 * f);
    this.seen = new Int32Array(n).fill(-1);
    this.firstOf = new Int32Array(n + 1);
    this.bag = new RowBag(n);
  }

  header(): void {}

  parse(buf: Uint8Array, s: number, e: number, keys: Uint32Array, ko: number): number {
    let i = s;
    while (i < e && buf[i] !== 32 && buf[i] !== 9) i++;
    const label = parseSignedLabel(buf, s, i);
    if (label < 0) throw new RowError(1, `label ${show(buf, s, i)} is not 0 or 1 (nor -1 or +1)`);
    const dict = this.dict, n = this.fields.length, row = ++this.row;
    if (dict) keys.set(this.missing, ko);
    let k = 0;
    for (;;) {
      while (i < e && (buf[i] === 32 || buf[i] === 9)) i++;
      if (i >= e) break;
      const a = i, col = k + 2;
      i = this.scan(buf, i, e, col);
      const index = this.index, idxEnd = this.idxEnd, v = idxEnd + 1;
      // A value other than 1: the row takes the bag path.
      if (!(i - v === 1 && buf[v] === 49) && !(i - v === 3 && buf[v] === 49 && buf[v + 1] === 46 && buf[v + 2] === 48)) return this.parseBag(buf, s, e, keys, ko, label);
      if (dict) {
        const p = featPosition(dict, index), f = p < 0 ? -1 : dict.fieldOf[p];
        if (f < 0) throw new RowError(col, `index ${index} is not in the featindex`);
        // A second index of a field: a multi-valued slot, the bag path.
        if (this.seen[f] === row) return this.parseBag(buf, s, e, keys, ko, label);
        this.seen[f] = row;
        keys[ko + 2 * f] = dict.keyOf[2 * p];
        keys[ko + 2 * f + 1] = dict.keyOf[2 * p + 1];
      } else {
        if (k >= n) throw new RowError(col, `row has more than ${n} features, as many as the first row must have`);
        hashKey(k, buf, a, idxEnd, keys, ko + 2 * k);
      }
      k++;
    }
    if (!dict && k !== n) throw new RowError(k + 2, `row has ${k} features, expected ${n} as the first row (give a featindex for rows with missing fields)`);
    return label;
  }

  /** Index of the last token scanned, and where its index digits end (its value starts after the colon). */
  private index = 0;
  private idxEnd = 0;

  /**
   * Scans one `index:value` token from i (not a separator): sets index and
   * idxEnd, returns the end of the token. A token that is not index:value
   * (or an index of more than 12 digits) is a RowError of column col.
   */
  private scan(buf: Uint8Array, i: number, e: number, col: number): number {
    const a = i;
    let index = 0;
    while (i < e && buf[i] >= 48 && buf[i] <= 57) index = index * 10 + (buf[i++] - 48);
    if (i === a || i >= e || buf[i] !== 58 || i - a > 12) {
      while (i < e && buf[i] !== 32 && buf[i] !== 9) i++;
      throw new RowError(col, `token ${show(buf, a, i)} is not index:value`);
    }
    this.index = index;
    this.idxEnd = i++;
    while (i < e && buf[i] !== 32 && buf[i] !== 9) i++;
    return i;
  }

  /**
   * The whole row again, into the bag: every token with its value, grouped
   * by field (a stable order: the row's order within a field), zeros left
   * out. Checks what the fast path checks, and each value.
   */
  private parseBag(buf: Uint8Array, s: number, e: number, keys: Uint32Array, ko: number, label: number): number {
    const dict = this.dict, n = this.fields.length;
    let i = s;
    while (i < e && buf[i] !== 32 && buf[i] !== 9) i++;
    let k = 0, t = 0;
    for (;;) {
      while (i < e && (buf[i] === 32 || buf[i] === 9)) i++;
      if (i >= e) break;
      const a = i, col = k + 2;
      i = this.scan(buf, i, e, col);
      const index = this.index, idxEnd = this.idxEnd, v = idxEnd + 1;
      const value = parseDecimal(buf, v, i);
      if (Number.isNaN(value)) throw new RowError(col, `value ${show(buf, v, i)} of index ${index} is not a number`);
      const f32 = Math.fround(value);
      if (!Number.isFinite(f32)) throw new RowError(col, `value ${show(buf, v, i)} of index ${index} is not a finite number${Number.isFinite(value) ? " in the float32 range" : ""}`);
      if (dict) {
        const p = featPosition(dict, index), f = p < 0 ? -1 : dict.fieldOf[p];
        if (f < 0) throw new RowError(col, `index ${index} is not in the featindex`);
        if (f32 !== 0) this.token(t++, f, dict.keyOf[2 * p], dict.keyOf[2 * p + 1], f32);
      } else {
        if (k >= n) throw new RowError(col, `row has more than ${n} features, as many as the first row must have`);
        // A 0 (or a value that is 0 as a float32) is an absent feature: the slot keeps its missing key.
        if (f32 !== 0) {
          this.reserve(t);
          hashKey(k, buf, a, idxEnd, this.tKey, 2 * t);
          this.token(t, k, this.tKey[2 * t], this.tKey[2 * t + 1], f32);
          t++;
        }
      }
      k++;
    }
    if (!dict && k !== n) throw new RowError(k + 2, `row has ${k} features, expected ${n} as the first row (give a featindex for rows with missing fields)`);
    // Counting sort of the tokens by field, stable.
    const first = this.firstOf;
    first.fill(0);
    for (let j = 0; j < t; j++) first[this.tField[j] + 1]++;
    for (let f = 0; f < n; f++) first[f + 1] += first[f];
    for (let j = 0; j < t; j++) this.order[first[this.tField[j]]++] = j;
    const bag = this.bag;
    bag.clear();
    for (let r = 0; r < t; r++) {
      const j = this.order[r];
      const o = bag.add(this.tField[j], this.tValue[j]);
      bag.keys[o] = this.tKey[2 * j];
      bag.keys[o + 1] = this.tKey[2 * j + 1];
    }
    bag.finish(keys, ko);
    return label;
  }

  /** Records token t of the bag path. */
  private token(t: number, f: number, lo: number, hi: number, value: number): void {
    this.reserve(t);
    this.tField[t] = f;
    this.tKey[2 * t] = lo;
    this.tKey[2 * t + 1] = hi;
    this.tValue[t] = value;
  }

  /** Room for token t. */
  private reserve(t: number): void {
    if (t < this.tField.length) return;
    const m = this.tField.length * 2;
    const f = new Int32Array(m), k = new Uint32Array(2 * m), v = new Float32Array(m);
    f.set(this.tField);
    k.set(this.tKey);
    v.set(this.tValue);
    this.tField = f;
    this.tKey = k;
    this.tValue = v;
    this.order = new Int32Array(m);
  }
}

/** Number of index:value tokens of a libsvm line (to fix the field count without a featindex). */
export function libsvmTokens(line: string): number {
  return line.trim().split(/[ \t]+/).length - 1;
}
