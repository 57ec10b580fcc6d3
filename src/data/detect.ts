import { fileChunks } from "./source.js";
import { AVAZU_HEADER } from "./formats/avazu.js";

/** The formats the readers understand. */
export type Format = "criteo" | "avazu" | "libsvm" | "csv";
export const FORMATS: readonly Format[] = ["criteo", "avazu", "libsvm", "csv"];

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

/**
 * The format of a file from its first line, where that is unambiguous: Avazu's
 * exact header; 40 tab-separated columns with a 0/1 first column (Criteo);
 * `label idx:value ...` (libsvm). Anything else needs --format (and a schema
 * for csv).
 */
export async function detectFormat(path: string): Promise<Format> {
  const line = await firstLine(path);
  if (line === "") throw new Error(`${path}: the file is empty: cannot detect its format`);
  if (line === AVAZU_HEADER) return "avazu";
  const tabs = line.split("\t");
  if (tabs.length === 40 && (tabs[0] === "0" || tabs[0] === "1")) return "criteo";
  if (/^[01]([ \t]+\d+:[^ \t]+)+[ \t]*$/.test(line)) return "libsvm";
  throw new Error(`${path}: cannot detect the format from the first line ${JSON.stringify(line.slice(0, 60))}: pass a format (criteo, avazu, libsvm, or csv with a schema)`);
}
