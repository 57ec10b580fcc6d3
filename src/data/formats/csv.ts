// Schema-described CSV/TSV rows into feature keys and numeric inputs.
import { hashKey } from "../hash.js";
import { RowError } from "../errors.js";
import { criteoBucket, hashInt, parseIntBytes } from "./bucket.js";
import { parseSignedLabel, show, type RowParser } from "./parser.js";
import { RowBag } from "./rowbag.js";
import { someNames, type Schema } from "./schema.js";

const IGNORE = 0, LABEL = 1, KEY = 2, NUMBER = 3, BUCKET = 4, MULTI = 5;
const dec = new TextDecoder();

/**
 * Generic CSV/TSV described by a schema. Fields may be quoted (RFC 4180:
 * `"a, ""b"""`; quoted newlines are kept inside the row). Key fields are
 * numbered in column order, so a schema that lists Criteo's columns gives
 * exactly the Criteo reader's keys. The label is 0/1 or -1/+1. A column with
 * a separator (Schema.separators) holds several values per cell: a row with
 * such a cell is read into the bag (Batch.bags).
 */
export class CsvParser implements RowParser {
  readonly format = "csv";
  readonly fields: string[] = [];
  readonly numeric: string[] = [];
  readonly hasHeader: boolean;
  readonly quoted = true;
  bag: RowBag | undefined;
  private role = new Int32Array(0);
  private slot = new Int32Array(0);
  private sep = new Int32Array(0);
  private missing = new Float32Array(0);
  private readonly delim: number;
  private scratch = new Uint8Array(256);
  private s0 = 0;
  private e0 = 0;

  constructor(private readonly schema: Schema) {
    this.hasHeader = schema.header;
    this.delim = schema.delimiter.charCodeAt(0);
    if (!schema.header) this.bind(schema.columns!);
  }

  header(buf: Uint8Array, s: number, e: number): void {
    const names: string[] = [];
    let i = s;
    for (;;) {
      i = this.field(buf, i, e);
      names.push(dec.decode(this.cell()));
      if (i >= e) break;
      i++;
    }
    this.bind(names);
  }

  private bind(columns: string[]): void {
    // Sets and maps, not list searches: a header may have very many columns.
    const sc = this.schema;
    const have = new Set<string>();
    for (const c of columns) {
      if (have.has(c)) throw new RowError(undefined, `column ${JSON.stringify(c.slice(0, 60))} appears twice in the header`);
      have.add(c);
    }
    const named = [sc.label, ...sc.categorical, ...sc.numeric.map((n) => n.name), ...sc.ignore];
    const inSchema = new Set(named);
    const absent = named.filter((n) => !have.has(n));
    if (absent.length) throw new RowError(undefined, `schema columns not in the file: ${someNames(absent)}`);
    const unknown = columns.filter((n) => !inSchema.has(n));
    if (unknown.length) throw new RowError(undefined, `columns not in the schema (add them to "ignore" to drop them): ${someNames(unknown)}`);
    this.role = new Int32Array(columns.length);
    this.slot = new Int32Array(columns.length);
    this.sep = new Int32Array(columns.length).fill(-1);
    const seps = new Map(Object.entries(sc.separators ?? {}));
    const miss: number[] = [];
    const numeric = new Map(sc.numeric.map((x) => [x.name, x]));
    const categorical = new Set(sc.categorical);
    columns.forEach((c, k) => {
      const n = numeric.get(c);
      if (c === sc.label) this.role[k] = LABEL;
      else if (categorical.has(c)) {
        const sep = seps.get(c);
        this.role[k] = sep === undefined ? KEY : MULTI;
        if (sep !== undefined) this.sep[k] = sep.charCodeAt(0);
        this.slot[k] = this.fields.length;
        this.fields.push(c);
      }
      else if (n && n.bucket === "criteo") { this.role[k] = BUCKET; this.slot[k] = this.fields.length; this.fields.push(c); }
      else if (n) { this.role[k] = NUMBER; this.slot[k] = this.numeric.length; this.numeric.push(c); miss.push(n.missing); }
      else this.role[k] = IGNORE;
    });
    this.missing = Float32Array.from(miss);
    this.bag = seps.size > 0 ? new RowBag(this.fields.length) : undefined;
  }

