/**
 * The clock of `hour` fields: hour index h (from 0) is the YYMMDDHH stamp h
 * hours after the start, in UTC (Avazu's `hour` column). Rows advance it, so
 * a file's rows are in time order and a later file continues the clock.
 */

const HOUR_MS = 3_600_000;
/** Stamps stay two-digit-year: at most this many hours after 2000-01-01. */
const LAST_MS = Date.UTC(2099, 11, 31, 23);

export class HourClock {
  private readonly startMs: number;
  private cachedHour = -1;
  private cached = new Uint8Array(8);

  /** @param start YYMMDDHH of hour 0 (years 2000-2099). */
  constructor(readonly start: string) {
    const ms = parseStamp(start);
    if (ms === undefined) throw new RangeError(`hour clock: start ${JSON.stringify(start)} is not a valid YYMMDDHH`);
    this.startMs = ms;
  }

  /** The stamp of hour h as 8 ASCII bytes (the same array until h changes). */
  bytes(h: number): Uint8Array {
    if (h !== this.cachedHour) {
      this.cached = new TextEncoder().encode(this.text(h));
      this.cachedHour = h;
    }
    return this.cached;
  }

  /** The stamp of hour h. */
  text(h: number): string {
    const ms = this.startMs + h * HOUR_MS;
    if (!(h >= 0) || ms > LAST_MS) throw new RangeError(`hour clock: hour ${h} after ${this.start} is past 2099`);
    const d = new Date(ms);
    const two = (v: number): string => String(v).padStart(2, "0");
    return two(d.getUTCFullYear() - 2000) + two(d.getUTCMonth() + 1) + two(d.getUTCDate()) + two(d.getUTCHours());
  }

  /** The hour index of a stamp, or -1 when it is not a stamp at or after the start. */
  index(stamp: string): number {
    const ms = parseStamp(stamp);
    if (ms === undefined || ms < this.startMs) return -1;
    return (ms - this.startMs) / HOUR_MS;
  }
}

/** Milliseconds of a YYMMDDHH stamp, undefined when it is not a real date and hour. */
function parseStamp(s: string): number | undefined {
  if (!/^\d{8}$/.test(s)) return undefined;
  const yy = Number(s.slice(0, 2)), mm = Number(s.slice(2, 4)), dd = Number(s.slice(4, 6)), hh = Number(s.slice(6, 8));
  const ms = Date.UTC(2000 + yy, mm - 1, dd, hh);
  const d = new Date(ms);
  if (d.getUTCMonth() !== mm - 1 || d.getUTCDate() !== dd || hh > 23) return undefined;
  return ms;
}
