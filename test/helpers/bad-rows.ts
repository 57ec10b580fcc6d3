// Malformed lines planted in a file of generated Criteo rows, for the tests
// of skipped and counted rows: one too short (a label and one field) and one
// whose first integer field is not a number.
import { readFileSync, writeFileSync } from "node:fs";

/** Writes `path` with line `short` too short and line `notInteger`'s I1 not an integer (0-based lines) to `out` (default: over it). */
export function plantBadRows(path: string, at: { short: number; notInteger: number }, out = path): void {
  const lines = readFileSync(path, "utf8").split("\n");
  lines[at.short] = "x\t1";
  lines[at.notInteger] = "1\tnot-a-number" + lines[at.notInteger].slice(lines[at.notInteger].indexOf("\t", 2));
  writeFileSync(out, lines.join("\n"));
}
