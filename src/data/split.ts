// Time-ordered holdout splits: row ranges counted over a DataFile's files.
import { scanRows } from "./seek.js";
import { avazuDay } from "./formats/avazu.js";
import type { DataFile } from "./types.js";

/** A time-ordered holdout: the end of the stream is the test part. */
export type Holdout =
  | { lastFraction: number }
  | { lastRows: number }
  /** Avazu: the rows of the last day (the paper's split). */
  | { lastDay: true };

export interface Split {
  /** Data rows in the file, or the files in order (bad rows included). */
  total: number;
  train: { start: number; end: number };
  test: { start: number; end: number };
}

/**
 * Row ranges of a holdout, from one counting pass over the file, or over its
 * files in order as one (no parsing): the ranges index the rows of all of
 * them, as a pass's ranges do, and the last day may begin in any file.
 * Criteo's "7 parts, the first 6 for training" is { lastFraction: 1/7 }.
 * The pass also finds the files' seek points (seekPoints then takes them
 * without scanning again); with `copyDir`, it copies gzip files inflated to
 * that folder as it reads them, as seekPoints does.
 */
export async function holdoutSplit(file: DataFile, holdout: Holdout, copyDir?: string): Promise<Split> {
  let total = 0, firstOfLastDay = 0, lastDay = -1;
  const wantDay = "lastDay" in holdout;
  if (wantDay && file.format !== "avazu") throw new Error(`${file.path}: a last-day holdout needs Avazu's hour column (format ${file.format})`);
  // The same scan finds the files' seek points (data/seek.ts), kept for the data-parallel trainer.
  await scanRows(file, {
    copyDir,
    row: (blk, k) => {
      if (wantDay) {
        // The hour is the third column: YYMMDDHH.
        let i = blk.starts[k], commas = 0;
        while (i < blk.ends[k] && commas < 2) if (blk.buf[i++] === 44) commas++;
        const day = i + 6 <= blk.ends[k] ? avazuDay(blk.buf, i) : -1;
        if (day !== lastDay) { lastDay = day; firstOfLastDay = total; }
      }
      total++;
    },
  });
  let cut: number;
  if ("lastFraction" in holdout) {
    const f = holdout.lastFraction;
    if (!(f > 0 && f < 1)) throw new RangeError(`holdout fraction ${f} must be in (0, 1)`);
    cut = total - Math.round(total * f);
  } else if ("lastRows" in holdout) {
    const n = holdout.lastRows;
    if (!Number.isSafeInteger(n) || n < 1 || n >= total) throw new RangeError(`holdout of ${n} rows must be an integer in [1, ${total - 1}] for ${where(file)} (${total} rows)`);
    cut = total - n;
  } else {
    cut = firstOfLastDay;
  }
  if (cut <= 0 || cut >= total) throw new RangeError(`${where(file)}: the holdout leaves ${cut} training and ${total - cut} test rows`);
  return { total, train: { start: 0, end: cut }, test: { start: cut, end: total } };
}

/** The file, or the first and how many more, for a message. */
function where(file: DataFile): string {
  return file.paths.length > 1 ? `${file.path} and ${file.paths.length - 1} more files` : file.path;
}
