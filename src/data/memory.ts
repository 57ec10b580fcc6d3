// Rows held in memory (a request's body): its lines parsed into one Batch by
// the format's own row parser, split and assembled as openData's passes do.
import { allocBatch, type Batch } from "./batch.js";
import { BatchAssembler } from "./assemble.js";
import { DataError, RowError } from "./errors.js";
import { lineBlocks } from "./lines.js";
import type { Format } from "./detect.js";
import { AVAZU_HEADER, AvazuParser, avazuHasHeader } from "./formats/avazu.js";
import { CriteoParser } from "./formats/criteo.js";
import { CsvParser } from "./formats/csv.js";
import { loadFeatIndex, type FeatIndex } from "./formats/featindex.js";
import { LibsvmParser } from "./formats/libsvm.js";
import type { RowParser } from "./formats/parser.js";
import { loadSchema, someNames, type Schema } from "./formats/schema.js";

/** How rows are read: a model's input description (format, key fields, csv schema, libsvm featindex). */
export interface MemorySpec {
  format: Format;
  /** The key fields the rows must give, in key order. */
  fields: readonly string[];
  /** csv: the schema (a JSON file path or an object). */
  schema?: string | Partial<Schema>;
  /** libsvm: the featindex file. */
  featindex?: string;
}

/** A body holds more rows than allowed. */
export class TooManyRowsError extends RangeError {
  constructor(readonly limit: number) {
    super(`more than ${limit} rows`);
    this.name = "TooManyRowsError";
  }
}

const dec = new TextDecoder();

/**
 * Parses text in a format into batches, as a file of that format is read:
 * the same line splitting (CRLF, quoted newlines for csv), the same parser,
 * hence the same feature keys. A DataError names the row (1-based among
 * the body's data rows; 0 for its header line) and the column by name
 * where the format names its columns.
 */
export class MemoryRows {
  /** The columns of a line in order (label included), where the format fixes them; csv read with a header: undefined. */
  readonly columns: readonly string[] | undefined;

  private constructor(
    readonly format: Format,
    readonly fields: readonly string[],
    /** csv: the schema, checked. */
    readonly schema: Schema | undefined,
    /** libsvm: the dictionary, when the model has one. */
    readonly featIndex: FeatIndex | undefined,
  ) {
    this.columns = format === "criteo" ? ["label", ...new CriteoParser().fields]
      : format === "avazu" ? AVAZU_HEADER.split(",")
      : format === "csv" && !schema!.header ? schema!.columns : undefined;
  }

  /** Loads the schema or featindex of a spec; fails when the format's parser would not give the spec's fields. */
  static async open(spec: MemorySpec): Promise<MemoryRows> {
    const schema = spec.format === "csv" ? loadSchema(spec.schema ?? missing("csv", "a schema")) : undefined;
    const dict = spec.format === "libsvm" && spec.featindex ? await loadFeatIndex(spec.featindex) : undefined;
    const rows = new MemoryRows(spec.format, [...spec.fields], schema, dict);
    // Parsers bound to a header learn their fields on it: checked per body.
    const p = rows.parser(false);
    if (!(p instanceof CsvParser && schema?.header) && !sameList(p.fields, spec.fields)) {
      throw new Error(`the ${spec.format} reader gives the fields ${someNames(p.fields)}, the model reads ${someNames(spec.fields)}`);
    }
    return rows;
  }

  /** A fresh parser (parsers keep per-file state); `header`: whether an avazu body starts with its header. */
  private parser(header: boolean): RowParser {
    switch (this.format) {
      case "criteo": return new CriteoParser();
      case "avazu": return new AvazuParser(header);
      case "libsvm": return new LibsvmParser(this.featIndex, this.featIndex ? undefined : this.fields.length);
      case "csv": return new CsvParser(this.schema!);
    }
  }

  /**
   * The rows of `body` (lines in the format; an avazu header line is
   * optional, a csv schema with `header: true` wants one first) as one batch
   * of labels, keys and numeric values. More than maxRows rows is a
   * TooManyRowsError; a malformed row a DataError (file `name`, line = row).
   */
  async parse(body: Buffer, maxRows: number, name = "request"): Promise<Batch> {
    let lines = 1;
    for (let i = body.indexOf(10); i >= 0; i = body.indexOf(10, i + 1)) lines++;
    const capacity = Math.max(1, Math.min(lines, maxRows));
    let parser: RowParser | undefined;
    let asm: BatchAssembler | undefined;
    let names = this.columns;
    let row = 0;
    for await (const blk of lineBlocks(once(body), this.format === "csv", name)) {
      for (let k = 0; k < blk.count; k++) {
        const s = blk.starts[k], e = blk.ends[k];
        if (parser === undefined) {
          // The first line: a header where the format has one.
          const line = dec.decode(blk.buf.subarray(s, e));
          parser = this.parser(this.format === "avazu" && headerCheck(() => avazuHasHeader(line), name));
          if (parser.hasHeader) {
            headerCheck(() => parser!.header(blk.buf, s, e), name);
            if (!sameList(parser.fields, this.fields)) throw new DataError(name, 0, undefined, `the header's key fields (${someNames(parser.fields)}) are not the model's (${someNames(this.fields)})`);
            if (this.format === "csv") names = splitHeader(line, this.schema!.delimiter);
          }
          asm = new BatchAssembler(capacity, this.fields.length, parser.numeric.length, 0);
          if (parser.hasHeader) continue;
        }
        const a = asm!, p = parser;
        if (a.rows === maxRows) throw new TooManyRowsError(maxRows);
        row++;
        let label: number;
        try {
          if (s === e) throw new RowError(undefined, "empty line");
          const ko = a.bagged ? a.keyOffset(name, row) : 2 * this.fields.length * a.rows;
          const batch = a.batch;
          label = p.parse(blk.buf, s, e, batch.keyWords, ko, batch.numeric, p.numeric.length * a.rows);
        } catch (err) {
          if (err instanceof RowError) throw new DataError(name, row, columnName(err.column, names, this.format), err.reason);
          throw err;
        }
        a.commit(label, row, name, p.bag);
      }
    }
    return asm?.takeRest(row) ?? allocBatch(0, this.fields.length, parser?.numeric.length ?? 0);
  }
}

/** One buffer as a stream of chunks. */
async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

/** Runs a header check; its RowError becomes a DataError of line 0 (the header). */
function headerCheck<T>(f: () => T, name: string): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RowError) throw new DataError(name, 0, e.column, `the header line: ${e.reason}`);
    throw e;
  }
}

/** A column for a message: its name when the format or header names it. */
function columnName(col: string | number | undefined, names: readonly string[] | undefined, format: Format): string | number | undefined {
  if (typeof col !== "number") return col;
  if (names && col >= 1 && col <= names.length) return names[col - 1];
  if (format === "libsvm") return col === 1 ? "label" : `token ${col - 1}`;
  return col;
}

/** The column names of a csv header line, for messages (quotes removed). */
function splitHeader(line: string, delimiter: string): string[] {
  const out: string[] = [];
  let cur = "", quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      if (quoted && line[i + 1] === '"') { cur += c; i++; } else quoted = !quoted;
    } else if (c === delimiter && !quoted) { out.push(cur); cur = ""; } else cur += c;
  }
  out.push(cur);
  return out;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function missing(format: string, what: string): never {
  throw new Error(`a ${format} model needs ${what} to read rows`);
}