  /** Scans one field from i; leaves its bytes at cell(); returns the index of the delimiter or e. */
  private field(buf: Uint8Array, i: number, e: number): number {
    if (i < e && buf[i] === 34) {
      let n = 0, j = i + 1;
      for (;;) {
        if (j >= e) throw new RowError(undefined, "a quoted field is not closed");
        const c = buf[j++];
        if (c === 34) {
          if (j < e && buf[j] === 34) { j++; } else break;
        }
        if (n === this.scratch.length) { const t = new Uint8Array(n * 2); t.set(this.scratch); this.scratch = t; }
        this.scratch[n++] = c;
      }
      if (j < e && buf[j] !== this.delim) throw new RowError(undefined, "text after a closing quote");
      this.cellBuf = this.scratch;
      this.s0 = 0;
      this.e0 = n;
      return j;
    }
    let j = i;
    while (j < e && buf[j] !== this.delim) j++;
    this.cellBuf = buf;
    this.s0 = i;
    this.e0 = j;
    return j;
  }

  private cellBuf: Uint8Array = this.scratch;

  private cell(): Uint8Array {
    return this.cellBuf.subarray(this.s0, this.e0);
  }

  parse(buf: Uint8Array, s: number, e: number, keys: Uint32Array, ko: number, num: Float32Array, no: number): number {
    return this.row(buf, s, e, keys, ko, num, no, undefined);
  }

  /**
   * One row: keys to keys[ko ..], or with `bag` (a row with a multi-valued
   * cell, read again) into the bag.
   */
  private row(buf: Uint8Array, s: number, e: number, keys: Uint32Array, ko: number, num: Float32Array, no: number, bag: RowBag | undefined): number {
    const cols = this.role.length;
    let label = -1, i = s;
    bag?.clear();
    for (let k = 0; k < cols; k++) {
      if (k > 0) {
        if (i >= e) throw new RowError(k + 1, `row has ${k} columns, expected ${cols}`);
        i++;
      }
      try {
        i = this.field(buf, i, e);
      } catch (err) {
        if (err instanceof RowError) throw new RowError(k + 1, err.reason);
        throw err;
      }
      const cb = this.cellBuf, a = this.s0, b = this.e0;
      const slot = this.slot[k];
      switch (this.role[k]) {
        case LABEL:
          label = parseSignedLabel(cb, a, b);
          if (label < 0) throw new RowError(k + 1, `label ${show(cb, a, b)} is not 0 or 1 (nor -1 or +1)`);
          break;
        case MULTI: {
          const sep = this.sep[k];
          if (bag === undefined) {
            let j = a;
            while (j < b && cb[j] !== sep) j++;
            if (j < b) return this.row(buf, s, e, keys, ko, num, no, this.bag!);
            hashKey(slot, cb, a, b, keys, ko + 2 * slot);
            break;
          }
          // Each non-empty part is a key of value 1; none leaves the slot its missing key.
          for (let p = a; p <= b;) {
            let q = p;
            while (q < b && cb[q] !== sep) q++;
            if (q > p) {
              const o = bag.add(slot, 1); // may grow bag.keys: first
              hashKey(slot, cb, p, q, bag.keys, o);
            }
            p = q + 1;
          }
          break;
        }
        case KEY:
          if (bag === undefined) hashKey(slot, cb, a, b, keys, ko + 2 * slot);
          else {
            const o = bag.add(slot, 1);
            hashKey(slot, cb, a, b, bag.keys, o);
          }
          break;
        case BUCKET: {
          let out = keys, o = ko + 2 * slot;
          if (bag !== undefined) { o = bag.add(slot, 1); out = bag.keys; }
          if (a === b) hashKey(slot, cb, a, b, out, o);
          else {
            const v = numberOf(cb, a, b);
            if (Number.isNaN(v)) throw new RowError(k + 1, `${show(cb, a, b)} is not a number`);
            const q = criteoBucket(v);
            if (Number.isInteger(q)) hashInt(slot, q, out, o);
            else hashKey(slot, cb, a, b, out, o);
          }
          break;
        }
        case NUMBER: {
          const v = a === b ? this.missing[slot] : numberOf(cb, a, b);
          // Stored as float32: a finite double beyond its range would become Infinity.
          if (!Number.isFinite(Math.fround(v))) throw new RowError(k + 1, `${show(cb, a, b)} is not a finite number${Number.isFinite(v) ? " in the float32 range" : ""}`);
          num[no + slot] = v;
          break;
        }
      }
    }
    if (i < e) throw new RowError(cols + 1, `row has more than ${cols} columns`);
    bag?.finish(keys, ko);
    return label;
  }
}

function numberOf(buf: Uint8Array, a: number, b: number): number {
  const v = parseIntBytes(buf, a, b);
  if (!Number.isNaN(v)) return v;
  const t = dec.decode(buf.subarray(a, b)).trim();
  return t === "" ? NaN : Number(t);
}
