import { allocBatch, trimBatch, type Batch } from "./batch.js";
import { detectFormat, FORMATS, type Format } from "./detect.js";
import { DataError, RowError } from "./errors.js";
import { lineBlocks } from "./lines.js";
import { fileChunks } from "./source.js";
import { CriteoParser } from "./formats/criteo.js";
import { AvazuParser } from "./formats/avazu.js";
import { LibsvmParser, libsvmTokens } from "./formats/libsvm.js";
import { loadFeatIndex } from "./formats/featindex.js";
import { CsvParser } from "./formats/csv.js";
import { loadSchema, type Schema } from "./formats/schema.js";
import type { RowParser } from "./formats/parser.js";
import { DEFAULT_PREFETCH_DEPTH, prefetchPass } from "./prefetch.js";

/** Options of `openData`. */
export interface ReadOptions {
  /** Force a format instead of detecting it (csv needs `schema`). */
  format?: Format;
  /** Schema for csv: a JSON file path or an object (see formats/schema.ts). */
  schema?: string | Partial<Schema>;
  /** libsvm: the `field:value<TAB>index` dictionary giving each index its field. */
  featindex?: string;
  /** Rows per batch (default 512). */
  batchSize?: number;
  /** Skip and count malformed rows instead of stopping at the first. */
  skipBadRows?: boolean;
  /** Only data rows with index in [start, end) (0-based, header excluded, bad rows counted). */
  range?: { start?: number; end?: number };
  /**
   * Read, parse and hash on a second thread, this many batches ahead (true:
   * DEFAULT_PREFETCH_DEPTH). Same batches, same order: only the wall time changes.
   */
  prefetch?: boolean | number;
}

/** What a pass over a file met, complete once its batches are exhausted. */
export interface ReadStats {
  /** Data rows yielded. */
  rows: number;
  /** Rows skipped as malformed (with skipBadRows). */
  skipped: number;
  /** The first few skipped rows' errors. */
  firstBad: DataError[];
  /** Data rows seen (yielded + skipped), including those outside the range. */
  seen: number;
}

/** An opened data file: its schema of fields, and passes over its rows. */
export interface DataFile {
  path: string;
  format: Format;
  /** Key field names, in key order. */
  fields: readonly string[];
  /** Numeric (unbucketed) field names. */
  numeric: readonly string[];
  /** Whether the first line is a header rather than a row. */
  header: boolean;
  /**
   * One streaming pass over the rows, in file order, in batches: those of
   * `range` where given, else of the range the file was opened with (each of
   * start and end on its own).
   */
  batches(range?: { start?: number; end?: number }): AsyncGenerator<Batch, ReadStats>;
  /** Statistics of the last completed or running pass. */
  stats: ReadStats;
}

const MAX_BAD_KEPT = 10;
/** Largest batch (keys, numeric values, labels and line numbers), 1 GiB. */
const MAX_BATCH_BYTES = 2 ** 30;
/** Most key fields a libsvm file without a featindex may have (its first row sets the count). */
const MAX_LIBSVM_FIELDS = 4096;

/**
 * The first line of a file, whole and split as a pass splits it (a header
 * may be far longer than detection's first 64 KiB, and quoted); null when
 * the file is empty.
 */
async function firstRow(path: string, quoted: boolean): Promise<Buffer | null> {
  for await (const blk of lineBlocks(fileChunks(path), quoted, path)) return Buffer.from(blk.buf.subarray(blk.starts[0], blk.ends[0]));
  return null;
}

/**
 * The field count of a libsvm file without a featindex: the number of
 * index:value tokens of its first row, which must be a libsvm row (a garbage
 * first line would otherwise set a meaningless, possibly huge, count).
 */
function libsvmFieldCount(path: string, line: string): number {
  if (!/^[01]([ \t]+\d+:[^ \t]+)*[ \t]*$/.test(line)) {
    throw new DataError(path, 1, undefined, `the first row sets the field count of a libsvm file without a featindex, and ${JSON.stringify(line.slice(0, 60))} is not a libsvm row ("label idx:1 idx:1 ...")`);
  }
  const n = libsvmTokens(line);
  if (n > MAX_LIBSVM_FIELDS) throw new DataError(path, 1, undefined, `the first row has ${n} features, more than ${MAX_LIBSVM_FIELDS}: give a featindex`);
  return n;
}

