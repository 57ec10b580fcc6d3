// Seek points: byte offsets of rows in a DataFile's plain files, found in one
// scan, so that a pass over a row range can start reading near its start.
import { open, stat } from "node:fs/promises";
import { lineBlocks, type LineBlock } from "./lines.js";
import { fileChunks, isGzip } from "./source.js";
import { copiedChunks, InflatedCopy } from "./inflated.js";
import { isStdin } from "./stdin.js";
import type { DataFile, SeekPoint } from "./types.js";

export type { SeekPoint } from "./types.js";

/** Rows between two seek points of a file by default. */
export const DEFAULT_SEEK_EVERY = 65536;

/**
 * The seek points of a DataFile's files, from one scan that splits lines
 * without parsing them (as a pass splits them: quoted csv fields may hold
 * newlines): in each plain file, a point at its first data row and then at
 * every `every`-th data row of that file, in row order. A gzip file cannot
 * be read from an offset: with `copyDir`, the scan writes its inflated bytes
 * to a copy in that folder (data/inflated.ts) and its points are in the copy
 * (SeekPoint.inflated); without, it has no points but its rows are counted.
 * The scan stops at standard input ("-"), which it must not consume: the
 * points are those of the files before it. Row indices are those of a
 * pass's range (headers excluded, malformed and empty lines counted); give
 * the points as ReadOptions.seek to files opened the same way.
 */
export async function seekPoints(file: DataFile, every = DEFAULT_SEEK_EVERY, copyDir?: string): Promise<SeekPoint[]> {
  if (!Number.isSafeInteger(every) || every < 1) throw new RangeError(`seek points every ${every} rows: it must be an integer >= 1`);
  const key = await identity(file, every);
  if (key !== undefined && remembered?.key === key && (copyDir === undefined || !remembered.uncopied)) return remembered.points.map((p) => ({ ...p }));
  return scanRows(file, { every, copyDir });
}

/**
 * One scan of a DataFile's files that splits their lines without parsing
 * them, as a pass does, and finds their seek points (seekPoints; with
 * `copyDir`, gzip files copied inflated there), which it remembers for
 * seekPoints of the same files: `row(blk, k)` is called with each data row
 * (headers excluded), in order. Standard input ("-") is read only with a
 * `row` (its rows then counted, without points); without, the scan stops
 * there. A scan that fails removes the copies it made.
 */
export async function scanRows(file: DataFile, o: { every?: number; copyDir?: string; row?: (blk: LineBlock, k: number) => void }): Promise<SeekPoint[]> {
  const quote = file.format === "csv", seek = new SeekCollector(o.every), row = o.row;
  try {
    for (let part = 0; part < file.paths.length; part++) {
      const path = file.paths[part], header = file.headers[part], stdin = isStdin(path);
      if (stdin && row === undefined) break;
      const chunks = stdin ? fileChunks(path) : await seek.file(part, path, o.copyDir);
      for await (const blk of lineBlocks(chunks, quote, path)) {
        for (let k = header && blk.firstLine === 1 ? 1 : 0; k < blk.count; k++) {
          if (!stdin) seek.add(blk, k);
          row?.(blk, k);
        }
      }
    }
  } catch (e) {
    seek.removeCopies();
    throw e;
  }
  await rememberSeekPoints(file, seek);
  return seek.points;
}

/**
 * The seek points of a scan that splits a DataFile's lines (scanRows: for
 * seekPoints, or for a counting pass over the same files, data/split.ts,
 * which then spares the data-parallel trainer a second scan): give it each
 * file in order, then each of the file's data rows.
 */
class SeekCollector {
  readonly points: SeekPoint[] = [];
  /** The inflated copies of the scan's gzip files. */
  readonly copies: InflatedCopy[] = [];
  /** Whether a gzip file was scanned without a copy (it has no points). */
  uncopied = false;
  private row = 0;
  private local = 0;
  private next = 0;
  private part = 0;
  /** The copy being written of the file being scanned. */
  private copy: InflatedCopy | undefined;

