// Avazu CSV rows (with or without the header line) into feature keys.
import { hashKeyUntil } from "../hash.js";
import { RowError } from "../errors.js";
import { hashInt } from "./bucket.js";
import { parseLabel, show, type RowParser } from "./parser.js";

/** The Avazu train/test header, exactly. */
export const AVAZU_HEADER = "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21";
const COLUMNS = AVAZU_HEADER.split(",");
const REST = COLUMNS.slice(3);
const FIELDS = ["hour_of_day", "weekday", ...REST];

/** The YYMMDD day of an Avazu hour value (digits bytes [s, s + 6)), as a number. */
export function avazuDay(buf: Uint8Array, s: number): number {
  let v = 0;
  for (let i = s; i < s + 6; i++) v = v * 10 + (buf[i] - 48);
  return v;
}

/**
 * Avazu CSV, with its header line or without (day files cut from train.csv):
 * `id` dropped, `click` the label, `hour` (YYMMDDHH, 2000s) expanded into
 * hour-of-day and weekday (0 = Sunday) fields, the other 21 columns
 * categorical: 23 key fields. A row's keys do not depend on the header.
 */
export class AvazuParser implements RowParser {
  readonly format = "avazu";
  readonly fields = FIELDS;
  readonly numeric: readonly string[] = [];
  readonly quoted = false;
  private lastDay = -1;
  private lastWeekday = 0;

  /** @param hasHeader whether the file's first line is AVAZU_HEADER (see avazuHasHeader). */
  constructor(readonly hasHeader = true) {}

  header(buf: Uint8Array, s: number, e: number): void {
    const text = new TextDecoder().decode(buf.subarray(s, e));
    if (text !== AVAZU_HEADER) {
      throw new RowError(undefined, `the header is not Avazu's: expected "${AVAZU_HEADER.slice(0, 40)}...", got ${show(buf, s, e)}`);
    }
  }

  parse(buf: Uint8Array, s: number, e: number, keys: Uint32Array, ko: number): number {
    let i = s;
    while (i < e && buf[i] !== 44) i++;
    if (i === e) throw new RowError(2, "row has 1 column, expected 24");
    const a = ++i;
    while (i < e && buf[i] !== 44) i++;
    const label = parseLabel(buf, a, i);
    if (label < 0) throw new RowError("click", `label ${show(buf, a, i)} is not 0 or 1`);
    if (i === e) throw new RowError(3, "row has 2 columns, expected 24");
    const h = ++i;
    while (i < e && buf[i] !== 44) i++;
    if (i - h !== 8 || !allDigits(buf, h, i)) throw new RowError("hour", `${show(buf, h, i)} is not YYMMDDHH`);
    const yy = 2000 + 10 * (buf[h] - 48) + (buf[h + 1] - 48);
    const mm = 10 * (buf[h + 2] - 48) + (buf[h + 3] - 48);
    const dd = 10 * (buf[h + 4] - 48) + (buf[h + 5] - 48);
    const hh = 10 * (buf[h + 6] - 48) + (buf[h + 7] - 48);
    const day = avazuDay(buf, h);
    if (day !== this.lastDay) {
      const date = new Date(Date.UTC(yy, mm - 1, dd));
      if (mm < 1 || mm > 12 || dd < 1 || date.getUTCDate() !== dd) throw new RowError("hour", `${show(buf, h, i)} is not a valid YYMMDDHH`);
      this.lastDay = day;
      this.lastWeekday = date.getUTCDay();
    }
    if (hh > 23) throw new RowError("hour", `${show(buf, h, i)} is not a valid YYMMDDHH`);
    hashInt(0, hh, keys, ko);
    hashInt(1, this.lastWeekday, keys, ko + 2);
    for (let f = 0; f < REST.length; f++) {
      if (i >= e) throw new RowError(f + 4, `row has ${f + 3} columns, expected 24`);
      // Hashed as it is scanned for its end.
      i = hashKeyUntil(f + 2, buf, i + 1, e, 44, keys, ko + 2 * (f + 2));
    }
    if (i < e) throw new RowError(25, "row has more than 24 columns");
    return label;
  }
}

function allDigits(buf: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (buf[i] < 48 || buf[i] > 57) return false;
  return true;
}

/**
 * Whether an Avazu file whose first line is `line` has the header: true for
 * exactly AVAZU_HEADER, false for a data row; a first line that looks like a
 * header (its second column is "click") but is not Avazu's is an error, not
 * a bad first row.
 */
export function avazuHasHeader(line: string): boolean {
  if (line === AVAZU_HEADER) return true;
  if (line.split(",", 3)[1] === "click") throw new RowError(undefined, `the header is not Avazu's: expected "${AVAZU_HEADER.slice(0, 40)}...", got ${JSON.stringify(line.slice(0, 60))}`);
  return false;
}
