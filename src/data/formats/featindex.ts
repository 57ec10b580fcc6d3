import { readFile } from "node:fs/promises";
import { hashKey } from "../hash.js";
import { DataError } from "../errors.js";

/**
 * A libsvm feature dictionary (`field:value<TAB>index` per line, as the
 * make-ipinyou-data pipeline writes): gives each index its field and value.
 * Keys are hashed from (field, value text), as every other reader does.
 */
export interface FeatIndex {
  fields: string[];
  /** Field slot of each index, -1 when the index is not in the dictionary. */
  fieldOf: Int32Array;
  /** Key of each index as u32 pairs. */
  keyOf: Uint32Array;
}

const MAX_INDEX = 1 << 28;

export async function loadFeatIndex(path: string): Promise<FeatIndex> {
  const text = await readFile(path, "utf8").catch((e: Error) => {
    throw new Error(`featindex ${path}: ${e.message}`);
  });
  const fields: string[] = [];
  const slot = new Map<string, number>();
  const entries: [number, number, string][] = [];
  let maxIndex = -1;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n];
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line === "" && n === lines.length - 1) break;
    const tab = line.lastIndexOf("\t");
    const colon = line.indexOf(":");
    if (tab < 0 || colon < 0 || colon > tab) throw new DataError(path, n + 1, undefined, `expected "field:value<TAB>index", got ${JSON.stringify(line.slice(0, 60))}`);
    const idxText = line.slice(tab + 1);
    const index = Number(idxText);
    if (!/^\d+$/.test(idxText) || index >= MAX_INDEX) throw new DataError(path, n + 1, 2, `index ${JSON.stringify(idxText)} is not an integer in [0, 2^28)`);
    const field = line.slice(0, colon);
    let f = slot.get(field);
    if (f === undefined) {
      f = fields.length;
      fields.push(field);
      slot.set(field, f);
    }
    entries.push([index, f, line.slice(colon + 1, tab)]);
    if (index > maxIndex) maxIndex = index;
  }
  const fieldOf = new Int32Array(maxIndex + 1).fill(-1);
  const keyOf = new Uint32Array(2 * (maxIndex + 1));
  const enc = new TextEncoder();
  for (let k = 0; k < entries.length; k++) {
    const [index, f, value] = entries[k];
    if (fieldOf[index] >= 0) throw new DataError(path, k + 1, 2, `index ${index} appears twice`);
    fieldOf[index] = f;
    const b = enc.encode(value);
    hashKey(f, b, 0, b.length, keyOf, 2 * index);
  }
  return { fields, fieldOf, keyOf };
}
