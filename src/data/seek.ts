// Seek points: byte offsets of rows in a DataFile's plain files, found in one
// scan, so that a pass over a row range can start reading near its start.
import { open, stat } from "node:fs/promises";
import { lineBlocks, type LineBlock } from "./lines.js";
import { fileChunks, isGzip } from "./source.js";
import { isStdin } from "./stdin.js";
import type { DataFile, SeekPoint } from "./types.js";

export type { SeekPoint } from "./types.js";

/** Rows between two seek points of a file by default. */
export const DEFAULT_SEEK_EVERY = 65536;

/**
 * The seek points of a DataFile's files, from one scan that splits lines
 * without parsing them (as a pass splits them: quoted csv fields may hold
 * newlines): in each plain file, a point at its first data row and then at
 * every `every`-th data row of that file, in row order. A gzip file has no
 * points (it cannot be read from an offset) but its rows are counted; the
 * scan stops at standard input ("-"), which it must not consume: the points
 * are those of the files before it. Row indices are those of a pass's range
 * (headers excluded, malformed and empty lines counted); give the points
 * as ReadOptions.seek to files opened the same way.
 */
export async function seekPoints(file: DataFile, every = DEFAULT_SEEK_EVERY): Promise<SeekPoint[]> {
  if (!Number.isSafeInteger(every) || every < 1) throw new RangeError(`seek points every ${every} rows: it must be an integer >= 1`);
  const key = await identity(file, every);
  if (key !== undefined && remembered?.key === key) return remembered.points.map((p) => ({ ...p }));
  const quote = file.format === "csv", seek = new SeekCollector(every);
  for (let part = 0; part < file.paths.length; part++) {
    const path = file.paths[part], header = file.headers[part];
    if (isStdin(path)) break;
    seek.file(part, !(await isGzip(path)));
    for await (const blk of lineBlocks(fileChunks(path), quote, path)) {
      for (let k = header && blk.firstLine === 1 ? 1 : 0; k < blk.count; k++) seek.add(blk, k);
    }
  }
  await rememberSeekPoints(file, seek);
  return seek.points;
}

/**
 * The seek points of a scan that splits a DataFile's lines (seekPoints, or
 * a counting pass over the same files, data/split.ts, which then spares the
 * data-parallel trainer a second scan): give it each file in order, then
 * each of the file's data rows.
 */
export class SeekCollector {
  readonly points: SeekPoint[] = [];
  private row = 0;
  private local = 0;
  private next = 0;
  private part = 0;

  constructor(readonly every = DEFAULT_SEEK_EVERY) {}

  /** The next file, `part` of the DataFile's paths (plain: it can be entered at an offset; a gzip file's rows are counted, without points). */
  file(part: number, plain: boolean): void {
    this.row += this.local;
    this.local = 0;
    this.next = plain ? 0 : Infinity;
    this.part = part;
  }

  /** The file's next data row: line k of the block. */
  add(blk: LineBlock, k: number): void {
    if (this.local === this.next) {
      this.points.push({ row: this.row + this.local, part: this.part, byte: blk.offset + blk.starts[k], line: blk.firstLine + k });
      this.next += this.every;
    }
    this.local++;
  }
}

/** The points of the files last scanned, by their identity (one entry: a run scans one training file). */
let remembered: { key: string; points: SeekPoint[] } | undefined;

/** Keeps the points a scan of `file` collected, for seekPoints of the same files (unchanged: path, size, modification time, inode). */
export async function rememberSeekPoints(file: DataFile, seek: SeekCollector): Promise<void> {
  const key = await identity(file, seek.every);
  if (key !== undefined) remembered = { key, points: seek.points.map((p) => ({ ...p })) };
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
 * in a file that can be read from an offset (not gzip, not standard input);
 * undefined when there is none.
 */
export async function bestSeekPoint(points: readonly SeekPoint[], start: number, paths: readonly string[]): Promise<SeekPoint | undefined> {
  const order = points.filter((p) => p.row <= start).sort((a, b) => b.row - a.row || b.part - a.part);
  const plain = new Map<number, boolean>();
  for (const p of order) {
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
 * points, start 0, or no point fits). Points that are not plain data of the
 * right shape are a TypeError; a point that cannot start a line of its file
 * (the byte before it is not a newline, it is past the file's end, or it
 * names a header line) is an error: points of another or a changed file.
 */
export async function seekStart(points: readonly SeekPoint[] | undefined, start: number, file: Pick<DataFile, "paths" | "headers">): Promise<SeekPoint | undefined> {
  if (points === undefined || start <= 0) return undefined;
  if (!Array.isArray(points)) throw new TypeError("seek must be an array of seek points");
  for (const p of points) checkShape(p, file.paths.length);
  const p = await bestSeekPoint(points, start, file.paths);
  if (p === undefined) return undefined;
  const path = file.paths[p.part];
  const bad = (why: string): Error => new Error(`${path}: the seek point of row ${p.row} (byte ${p.byte}, line ${p.line}) ${why}: the points are not those of these files as they are now`);
  if (p.line === 1 && file.headers[p.part]) throw bad("is the header line");
  if (p.byte === 0) return p;
  const fh = await open(path, "r");
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, p.byte - 1);
    if (bytesRead < 2) throw bad("is past the end of the file");
    if (b[0] !== 10) throw bad("does not start a line");
  } finally {
    await fh.close();
  }
  return p;
}

/** Refuses a seek point that is not a row, part, byte and line of the right ranges. */
function checkShape(p: SeekPoint, parts: number): void {
  const count = (v: unknown, min: number): boolean => typeof v === "number" && Number.isSafeInteger(v) && v >= min;
  if (typeof p !== "object" || p === null || !count(p.row, 0) || !count(p.part, 0) || p.part >= parts || !count(p.byte, 0) || !count(p.line, 1) || (p.byte === 0) !== (p.line === 1)) {
    let shown: string;
    try { shown = JSON.stringify(p) ?? String(p); } catch { shown = String(p); }
    throw new TypeError(`not a seek point of ${parts} file${parts > 1 ? "s" : ""}: ${shown} (row, part, byte and line: integers, line 1 at byte 0 only)`);
  }
}
