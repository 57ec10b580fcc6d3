// What openData learns from each file before a pass: its first line, its
// header, its fields; files that do not match the first are refused.
import { DataError, RowError } from "./errors.js";
import { lineBlocks } from "./lines.js";
import { fileChunks } from "./source.js";
import { avazuHasHeader } from "./formats/avazu.js";
import { libsvmTokens } from "./formats/libsvm.js";
import { countColumns } from "./formats/infer.js";
import { someNames } from "./formats/schema.js";
import type { RowParser } from "./formats/parser.js";

/** A libsvm row as the first row of a file without a featindex: a label and index:value tokens, possibly none. */
const LIBSVM_FIRST_ROW = /^(?:[+-]?1|0)(?:\.0+)?(?:[ \t]+\d+:[^ \t]+)*[ \t]*$/;
/** Most key fields a libsvm file without a featindex may have (its first row sets the count). */
const MAX_LIBSVM_FIELDS = 4096;

/**
 * The first line of a file, whole and split as a pass splits it (a header
 * may be far longer than detection's first 64 KiB, and quoted); null when
 * the file is empty.
 */
export async function firstRow(path: string, quoted: boolean): Promise<Buffer | null> {
  for await (const blk of lineBlocks(fileChunks(path), quoted, path)) return Buffer.from(blk.buf.subarray(blk.starts[0], blk.ends[0]));
  return null;
}

/**
 * The field count of a libsvm file without a featindex: the number of
 * index:value tokens of its first row, which must be a libsvm row (a garbage
 * first line would otherwise set a meaningless, possibly huge, count).
 */
export async function libsvmFieldCount(path: string): Promise<number> {
  const line = (await firstRow(path, false))?.toString("utf8") ?? "";
  if (!LIBSVM_FIRST_ROW.test(line)) {
    throw new DataError(path, 1, undefined, `the first row sets the field count of a libsvm file without a featindex, and ${JSON.stringify(line.slice(0, 60))} is not a libsvm row ("label idx:value idx:value ...")`);
  }
  const n = libsvmTokens(line);
  if (n > MAX_LIBSVM_FIELDS) throw new DataError(path, 1, undefined, `the first row has ${n} features, more than ${MAX_LIBSVM_FIELDS}: give a featindex`);
  return n;
}

/** Whether an Avazu file has the header line (its first line is exactly AVAZU_HEADER). */
export async function avazuHeader(path: string): Promise<boolean> {
  const b = await firstRow(path, false);
  if (b === null || b.length === 0) throw new DataError(path, 1, undefined, "the file is empty: a header is expected");
  try {
    return avazuHasHeader(b.toString("utf8"));
  } catch (e) {
    if (e instanceof RowError) throw new DataError(path, 1, e.column, e.reason);
    throw e;
  }
}

/** Has a header-bound parser read its file's header line (errors located at line 1 of the file). */
export async function readHeader(path: string, parser: RowParser): Promise<void> {
  if (!parser.hasHeader) return;
  const b = await firstRow(path, parser.quoted);
  if (b === null || b.length === 0) throw new DataError(path, 1, undefined, "the file is empty: a header is expected");
  try {
    parser.header(b, 0, b.length);
  } catch (e) {
    if (e instanceof RowError) throw new DataError(path, 1, e.column, e.reason);
    throw e;
  }
}

/** Refuses a file whose fields are not the first file's. */
export function sameFields(path: string, first: string, p: RowParser, want: { fields: readonly string[]; numeric: readonly string[] }): void {
  const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  if (!same(p.fields, want.fields)) {
    throw new DataError(path, 1, undefined, `its key fields (${someNames(p.fields)}) are not those of ${first} (${someNames(want.fields)}): the files read together must have the same fields`);
  }
  if (!same(p.numeric, want.numeric)) {
    throw new DataError(path, 1, undefined, `its numeric fields (${someNames(p.numeric)}) are not those of ${first} (${someNames(want.numeric)}): the files read together must have the same fields`);
  }
}

/** Refuses a headerless csv file (of an inferred schema) whose first line has another number of columns. */
export async function sameColumns(path: string, first: string, delimiter: string, columns: number): Promise<void> {
  const b = await firstRow(path, true);
  if (b === null) return;
  const n = countColumns(b, delimiter.charCodeAt(0));
  if (n !== columns) throw new DataError(path, 1, undefined, `the first line has ${n} columns, ${first}'s ${columns}: the files read together must have the same columns`);
}
