// openData: opens one file or several read as one (format, fields, schema),
// and gives passes over their rows (data/prefetch.ts runs them on a second thread).
import type { DataFile, MaxBadRows, ReadOptions } from "./types.js";
import { checkMaxBadRows, DEFAULT_MAX_BAD_ROWS } from "./badrows.js";
import { detectFormat, FORMATS, type Format } from "./detect.js";
import { DataError } from "./errors.js";
import { pass, type PassPlan } from "./pass.js";
import { avazuHeader, firstRow, libsvmFieldCount, readHeader, sameColumns, sameFields } from "./probe.js";
import { CriteoParser } from "./formats/criteo.js";
import { AvazuParser } from "./formats/avazu.js";
import { LibsvmParser } from "./formats/libsvm.js";
import { loadFeatIndex, type FeatIndex } from "./formats/featindex.js";
import { CsvParser } from "./formats/csv.js";
import { inferSchema } from "./formats/infer.js";
import { loadSchema, type Schema } from "./formats/schema.js";
import type { RowParser } from "./formats/parser.js";

/** Largest batch (keys, numeric values, labels and line numbers), 1 GiB. */
const MAX_BATCH_BYTES = 2 ** 30;

/**
 * Opens a data file, or several files read in order as one (each must have
 * the same format and fields: a file that does not is an error naming it):
 * detects (or takes) the format, learns the fields, and builds the parsers.
 */
export async function openData(paths: string | readonly string[], opts: ReadOptions = {}): Promise<DataFile> {
  const list: readonly string[] = typeof paths === "string" ? [paths] : paths;
  if (!Array.isArray(list) || list.length === 0 || !list.every((p) => typeof p === "string")) throw new TypeError("openData needs a file path or a non-empty array of file paths");
  const path = list[0];
  const { batchSize, limit } = checkOptions(opts);
  const format = opts.format ?? (opts.schema !== undefined || opts.labelColumn !== undefined ? "csv" : await detectAll(list));
  if (opts.labelColumn !== undefined && format !== "csv") throw new Error(`${path}: labelColumn reads a csv file, not ${format}`);
  // A detected csv is a headerless file of integer codes behind its label (isLabelledCodesRow).
  if (opts.format === undefined && format === "csv" && opts.schema === undefined && opts.labelColumn === undefined) opts = { ...opts, labelColumn: 0 };
  const dict: FeatIndex | undefined = format === "libsvm" && opts.featindex ? await loadFeatIndex(opts.featindex) : undefined;
  const schema = format === "csv" ? await csvSchema(list, opts) : undefined;
  // Each file: its header, and a parser learning its fields to compare with the first's.
  const headers: boolean[] = [];
  let fieldCount = 0;
  const makeParser = async (part: number): Promise<RowParser> => {
    if (format === "criteo") return new CriteoParser();
    if (format === "avazu") return new AvazuParser(headers[part]);
    if (format === "libsvm") return new LibsvmParser(dict, dict ? undefined : fieldCount);
    return new CsvParser(schema!);
  };
  let probe: RowParser | undefined;
  for (let part = 0; part < list.length; part++) {
    const p = list[part];
    if (format === "avazu") headers.push(await avazuHeader(p));
    if (format === "libsvm" && !dict) {
      const n = await libsvmFieldCount(p);
      if (part > 0 && n !== fieldCount) throw new DataError(p, 1, undefined, `the first row has ${n} features, ${path}'s ${fieldCount}: the files read together must have the same fields (or give a featindex)`);
      fieldCount = n;
    }
    const parser = await makeParser(part);
    if (format !== "avazu") headers.push(parser.hasHeader);
    await readHeader(p, parser);
    if (probe === undefined) probe = parser;
    else sameFields(p, path, parser, probe);
    if (part > 0 && schema && opts.labelColumn !== undefined) await sameColumns(p, path, schema.delimiter, schema.columns!.length);
  }
  const { fields, numeric } = probe!;
  // A batch's arrays are allocated whole: refuse sizes that cannot be (e.g. a
  // schema of very many columns with a large batch size) before trying.
  const batchBytes = batchSize * (8 * fields.length + 4 * numeric.length + 12);
  if (batchBytes > MAX_BATCH_BYTES) {
    throw new RangeError(`${path}: a batch of ${batchSize} rows of ${fields.length} key and ${numeric.length} numeric fields would take ${batchBytes} bytes (at most ${MAX_BATCH_BYTES}): use a smaller batch size`);
  }
  const plan: PassPlan = { makeParser, batchSize, skip: opts.skipBadRows ?? false, limit, onSkip: opts.onSkip };
  const file: DataFile = {
    path, paths: [...list], format, fields, numeric, header: headers[0], headers, schema,
    options: { ...opts, format, ...(schema ? { schema, labelColumn: undefined } : {}) },
    stats: { rows: 0, skipped: 0, firstBad: [], seen: 0 },
    // A pass's own range overrides the file's, field by field.
    batches: (range) => pass(plan, { start: range?.start ?? opts.range?.start, end: range?.end ?? opts.range?.end }, file),
  };
  return file;
}

/** Checks the options that need no file; the batch size and the bad-row limit. */
function checkOptions(opts: ReadOptions): { batchSize: number; limit: MaxBadRows } {
  if (opts.format !== undefined && !FORMATS.includes(opts.format)) throw new Error(`unknown format "${String(opts.format)}": use ${FORMATS.join(", ")}`);
  const batchSize = opts.batchSize ?? 512;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 1 << 20) throw new RangeError(`batch size ${batchSize} must be an integer in [1, 2^20]`);
  if (opts.labelColumn !== undefined) {
    if (opts.schema !== undefined) throw new Error("give either a schema or a labelColumn (which builds the schema), not both");
    if (!Number.isSafeInteger(opts.labelColumn) || opts.labelColumn < 0) throw new RangeError(`labelColumn ${String(opts.labelColumn)} must be a 0-based column index (an integer >= 0)`);
  }
  if (opts.maxBadRows !== undefined && opts.skipBadRows !== true) throw new Error("maxBadRows limits the rows skipBadRows skips: give skipBadRows too");
  if (opts.onSkip !== undefined && typeof opts.onSkip !== "function") throw new TypeError("onSkip must be a function");
  return { batchSize, limit: opts.maxBadRows === undefined ? DEFAULT_MAX_BAD_ROWS : checkMaxBadRows(opts.maxBadRows) };
}

/** The detected format of every file: they must agree. */
async function detectAll(paths: readonly string[]): Promise<Format> {
  const format = await detectFormat(paths[0]);
  for (const p of paths.slice(1)) {
    const f = await detectFormat(p);
    if (f !== format) throw new Error(`${p}: its format is ${f}, ${paths[0]}'s ${format}: the files read together must have the same format`);
  }
  return format;
}

/** The schema of csv files: loaded from opts.schema, or built from the first line for opts.labelColumn. */
async function csvSchema(paths: readonly string[], opts: ReadOptions): Promise<Schema> {
  const path = paths[0];
  if (opts.labelColumn === undefined) {
    if (opts.schema === undefined) throw new Error(`${path}: the csv format needs a schema (or a labelColumn, for a headerless file of categorical columns)`);
    return loadSchema(opts.schema as string | object);
  }
  const line = await firstRow(path, true);
  if (line === null || line.length === 0) throw new DataError(path, 1, undefined, "the first line is empty: labelColumn needs it to count the columns");
  try {
    return inferSchema(line, opts.labelColumn);
  } catch (e) {
    if (e instanceof RangeError) throw new DataError(path, 1, undefined, e.message);
    throw e;
  }
}