/** Opens a data file: detects (or takes) its format and builds its parser. */
export async function openData(path: string, opts: ReadOptions = {}): Promise<DataFile> {
  if (opts.format !== undefined && !FORMATS.includes(opts.format)) throw new Error(`unknown format "${String(opts.format)}": use ${FORMATS.join(", ")}`);
  const format = opts.format ?? (opts.schema !== undefined ? "csv" : await detectFormat(path));
  const batchSize = opts.batchSize ?? 512;
  if (opts.prefetch !== undefined && typeof opts.prefetch !== "boolean" && !(Number.isSafeInteger(opts.prefetch) && opts.prefetch >= 0 && opts.prefetch <= 1024)) throw new RangeError(`prefetch ${String(opts.prefetch)} must be true, false or a depth in [0, 1024] batches`);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 1 << 20) throw new RangeError(`batch size ${batchSize} must be an integer in [1, 2^20]`);
  const dict = format === "libsvm" && opts.featindex ? await loadFeatIndex(opts.featindex) : undefined;
  const makeParser = async (): Promise<RowParser> => {
    if (format === "criteo") return new CriteoParser();
    if (format === "avazu") return new AvazuParser();
    if (format === "libsvm") {
      if (dict) return new LibsvmParser(dict);
      return new LibsvmParser(undefined, libsvmFieldCount(path, (await firstRow(path, false))?.toString("utf8") ?? ""));
    }
    if (opts.schema === undefined) throw new Error(`${path}: the csv format needs a schema`);
    return new CsvParser(loadSchema(opts.schema as string | object));
  };
  // A parser to learn the fields (it reads the header when there is one).
  const probe = await makeParser();
  if (probe.hasHeader) {
    const b = await firstRow(path, probe.quoted);
    if (b === null || b.length === 0) throw new DataError(path, 1, undefined, "the file is empty: a header is expected");
    try {
      probe.header(b, 0, b.length);
    } catch (e) {
      if (e instanceof RowError) throw new DataError(path, 1, e.column, e.reason);
      throw e;
    }
  }
  // A batch's arrays are allocated whole: refuse sizes that cannot be (e.g. a
  // schema of very many columns with a large batch size) before trying.
  const batchBytes = batchSize * (8 * probe.fields.length + 4 * probe.numeric.length + 12);
  if (batchBytes > MAX_BATCH_BYTES) {
    throw new RangeError(`${path}: a batch of ${batchSize} rows of ${probe.fields.length} key and ${probe.numeric.length} numeric fields would take ${batchBytes} bytes (at most ${MAX_BATCH_BYTES}): use a smaller batch size`);
  }
  const file: DataFile = {
    path, format, fields: probe.fields, numeric: probe.numeric, header: probe.hasHeader,
    stats: { rows: 0, skipped: 0, firstBad: [], seen: 0 },
    batches: (range) => {
      // A pass's own range overrides the file's, field by field.
      const r = { start: range?.start ?? opts.range?.start, end: range?.end ?? opts.range?.end };
      const depth = opts.prefetch === true ? DEFAULT_PREFETCH_DEPTH : Number(opts.prefetch ?? 0);
      return depth > 0 ? prefetchPass(file, { ...opts, format }, r, depth) : pass(path, makeParser, batchSize, opts.skipBadRows ?? false, r, file);
    },
  };
  return file;
}

async function* pass(
  path: string, makeParser: () => Promise<RowParser>, batchSize: number, skip: boolean,
  range: { start?: number; end?: number }, file: DataFile,
): AsyncGenerator<Batch, ReadStats> {
  const parser = await makeParser();
  // A header-bound parser learns its fields on the header line: take the counts the file was opened with.
  const F = file.fields.length, N = file.numeric.length;
  const start = range.start ?? 0, end = range.end ?? Infinity;
  const stats: ReadStats = { rows: 0, skipped: 0, firstBad: [], seen: 0 };
  file.stats = stats;
  let batch = allocBatch(batchSize, F, N);
  let r = 0, headerDone = !parser.hasHeader;
  scan: for await (const blk of lineBlocks(fileChunks(path), parser.quoted, path)) {
    for (let k = 0; k < blk.count; k++) {
      const line = blk.firstLine + k, s = blk.starts[k], e = blk.ends[k];
      if (!headerDone) {
        try {
          parser.header(blk.buf, s, e);
        } catch (err) {
          if (err instanceof RowError) throw new DataError(path, line, err.column, err.reason);
          throw err;
        }
        headerDone = true;
        if (parser.fields.length !== F || parser.numeric.length !== N) throw new DataError(path, line, undefined, "the header changed since the file was opened");
        continue;
      }
      const idx = stats.seen++;
      if (idx < start) continue;
      if (idx >= end) break scan;
      try {
        if (s === e) throw new RowError(undefined, "empty line");
        batch.labels[r] = parser.parse(blk.buf, s, e, batch.keyWords, 2 * F * r, batch.numeric, N * r);
      } catch (err) {
        if (!(err instanceof RowError)) throw err;
        const de = new DataError(path, line, err.column, err.reason);
        if (!skip) throw de;
        stats.skipped++;
        if (stats.firstBad.length < MAX_BAD_KEPT) stats.firstBad.push(de);
        continue;
      }
      batch.lines[r] = line;
      stats.rows++;
      if (++r === batchSize) {
        batch.rows = r;
        batch.seen = stats.seen;
        yield batch;
        batch = allocBatch(batchSize, F, N);
        r = 0;
      }
    }
  }
  // A pass that stopped at the range's end has counted the first row past it.
  batch.seen = Math.min(stats.seen, end);
  if (r > 0) yield trimBatch(batch, r, F, N);
  return stats;
}
