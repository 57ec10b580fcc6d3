/**
 * A problem in an input file, located by file, line (1-based) and column
 * (1-based field number or a name). Readers throw it for malformed rows unless
 * the user asked to skip and count them.
 */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: string | number | undefined,
    readonly reason: string,
  ) {
    super(`${file}:${line}${column !== undefined ? `: column ${column}` : ""}: ${reason}`);
    this.name = "DataError";
  }
}

/** A DataError's location and reason, as plain data (structured clone keeps only an Error's message). */
export interface DataErrorFields { file: string; line: number; column: string | number | undefined; reason: string }

/** A DataError as plain data, to post to another thread. */
export function dataErrorFields(e: DataError): DataErrorFields {
  return { file: e.file, line: e.line, column: e.column, reason: e.reason };
}

/** The DataError of fields posted by another thread. */
export function dataErrorOf(d: DataErrorFields): DataError {
  return new DataError(d.file, d.line, d.column, d.reason);
}

/** Thrown by a row parser; the reader adds file and line. */
export class RowError extends Error {
  constructor(readonly column: string | number | undefined, readonly reason: string) {
    super(reason);
  }
}
