// The row parser interface, and the label and number tokens parsers share.
import type { RowBag } from "./rowbag.js";

const dec = new TextDecoder();

/**
 * A row parser: turns one line (bytes [s, e) of buf) into a label, the keys of
 * its categorical fields and its numeric values. It throws RowError (column
 * and reason) for a malformed row; the reader adds the file and line.
 */
export interface RowParser {
  readonly format: string;
  /** Names of the key fields, in key order. */
  readonly fields: readonly string[];
  /** Names of the numeric (unbucketed) fields. */
  readonly numeric: readonly string[];
  /** Whether the first line is a header, passed to `header` instead of `parse`. */
  readonly hasHeader: boolean;
  header(buf: Uint8Array, s: number, e: number): void;
  /** Parses a row into keys[ko .. ko + 2 * fields) (u32 pairs) and num[no ..]; returns the label. */
  parse(buf: Uint8Array, s: number, e: number, keys: Uint32Array, ko: number, num: Float32Array, no: number): number;
  /** Whether the parser wants quote-aware line splitting. */
  readonly quoted: boolean;
  /**
   * Parsers that can meet multi-valued fields or feature values other than 1
   * have a bag: when `parse` leaves it `active`, the row's keys are in the bag
   * (not in keys[ko ..]) and the reader takes them and clears `active`.
   */
  readonly bag?: RowBag;
}

/** Parses a 0/1 label in bytes [s, e); returns -1 when it is not one. */
export function parseLabel(buf: Uint8Array, s: number, e: number): number {
  if (e - s !== 1) return -1;
  const c = buf[s];
  return c === 48 ? 0 : c === 49 ? 1 : -1;
}

/**
 * Parses a label that may also be spelled -1/+1 (libsvm, libfm, csv): 0, 1,
 * -1 or +1, each optionally followed by "." and zeros (libfm's -1.0, 1.0,
 * 0.0); -1 becomes 0 and +1 becomes 1. Returns -1 when it is none of these.
 */
export function parseSignedLabel(buf: Uint8Array, s: number, e: number): number {
  if (e - s === 1) return buf[s] === 48 ? 0 : buf[s] === 49 ? 1 : -1;
  let i = s, sign = 0;
  if (i < e && (buf[i] === 43 || buf[i] === 45)) sign = buf[i++] === 45 ? -1 : 1;
  if (i >= e) return -1;
  const c = buf[i++];
  if (c !== 48 && c !== 49) return -1;
  if (sign !== 0 && c === 48) return -1;
  if (i < e) {
    if (buf[i++] !== 46 || i === e) return -1;
    for (; i < e; i++) if (buf[i] !== 48) return -1;
  }
  return sign < 0 ? 0 : c - 48;
}

/**
 * Parses a plain decimal number in bytes [s, e) (digits, an optional sign,
 * point and exponent: no hex, no "Infinity", no spaces, not empty); NaN when
 * it is not one. Out-of-range values give +-Infinity.
 */
export function parseDecimal(buf: Uint8Array, s: number, e: number): number {
  let i = s;
  if (i < e && (buf[i] === 43 || buf[i] === 45)) i++;
  let digits = 0;
  while (i < e && buf[i] >= 48 && buf[i] <= 57) { i++; digits++; }
  if (i < e && buf[i] === 46) {
    i++;
    while (i < e && buf[i] >= 48 && buf[i] <= 57) { i++; digits++; }
  }
  if (digits === 0) return NaN;
  if (i < e && (buf[i] === 101 || buf[i] === 69)) {
    i++;
    if (i < e && (buf[i] === 43 || buf[i] === 45)) i++;
    const d = i;
    while (i < e && buf[i] >= 48 && buf[i] <= 57) i++;
    if (i === d) return NaN;
  }
  if (i !== e) return NaN;
  return Number(dec.decode(buf.subarray(s, e)));
}

/** Bytes [s, e) as text, shortened for error messages. */
export function show(buf: Uint8Array, s: number, e: number): string {
  const t = dec.decode(buf.subarray(s, Math.min(e, s + 40)));
  return JSON.stringify(e - s > 40 ? t + "..." : t);
}