  constructor(readonly every = DEFAULT_SEEK_EVERY) {}

  /**
   * The next file, `part` of the DataFile's paths: the decoded bytes to scan.
   * A plain file can be entered at an offset; a gzip file's rows are counted
   * without points, or with `copyDir` its bytes are copied to an inflated
   * copy there as they are read, and its points are in the copy. A copy
   * abandoned (data/inflated.ts) takes its file's points with it, with a
   * process warning (SparsectrWarning) saying why.
   */
  async file(part: number, path: string, copyDir?: string): Promise<AsyncIterable<Buffer>> {
    this.settle();
    this.copy = undefined;
    this.row += this.local;
    this.local = 0;
    this.part = part;
    const gzip = await isGzip(path);
    this.next = gzip && copyDir === undefined ? Infinity : 0;
    if (!gzip) return fileChunks(path);
    if (copyDir === undefined) {
      this.uncopied = true;
      return fileChunks(path);
    }
    this.copy = new InflatedCopy(path, copyDir);
    this.copies.push(this.copy);
    this.settle();
    return this.copy === undefined ? fileChunks(path) : copiedChunks(fileChunks(path), this.copy);
  }

  /** The file's next data row: line k of the block. */
  add(blk: LineBlock, k: number): void {
    if (this.local === this.next) {
      if (this.copy?.abandoned !== undefined) this.settle();
      if (this.local === this.next) {
        const p: SeekPoint = { row: this.row + this.local, part: this.part, byte: blk.offset + blk.starts[k], line: blk.firstLine + k };
        if (this.copy !== undefined) p.inflated = this.copy.path;
        this.points.push(p);
        this.next += this.every;
      }
    }
    this.local++;
  }

  /** The scan is over: a copy abandoned at its end takes its points with it. */
  finish(): void {
    this.settle();
  }

  /** Removes the scan's copies (a scan that failed). */
  removeCopies(): void {
    for (const c of this.copies) c.remove();
  }

  /** A copy abandoned: its points dropped, the rest of its file scanned without points, a warning. */
  private settle(): void {
    const c = this.copy;
    if (c?.abandoned === undefined) return;
    this.copy = undefined;
    this.copies.splice(this.copies.indexOf(c), 1);
    for (let i = this.points.length - 1; i >= 0 && this.points[i].part === this.part; i--) this.points.pop();
    this.next = Infinity;
    this.uncopied = true;
    process.emitWarning(c.abandoned, "SparsectrWarning");
  }
}

/** The points of the files last scanned, by their identity (one entry: a run scans one training file), with the scan's inflated copies. */
let remembered: { key: string; points: SeekPoint[]; copies: InflatedCopy[]; uncopied: boolean } | undefined;

/**
 * Keeps the points a scan of `file` collected, for seekPoints of the same
 * files (unchanged: path, size, modification time, inode). The inflated
 * copies of the points they replace are removed (those of other files).
 */
async function rememberSeekPoints(file: DataFile, seek: SeekCollector): Promise<void> {
  seek.finish();
  const key = await identity(file, seek.every);
  if (key === undefined) {
    seek.removeCopies();
    return;
  }
  forgetSeekPoints();
  remembered = { key, points: seek.points.map((p) => ({ ...p })), copies: seek.copies, uncopied: seek.uncopied };
}

/** Forgets the remembered points and removes their inflated copies now (else they are removed at exit). */
export function forgetSeekPoints(): void {
  for (const c of remembered?.copies ?? []) c.remove();
  remembered = undefined;
}

/** The files as scanned: each path with its size, modification time and inode, the format and headers; undefined with standard input. */
async function identity(file: DataFile, every: number): Promise<string | undefined> {
  if (file.paths.some(isStdin)) return undefined;
  const parts: string[] = [file.format, file.headers.join(","), String(every)];
  for (const p of file.paths) {
    const st = await stat(p);
    parts.push(`${p}\u0000${st.size}\u0000${st.mtimeMs}\u0000${st.ino}`);
  }
  return parts.join("\u0001");
}

