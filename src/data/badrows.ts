// The bad-row policy of a pass with skipBadRows: record, report and limit
// the skipped rows.
import { DataError } from "./errors.js";
import type { MaxBadRows, ReadStats } from "./types.js";


/** The limit when skipBadRows is on and none is given: 1% of the rows. */
export const DEFAULT_MAX_BAD_ROWS: MaxBadRows = { fraction: 0.01 };
/** Rows read before a fraction limit is checked as the pass goes. */
export const FRACTION_CHECK_ROWS = 1000;
/** Skipped rows' errors kept in ReadStats.firstBad. */
export const MAX_BAD_KEPT = 10;
/** Skipped rows' errors a limit error quotes. */
const QUOTED = 3;

/** Checks a maxBadRows option; throws a RangeError naming what is wrong. */
export function checkMaxBadRows(m: unknown): MaxBadRows {
  const o = m as Record<string, unknown> | null;
  if (o !== null && typeof o === "object" && Object.keys(o).length === 1) {
    if ("count" in o && Number.isSafeInteger(o.count) && (o.count as number) >= 0) return { count: o.count as number };
    if ("fraction" in o && typeof o.fraction === "number" && o.fraction >= 0 && o.fraction <= 1) return { fraction: o.fraction };
  }
  throw new RangeError(`maxBadRows ${JSON.stringify(m) ?? String(m)} must be { count: N } (an integer >= 0) or { fraction: F } (a number in [0, 1])`);
}

/**
 * The skipped rows of one pass: counts them into the pass's stats, keeps the
 * first few errors, calls onSkip for each, and throws a DataError once they
 * pass the limit.
 */
export class BadRows {
  private last: DataError | undefined;

  constructor(private readonly limit: MaxBadRows, private readonly stats: ReadStats, private readonly onSkip?: (e: DataError) => void) {}

  /** A skipped row (after stats.rows counted the rows taken before it). */
  skip(e: DataError): void {
    const st = this.stats;
    st.skipped++;
    if (st.firstBad.length < MAX_BAD_KEPT) st.firstBad.push(e);
    this.last = e;
    this.onSkip?.(e);
    const read = st.rows + st.skipped;
    if ("count" in this.limit ? st.skipped > this.limit.count : read >= FRACTION_CHECK_ROWS && st.skipped > this.limit.fraction * read) this.fail(read);
  }

  /** A row taken (counted in stats.rows): the moment a fraction limit starts to be checked. */
  read(): void {
    const read = this.stats.rows + this.stats.skipped;
    if (read === FRACTION_CHECK_ROWS && this.stats.skipped > 0 && "fraction" in this.limit && this.stats.skipped > this.limit.fraction * read) this.fail(read);
  }

  /** The end of the pass: the fraction limit, whatever the number of rows read. */
  end(): void {
    const read = this.stats.rows + this.stats.skipped;
    if ("fraction" in this.limit && this.stats.skipped > this.limit.fraction * read) this.fail(read);
  }

  private fail(read: number): never {
    const st = this.stats, lim = this.limit;
    const what = "count" in lim ? `${lim.count} rows (maxBadRows { count: ${lim.count} })` : `${+(lim.fraction * 100).toPrecision(6)}% of the rows read (maxBadRows { fraction: ${lim.fraction} })`;
    const first = st.firstBad.slice(0, QUOTED).map((e) => e.message).join("; ");
    const at = this.last!;
    throw new DataError(at.file, at.line, undefined,
      `too many malformed rows: ${st.skipped} of ${read} rows read were skipped, more than the limit of ${what}; the first: ${first}. ` +
      "Fix the data, or raise the limit: --max-bad-rows N (at most N rows) or --max-bad-rows P% (e.g. 5%) on the command line, maxBadRows in ReadOptions");
  }
}
