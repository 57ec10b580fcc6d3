// The Batch type readers yield, and its allocation and trimming.

/**
 * A batch of rows as readers yield them: labels, one 64-bit feature key per
 * categorical field (row-major: rows x fields) and the numeric values of
 * unbucketed numeric fields (rows x numeric).
 */
export interface Batch {
  rows: number;
  labels: Float32Array;
  /** Feature keys, rows x fields; `keyWords` is the same memory as (lo, hi) u32 pairs. */
  keys: BigUint64Array;
  keyWords: Uint32Array;
  numeric: Float32Array;
  /** 1-based line number of each row in its file (the DataFile's paths[part]). */
  lines: Float64Array;
  /**
   * Multi-valued fields and feature values: present when some slot (row r,
   * field f: slot r * fields + f) holds other than exactly one key of value 1.
   * The keys of slot s are then keys[offsets[s] .. offsets[s + 1]) (keys and
   * keyWords hold offsets[rows * fields] keys, not rows x fields), each scaling
   * its embedding by values[k]. Every slot holds at least one key: a field a
   * row leaves empty (or whose values are all 0) holds its missing-value key
   * with value 1, as in a one-key-per-slot batch. Absent: one key of value 1
   * per slot, keys rows x fields.
   */
  bags?: Bags;
  /** Index of the file this batch's rows come from, in a DataFile of several (`paths`); 0 otherwise. */
  part?: number;
  /**
   * Data rows of the file (of the files, in order, for several) read up to
   * and including this batch's last row (skipped and out-of-range rows
   * count): a pass restarted with `range.start = seen` continues with the
   * next batch.
   */
  seen: number;
}

/** The key layout of a batch with multi-valued fields or feature values (see Batch.bags). */
export interface Bags {
  /** rows x fields + 1 offsets into the batch's keys, non-decreasing, offsets[0] = 0. */
  offsets: Uint32Array;
  /** One value per key (offsets[rows x fields] of them); never 0 (a value of 0 is an absent feature). */
  values: Float32Array;
}

/**
 * An empty batch of `capacity` rows: one key per slot, or with `bagKeys` the
 * bag layout with room for that many keys (offsets and values allocated,
 * offsets all 0); `part` is stored as the batch's part.
 */
export function allocBatch(capacity: number, fields: number, numeric: number, opts: { bagKeys?: number; part?: number } = {}): Batch {
  const keys = new BigUint64Array(opts.bagKeys ?? capacity * fields);
  const b: Batch = {
    rows: 0,
    labels: new Float32Array(capacity),
    keys,
    keyWords: new Uint32Array(keys.buffer),
    numeric: new Float32Array(capacity * numeric),
    lines: new Float64Array(capacity),
    seen: 0,
  };
  if (opts.bagKeys !== undefined) b.bags = { offsets: new Uint32Array(capacity * fields + 1), values: new Float32Array(opts.bagKeys) };
  if (opts.part !== undefined) b.part = opts.part;
  return b;
}

/** The first `rows` rows of a batch, as views (with their bags' keys, offsets and values; the same part). */
export function trimBatch(b: Batch, rows: number, fields: number, numeric: number): Batch {
  const nk = b.bags ? b.bags.offsets[rows * fields] : rows * fields;
  const keys = b.keys.subarray(0, nk);
  const t: Batch = {
    rows,
    labels: b.labels.subarray(0, rows),
    keys,
    keyWords: new Uint32Array(keys.buffer, keys.byteOffset, nk * 2),
    numeric: b.numeric.subarray(0, rows * numeric),
    lines: b.lines.subarray(0, rows),
    seen: b.seen,
  };
  if (b.bags) t.bags = { offsets: b.bags.offsets.subarray(0, rows * fields + 1), values: b.bags.values.subarray(0, nk) };
  if (b.part !== undefined) t.part = b.part;
  return t;
}
