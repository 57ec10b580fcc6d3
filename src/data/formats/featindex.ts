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
  /** Field slot of each position, -1 when no index has it. */
  fieldOf: Int32Array;
  /** Key of each position as u32 pairs. */
  keyOf: Uint32Array;
  /**
   * Position of each index in fieldOf and keyOf when the indices are sparse
   * (far more than the entries); absent when the position is the index itself.
   */
  sparse?: Map<number, number>;
}

const MAX_INDEX = 1 << 28;

/** The position of an index in a dictionary's arrays, -1 when it has none. */
export function featPosition(dict: FeatIndex, index: number): number {
  const p = dict.sparse ? dict.sparse.get(index) ?? -1 : index;
  return p >= 0 && p < dict.fieldOf.length ? p : -1;
}

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
  // Arrays indexed by the index itself when the indices are about dense (the
  // usual 0..n-1); otherwise by entry, through a map, so that a few large
  // indices never allocate gigabytes.
  const dense = maxIndex < 2 * entries.length + 65536;
  const n = dense ? maxIndex + 1 : entries.length;
  const sparse = dense ? undefined : new Map<number, number>();
  const fieldOf = new Int32Array(n).fill(-1);
  const keyOf = new Uint32Array(2 * n);
  const enc = new TextEncoder();
  for (let k = 0; k < entries.length; k++) {
    const [index, f, value] = entries[k];
    if (sparse) {
      if (sparse.has(index)) throw new DataError(path, k + 1, 2, `index ${index} appears twice`);
      sparse.set(index, k);
    }
    const p = sparse ? k : index;
    if (fieldOf[p] >= 0) throw new DataError(path, k + 1, 2, `index ${index} appears twice`);
    fieldOf[p] = f;
    const b = enc.encode(value);
    hashKey(f, b, 0, b.length, keyOf, 2 * p);
  }
  return { fields, fieldOf, keyOf, sparse };
}
