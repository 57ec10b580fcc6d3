import { hashKey, hashKeyUntil } from "../hash.js";
import { RowError } from "../errors.js";
import { hashCriteoInt, parseIntBytes } from "./bucket.js";
import { parseLabel, show, type RowParser } from "./parser.js";

const INTS = 13, CATS = 26;
const NAMES = [...Array.from({ length: INTS }, (_, i) => `I${i + 1}`), ...Array.from({ length: CATS }, (_, i) => `C${i + 1}`)];

/**
 * Criteo display-ads TSV: `label, I1..I13, C1..C26`, no header, an empty field
 * is missing. The integer fields are bucketed (criteoBucket) and become
 * categorical like the others: 39 key fields, no numeric ones.
 */
export class CriteoParser implements RowParser {
  readonly format = "criteo";
  readonly fields = NAMES;
  readonly numeric: readonly string[] = [];
  readonly hasHeader = false;
  readonly quoted = false;

  header(): void {}

  parse(buf: Uint8Array, s: number, e: number, keys: Uint32Array, ko: number): number {
    let i = s;
    while (i < e && buf[i] !== 9) i++;
    const label = parseLabel(buf, s, i);
    if (label < 0) throw new RowError("label", `label ${show(buf, s, i)} is not 0 or 1`);
    for (let f = 0; f < INTS + CATS; f++) {
      if (i >= e) throw new RowError(f + 2, `row has ${f + 1} columns, expected 40 (label, I1..I13, C1..C26)`);
      const a = ++i;
      if (f >= INTS) {
        // A categorical value is hashed as it is scanned.
        i = hashKeyUntil(f, buf, a, e, 9, keys, ko + 2 * f);
        continue;
      }
      while (i < e && buf[i] !== 9) i++;
      if (i > a) {
        const v = parseIntBytes(buf, a, i);
        if (Number.isNaN(v)) throw new RowError(NAMES[f], `${show(buf, a, i)} is not an integer`);
        hashCriteoInt(f, v, keys, ko + 2 * f);
      } else {
        hashKey(f, buf, a, i, keys, ko + 2 * f);
      }
    }
    if (i < e) throw new RowError(41, "row has more than 40 columns");
    return label;
  }
}
