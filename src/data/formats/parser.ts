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
}

/** Parses a 0/1 label in bytes [s, e); returns -1 when it is not one. */
export function parseLabel(buf: Uint8Array, s: number, e: number): number {
  if (e - s !== 1) return -1;
  const c = buf[s];
  return c === 48 ? 0 : c === 49 ? 1 : -1;
}

const dec = new TextDecoder();

/** Bytes [s, e) as text, shortened for error messages. */
export function show(buf: Uint8Array, s: number, e: number): string {
  const t = dec.decode(buf.subarray(s, Math.min(e, s + 40)));
  return JSON.stringify(e - s > 40 ? t + "..." : t);
}
