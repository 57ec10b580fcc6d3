// The schema of a headerless CSV/TSV of categorical columns, from its first line.
import { loadSchema, type Schema } from "./schema.js";

/**
 * The schema `openData` builds for `labelColumn` (no hand-written schema):
 * no header; tab-delimited when the first line holds a tab and no comma,
 * else comma-delimited; columns named "c0", "c1", ... in file order; the
 * label "c<labelColumn>"; every other column categorical. Throws (a message
 * without the file, which the caller adds) when the label column is not one
 * of the line's columns or no other column is left.
 */
export function inferSchema(firstLine: Uint8Array, labelColumn: number): Schema {
  let tab = false, comma = false;
  for (const c of firstLine) { if (c === 9) tab = true; else if (c === 44) comma = true; }
  const delimiter = tab && !comma ? "\t" : ",";
  const columns = countColumns(firstLine, delimiter.charCodeAt(0));
  if (!Number.isSafeInteger(labelColumn) || labelColumn < 0 || labelColumn >= columns) {
    throw new RangeError(`labelColumn ${labelColumn} is not a column of the first line: it has ${columns} ${delimiter === "\t" ? "tab" : "comma"}-separated columns (0 to ${columns - 1})`);
  }
  if (columns < 2) throw new RangeError(`the first line has one column, the label: no feature columns`);
  const names = Array.from({ length: columns }, (_, i) => `c${i}`);
  return loadSchema({
    delimiter, header: false, columns: names, label: names[labelColumn],
    categorical: names.filter((_, i) => i !== labelColumn),
  });
}

/** Columns of a line: delimiters outside quotes, plus one. */
export function countColumns(line: Uint8Array, delim: number): number {
  let n = 1, quoted = false;
  for (const c of line) {
    if (c === 34) quoted = !quoted;
    else if (c === delim && !quoted) n++;
  }
  return n;
}
