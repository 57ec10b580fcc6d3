// The types of opened data: the options of openData, a DataFile (the files
// and passes over their rows) and what a pass met (ReadStats).
import type { Batch } from "./batch.js";
import type { Format } from "./detect.js";
import type { DataError } from "./errors.js";
import type { Schema } from "./formats/schema.js";

/**
 * How many malformed rows a pass with skipBadRows may skip before it fails:
 * at most `count` rows, or at most `fraction` of the rows read (checked as it
 * goes once 1000 rows were read, and at the end of the pass for any size).
 */
export type MaxBadRows = { fraction: number } | { count: number };

/**
 * Where a pass may start reading instead of the files' beginning (see
 * data/seek.ts, which finds them): data row `row` (0-based over the files
 * in order, headers excluded, bad and empty lines counted, as a range's
 * index) is the line `line` (1-based) of file `part` (an index into the
 * DataFile's paths), starting at byte `byte` of that file, or of the file's
 * inflated copy `inflated` (a gzip file: data/inflated.ts). Plain data, so
 * that options holding points can be posted to another thread.
 */
export interface SeekPoint {
  row: number;
  part: number;
  byte: number;
  line: number;
  inflated?: string;
}

/** Options of `openData`. */
export interface ReadOptions {
  /** Force a format instead of detecting it (csv needs `schema` or `labelColumn`). */
  format?: Format;
  /** Schema for csv: a JSON file path or an object (see formats/schema.ts). */
  schema?: string | Partial<Schema>;
  /**
   * A headerless csv of categorical columns without a schema: the 0-based
   * column of the label. openData builds the schema from the first line of
   * the (first) file: no header, tab-delimited when that line holds a tab and
   * no comma, else comma-delimited, columns "c0", "c1", ..., the label
   * "c<labelColumn>", every other column categorical (DataFile.schema).
   * Not with `schema`, nor with a format other than csv.
   */
  labelColumn?: number;
  /** libsvm: the `field:value<TAB>index` dictionary giving each index its field. */
  featindex?: string;
  /** Rows per batch (default 512). */
  batchSize?: number;
  /** Skip and count malformed rows instead of stopping at the first (up to `maxBadRows`). */
  skipBadRows?: boolean;
  /**
   * With skipBadRows, how many rows a pass may skip before it fails with a
   * DataError: { count: N }, more than N rows fail it (as soon as the N+1st
   * is met); { fraction: F }, more than F x the rows read (yielded + skipped
   * within the range) fail it, checked as the pass goes once 1000 rows were
   * read and at its end whatever the number. Default { fraction: 0.01 }.
   * Only with skipBadRows.
   */
  maxBadRows?: MaxBadRows;
  /**
   * With skipBadRows, called with each skipped row's error as it is skipped,
   * in file order, on the thread consuming the batches (also when prefetching).
   */
  onSkip?: (e: DataError) => void;
  /** Only data rows with index in [start, end) (0-based over the files in order, headers excluded, bad rows counted). */
  range?: { start?: number; end?: number };
  /**
   * Seek points of these files (data/seek.ts `seekPoints`): a pass whose
   * range starts past row 0 starts reading at the point of largest row <=
   * the start (points in a gzip file without an inflated copy, or in standard input, are passed over) and
   * skips the bytes before it instead of reading them. Its batches, stats
   * and errors are those of the pass without points. Points must be those of
   * these files as they are: a point whose byte does not follow a newline,
   * is past its file's end or is a header line is an error, but other
   * mismatches (a file changed before the point) go unnoticed.
   */
  seek?: readonly SeekPoint[];
}

/** What a pass over the files met, complete once its batches are exhausted. */
export interface ReadStats {
  /** Data rows yielded. */
  rows: number;
  /** Rows skipped as malformed (with skipBadRows). */
  skipped: number;
  /** The first few skipped rows' errors (each names its file and line). */
  firstBad: DataError[];
  /** Data rows seen (yielded + skipped), including those outside the range, over the files read so far. */
  seen: number;
}

/**
 * Opened data: one file, or several read one after the other as one stream
 * (the same format and fields); its schema of fields, and passes over its rows.
 */
export interface DataFile {
  /** The first file (`paths[0]`). */
  path: string;
  /** The files, in reading order; a batch's `part` indexes them. */
  paths: readonly string[];
  format: Format;
  /** Key field names, in key order. */
  fields: readonly string[];
  /** Numeric (unbucketed) field names. */
  numeric: readonly string[];
  /** Whether the first file's first line is a header rather than a row. */
  header: boolean;
  /** Whether each file's first line is a header (Avazu files may have it or not). */
  headers: readonly boolean[];
  /**
   * csv: the schema the rows are read with (loaded from `schema`, or built
   * for `labelColumn`): a model can record it to read new files the same way.
   */
  schema?: Schema;
  /**
   * The options the files were opened with, the format and schema resolved:
   * what another thread needs to open them the same way (data/prefetch.ts).
   */
  readonly options: ReadOptions;
  /**
   * One streaming pass over the rows, in file order, in batches: those of
   * `range` where given, else of the range the file was opened with (each of
   * start and end on its own). A batch holds rows of one file only.
   */
  batches(range?: { start?: number; end?: number }): AsyncGenerator<Batch, ReadStats>;
  /** Statistics of the last completed or running pass. */
  stats: ReadStats;
}
