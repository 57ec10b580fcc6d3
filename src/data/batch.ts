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
  /** 1-based line number of each row in its file. */
  lines: Float64Array;
  /**
   * Data rows of the file read up to and including this batch's last row
   * (skipped and out-of-range rows count): a pass restarted with
   * `range.start = seen` continues with the next batch.
   */
  seen: number;
}

export function allocBatch(capacity: number, fields: number, numeric: number): Batch {
  const keys = new BigUint64Array(capacity * fields);
  return {
    rows: 0,
    labels: new Float32Array(capacity),
    keys,
    keyWords: new Uint32Array(keys.buffer),
    numeric: new Float32Array(capacity * numeric),
    lines: new Float64Array(capacity),
    seen: 0,
  };
}

/** The first `rows` rows of a batch, as views. */
export function trimBatch(b: Batch, rows: number, fields: number, numeric: number): Batch {
  const keys = b.keys.subarray(0, rows * fields);
  return {
    rows,
    labels: b.labels.subarray(0, rows),
    keys,
    keyWords: new Uint32Array(keys.buffer, keys.byteOffset, rows * fields * 2),
    numeric: b.numeric.subarray(0, rows * numeric),
    lines: b.lines.subarray(0, rows),
    seen: b.seen,
  };
}
