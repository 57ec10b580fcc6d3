// Format detection from a file's first line.
import { fileChunks } from "./source.js";
import { AVAZU_HEADER } from "./formats/avazu.js";

/** The formats the readers understand. */
export type Format = "criteo" | "avazu" | "libsvm" | "csv";
export const FORMATS: readonly Format[] = ["criteo", "avazu", "libsvm", "csv"];
export function isFormat(v: unknown): v is Format {
  return FORMATS.some((f) => f === v);
}

/** The first line of a file (plain or gzip), at most 64 KiB of it; "" for an empty file. */
export async function firstLine(path: string): Promise<string> {
  let acc = Buffer.alloc(0);
  for await (const c of fileChunks(path)) {
    acc = Buffer.concat([acc, c]);
    const nl = acc.indexOf(10);
    if (nl >= 0 || acc.length >= 65536) {
      const end = nl >= 0 ? nl : Math.min(acc.length, 65536);
      return acc.subarray(0, end).toString("utf8").replace(/\r$/, "");
    }
  }
  return acc.toString("utf8").replace(/\r$/, "");
}

/** A libsvm/libfm row: a label (0/1, -1/+1, optionally with ".0") and index:value tokens. */
export const LIBSVM_ROW = /^(?:[+-]?1|0)(?:\.0+)?(?:[ \t]+\d+:[^ \t]+)+[ \t]*$/;

/**
 * Whether a line is an Avazu data row (a headerless Avazu file): 24
 * comma-separated columns, the second 0/1, the third 8 digits (YYMMDDHH).
 */
export function isAvazuRow(line: string): boolean {
  const cols = line.split(",");
  return cols.length === 24 && (cols[1] === "0" || cols[1] === "1") && /^\d{8}$/.test(cols[2]);
}

/**
 * Whether a line is a row of integer-coded categorical columns behind a 0/1
 * (or -1/+1) label, comma- or tab-separated, without a header (pre-encoded
 * data sets: `label,c1,c2,...`): at least three columns, all integers or
 * empty. openData reads such a file as csv with label column 0.
 */
export function isLabelledCodesRow(line: string): boolean {
  const cols = line.split(line.includes(",") ? "," : "\t");
  return cols.length >= 3 && /^(?:[+-]?1|0)$/.test(cols[0]) && cols.every((c) => /^-?\d*$/.test(c));
}

/**
 * The format of a file from its first line, where that is unambiguous: Avazu's
 * exact header; 40 tab-separated columns with a 0/1 first column (Criteo);
 * `label idx:value ...` with a 0/1 or -1/+1 label (libsvm, libfm); an Avazu
 * row without the header (isAvazuRow); a headerless row of integer codes
 * behind a label (isLabelledCodesRow: csv, label column 0). Anything else
 * needs --format (and a schema, or a label column, for csv).
 */
export async function detectFormat(path: string): Promise<Format> {
  const line = await firstLine(path);
  if (line === "") throw new Error(`${path}: the file is empty: cannot detect its format`);
  if (line === AVAZU_HEADER) return "avazu";
  const tabs = line.split("\t");
  if (tabs.length === 40 && (tabs[0] === "0" || tabs[0] === "1")) return "criteo";
  if (LIBSVM_ROW.test(line)) return "libsvm";
  if (isAvazuRow(line)) return "avazu";
  if (isLabelledCodesRow(line)) return "csv";
  throw new Error(`${path}: cannot detect the format from the first line ${JSON.stringify(line.slice(0, 60))}: pass a format (criteo, avazu, libsvm, or csv with a schema or a label column)`);
}
