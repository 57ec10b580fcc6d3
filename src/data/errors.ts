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

/** Thrown by a row parser; the reader adds file and line. */
export class RowError extends Error {
  constructor(readonly column: string | number | undefined, readonly reason: string) {
    super(reason);
  }
}
