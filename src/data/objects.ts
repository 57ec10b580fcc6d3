// Rows given as JSON objects (column -> value) written as lines of a
// training format, for MemoryRows to parse with the format's own parser.
import { DataError } from "./errors.js";
import { hashKey } from "./hash.js";
import type { MemoryRows } from "./memory.js";
import { someNames } from "./formats/schema.js";

const enc = new TextEncoder();

/**
 * Turns objects of column name -> value into the text of a body in the
 * model's format, so that an object's keys are exactly those of the line
 * with its values (one parser, no second mapping to drift):
 *
 * - criteo: columns label, I1..I13, C1..C26; avazu: the columns of its
 *   header (id, click, hour, C1, ...); csv: the schema's columns (a header
 *   line is written first when the schema has one); libsvm with a featindex:
 *   the featindex's fields, each value one of that field's values in it;
 *   libsvm without: f0..f(n-1), each value a feature index (all required).
 * - A value is a string or a finite number (its JavaScript spelling); null
 *   or an absent column is the field's missing value. The label column (and
 *   avazu's id, csv's ignored columns) may be given and is not read.
 *
 * Errors are DataErrors naming the row (1-based object index) and column.
 */
export class ObjectRows {
  private readonly columns: readonly string[];
  private readonly index: ReadonlyMap<string, number>;
  /** Columns whose given value is replaced (label, ignored columns): column -> the text written. */
  private readonly fixed: ReadonlyMap<number, string>;
  private readonly header: string | undefined;
  private readonly delimiter: string;
  /** libsvm with a featindex: key (lo:hi) -> feature index. */
  private readonly reverse: Map<string, number> | undefined;

  constructor(private readonly rows: MemoryRows) {
    const fixed = new Map<number, string>();
    let columns: readonly string[];
    let header: string | undefined;
    let delimiter = "\t";
    if (rows.format === "csv") {
      const sc = rows.schema!;
      delimiter = sc.delimiter;
      // With a header, columns in the model's field order (fields are numbered in column order).
      const fieldSet = new Set(rows.fields);
      columns = sc.header
        ? [sc.label, ...rows.fields, ...sc.numeric.map((n) => n.name).filter((n) => !fieldSet.has(n)), ...sc.ignore]
        : sc.columns!;
      if (sc.header) header = columns.map((c) => csvCell(c, delimiter)).join(delimiter);
      const ignored = new Set(sc.ignore);
      columns.forEach((c, k) => { if (c === sc.label) fixed.set(k, "0"); else if (ignored.has(c)) fixed.set(k, ""); });
    } else if (rows.format === "libsvm") {
      columns = ["label", ...rows.fields];
      fixed.set(0, "0");
      delimiter = " ";
    } else {
      columns = rows.columns!;
      if (rows.format === "avazu") { delimiter = ","; fixed.set(0, "0"); fixed.set(1, "0"); } else fixed.set(0, "0");
    }
    this.columns = columns;
    this.index = new Map(columns.map((c, k) => [c, k]));
    this.fixed = fixed;
    this.header = header;
    this.delimiter = delimiter;
    const dict = rows.featIndex;
    if (dict) {
      this.reverse = new Map();
      for (let p = 0; p < dict.fieldOf.length; p++) if (dict.fieldOf[p] >= 0) this.reverse.set(`${dict.keyOf[2 * p]}:${dict.keyOf[2 * p + 1]}`, p);
      if (dict.sparse) {
        // Positions are entries: map back to the indices.
        const indexOf = new Map<number, number>();
        for (const [index, p] of dict.sparse) indexOf.set(p, index);
        for (const [k, p] of this.reverse) this.reverse.set(k, indexOf.get(p)!);
      }
    }
  }

  /** The body text of the objects: one line per object (after the header line where the format has one). */
  text(objects: readonly unknown[]): Buffer {
    const lines: string[] = this.header === undefined ? [] : [this.header];
    for (let i = 0; i < objects.length; i++) lines.push(this.line(objects[i], i + 1));
    return Buffer.from(lines.join("\n"), "utf8");
  }

  private line(o: unknown, row: number): string {
    if (o === null || typeof o !== "object" || Array.isArray(o)) throw new DataError("request", row, undefined, `is ${o === null ? "null" : Array.isArray(o) ? "an array" : `a ${typeof o}`}, not a JSON object of column -> value`);
    const cells: string[] = new Array<string>(this.columns.length).fill("");
    const given = new Array<unknown>(this.columns.length);
    for (const [key, value] of Object.entries(o)) {
      const k = this.index.get(key);
      if (k === undefined) throw new DataError("request", row, key, `unknown column ${JSON.stringify(key.slice(0, 60))}: the model reads ${someNames(this.columns)}`);
      given[k] = value;
    }
    if (this.rows.format === "libsvm") return this.libsvmLine(given, row);
    for (let k = 0; k < cells.length; k++) {
      const fixed = this.fixed.get(k);
      cells[k] = fixed ?? this.cell(given[k], row, this.columns[k]);
    }
    return cells.join(this.delimiter);
  }

  /** A value as the text of its cell (quoted for csv where needed). */
  private cell(v: unknown, row: number, column: string): string {
    const text = valueText(v, row, column);
    if (this.rows.format === "csv") return csvCell(text, this.delimiter);
    if (/[\r\n]/.test(text) || text.includes(this.delimiter)) {
      throw new DataError("request", row, column, `value ${JSON.stringify(text.slice(0, 40))} holds a ${text.includes(this.delimiter) ? JSON.stringify(this.delimiter) : "line break"}, which a ${this.rows.format} row cannot hold`);
    }
    return text;
  }

  /** libsvm: `0 index:1 ...`, one token per field given (by featindex) or per field in order (without). */
  private libsvmLine(given: unknown[], row: number): string {
    const tokens = ["0"], key = new Uint32Array(2);
    for (let f = 0; f < this.rows.fields.length; f++) {
      const column = this.columns[f + 1], v = given[f + 1];
      if (this.reverse) {
        if (v === undefined || v === null) continue;
        const b = enc.encode(valueText(v, row, column));
        hashKey(f, b, 0, b.length, key, 0);
        const index = this.reverse.get(`${key[0]}:${key[1]}`);
        if (index === undefined) throw new DataError("request", row, column, `value ${JSON.stringify(String(v).slice(0, 40))} is not in the model's featindex`);
        tokens.push(`${index}:1`);
      } else {
        const text = v === undefined || v === null ? "" : valueText(v, row, column);
        if (!/^\d{1,12}$/.test(text)) throw new DataError("request", row, column, `${v === undefined || v === null ? "is missing" : `value ${JSON.stringify(text.slice(0, 40))} is not a feature index`}: a libsvm model without a featindex reads a feature index (an integer) for every field`);
        tokens.push(`${text}:1`);
      }
    }
    return tokens.join(" ");
  }
}

/** A csv cell: quoted (RFC 4180) when it holds the delimiter, a quote or a line break. */
function csvCell(text: string, delimiter: string): string {
  return /["\r\n]/.test(text) || text.includes(delimiter) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A JSON value as cell text: strings as they are, finite numbers as JavaScript spells them, null as missing. */
function valueText(v: unknown, row: number, column: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  throw new DataError("request", row, column, `${typeof v === "object" ? (Array.isArray(v) ? "an array" : "an object") : `a ${typeof v}`} is not a value: give a string, a number or null`);
}
