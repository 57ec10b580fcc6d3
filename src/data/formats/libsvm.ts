import { hashKey } from "../hash.js";
import { RowError } from "../errors.js";
import { parseLabel, show, type RowParser } from "./parser.js";
import { featPosition, type FeatIndex } from "./featindex.js";

/**
 * One-hot libsvm rows, `label idx:1 idx:1 ...` (the iPinYou files). With a
 * featindex each index lands in its field's slot (a field absent from a row is
 * that field's missing value; two values of one field is an error). Without
 * one, the k-th index of a row is field k, and every row must have as many as
 * the first. Values other than 1 are refused: the data must be one-hot.
 */
export class LibsvmParser implements RowParser {
  readonly format = "libsvm";
  readonly fields: readonly string[];
  readonly numeric: readonly string[] = [];
  readonly hasHeader = false;
  readonly quoted = false;
  private readonly missing: Uint32Array;
  private readonly seen: Int32Array;
  private row = 0;

  constructor(private readonly dict: FeatIndex | undefined, fieldCount?: number) {
    const n = dict ? dict.fields.length : fieldCount ?? 0;
    this.fields = dict ? dict.fields : Array.from({ length: n }, (_, i) => `f${i}`);
    this.missing = new Uint32Array(2 * n);
    const none = new Uint8Array(0);
    for (let f = 0; f < n; f++) hashKey(f, none, 0, 0, this.missing, 2 * f);
    this.seen = new Int32Array(n).fill(-1);
  }

  header(): void {}

  parse(buf: Uint8Array, s: number, e: number, keys: Uint32Array, ko: number): number {
    let i = s;
    while (i < e && buf[i] !== 32 && buf[i] !== 9) i++;
    const label = parseLabel(buf, s, i);
    if (label < 0) throw new RowError(1, `label ${show(buf, s, i)} is not 0 or 1`);
    const dict = this.dict, n = this.fields.length, row = ++this.row;
    if (dict) keys.set(this.missing, ko);
    let k = 0;
    for (;;) {
      while (i < e && (buf[i] === 32 || buf[i] === 9)) i++;
      if (i >= e) break;
      const a = i;
      let index = 0;
      while (i < e && buf[i] >= 48 && buf[i] <= 57) index = index * 10 + (buf[i++] - 48);
      const col = k + 2;
      if (i === a || i >= e || buf[i] !== 58 || i - a > 12) {
        const b = a;
        while (i < e && buf[i] !== 32 && buf[i] !== 9) i++;
        throw new RowError(col, `token ${show(buf, b, i)} is not index:value`);
      }
      const idxEnd = i++;
      const v = i;
      while (i < e && buf[i] !== 32 && buf[i] !== 9) i++;
      if (!(i - v === 1 && buf[v] === 49) && !(i - v === 3 && buf[v] === 49 && buf[v + 1] === 46 && buf[v + 2] === 48)) {
        throw new RowError(col, `value ${show(buf, v, i)} is not 1: only one-hot libsvm is supported`);
      }
      if (dict) {
        const p = featPosition(dict, index), f = p < 0 ? -1 : dict.fieldOf[p];
        if (f < 0) throw new RowError(col, `index ${index} is not in the featindex`);
        if (this.seen[f] === row) throw new RowError(col, `a second value for field "${this.fields[f]}"`);
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
}

/** Number of index:value tokens of a libsvm line (to fix the field count without a featindex). */
export function libsvmTokens(line: string): number {
  return line.trim().split(/[ \t]+/).length - 1;
}