/**
 * Of `points`, the one of largest row <= `start` (on a tie, the later file)
 * that can be read from an offset: in a plain file (not gzip, not standard
 * input) or in a gzip file's inflated copy; undefined when there is none.
 */
export async function bestSeekPoint(points: readonly SeekPoint[], start: number, paths: readonly string[]): Promise<SeekPoint | undefined> {
  const order = points.filter((p) => p.row <= start).sort((a, b) => b.row - a.row || b.part - a.part);
  const plain = new Map<number, boolean>();
  for (const p of order) {
    if (p.inflated !== undefined) return p;
    let ok = plain.get(p.part);
    if (ok === undefined) {
      ok = !isStdin(paths[p.part]) && !(await isGzip(paths[p.part]));
      plain.set(p.part, ok);
    }
    if (ok) return p;
  }
  return undefined;
}

/**
 * Where a pass over the rows from `start` begins: the best of `points`
 * (bestSeekPoint), checked, or undefined to read from the beginning (no
 * points, no point fits, or start 0 without inflated copies among the points:
 * a gzip file's copy is read from row 0 too). Points that are not plain data of the
 * right shape are a TypeError; a point that cannot start a line of its file
 * (the byte before it is not a newline, it is past the file's end, or it
 * names a header line) is an error: points of another or a changed file.
 */
export async function seekStart(points: readonly SeekPoint[] | undefined, start: number, file: Pick<DataFile, "paths" | "headers">): Promise<SeekPoint | undefined> {
  if (points === undefined) return undefined;
  if (!Array.isArray(points)) throw new TypeError("seek must be an array of seek points");
  if (start <= 0 && !points.some((p: Partial<SeekPoint> | null) => p?.inflated !== undefined)) return undefined;
  for (const p of points) checkShape(p, file.paths.length);
  const p = await bestSeekPoint(points, start, file.paths);
  if (p === undefined) return undefined;
  const path = file.paths[p.part], at = p.inflated ?? path;
  const inCopy = p.inflated === undefined ? "" : ` of its inflated copy ${p.inflated}`;
  const bad = (why: string): Error => new Error(`${path}: the seek point of row ${p.row} (byte ${p.byte}${inCopy}, line ${p.line}) ${why}: the points are not those of these files as they are now`);
  if (p.line === 1 && file.headers[p.part]) throw bad("is the header line");
  if (p.byte === 0 && p.inflated === undefined) return p;
  let fh;
  try {
    fh = await open(at, "r");
  } catch (e) {
    if (p.inflated === undefined) throw e;
    throw new Error(`${path}: its inflated copy ${p.inflated} cannot be read (${(e as Error).message}): a copy lasts as long as the process that made it, or until forgetSeekPoints`);
  }
  try {
    if (p.byte > 0) {
      const b = Buffer.alloc(2);
      const { bytesRead } = await fh.read(b, 0, 2, p.byte - 1);
      if (bytesRead < 2) throw bad("is past the end of the file");
      if (b[0] !== 10) throw bad("does not start a line");
    }
  } finally {
    await fh.close();
  }
  return p;
}

/** Refuses a seek point that is not a row, part, byte and line of the right ranges. */
function checkShape(p: SeekPoint, parts: number): void {
  const count = (v: unknown, min: number): boolean => typeof v === "number" && Number.isSafeInteger(v) && v >= min;
  if (typeof p !== "object" || p === null || !count(p.row, 0) || !count(p.part, 0) || p.part >= parts || !count(p.byte, 0) || !count(p.line, 1) || (p.byte === 0) !== (p.line === 1) || (p.inflated !== undefined && typeof p.inflated !== "string")) {
    let shown: string;
    try { shown = JSON.stringify(p) ?? String(p); } catch { shown = String(p); }
    throw new TypeError(`not a seek point of ${parts} file${parts > 1 ? "s" : ""}: ${shown} (row, part, byte and line: integers, line 1 at byte 0 only)`);
  }
}
