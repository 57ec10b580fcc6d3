// Standard input as data (the path "-"): read once as a stream whose first
// line can be read again (what openData's probes need), or spooled to a file
// that is removed when the process exits.
import { closeSync, fsyncSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { isMainThread } from "node:worker_threads";
import { createGunzip } from "node:zlib";
import { TempFile, trackedAt, unlinkQuiet } from "./temp-files.js";

/** The path that names standard input. */
export const STDIN = "-";

/** The name standard input goes by in messages. */
export const STDIN_NAME = "standard input";

const CHUNK = 1 << 20;
/**
 * The most decoded bytes read ahead to find the end of the first line: one
 * byte more than the longest line the readers take (data/lines.ts), so that a
 * longer first line fails there with its own message.
 */
const HEAD_MAX = (64 << 20) + 1;

/** Whether a data path names standard input. */
export function isStdin(path: string): boolean {
  return path === STDIN;
}

/** The decoded bytes of a stream, plain or gzip (told by its first two bytes), in chunks; errors name `name`. */
export async function* decodedChunks(raw: AsyncIterable<Buffer>, name: string): AsyncGenerator<Buffer> {
  const it = raw[Symbol.asyncIterator]();
  let first: Buffer = Buffer.alloc(0), ended = false;
  try {
    while (first.length < 2) {
      const r = await it.next();
      if (r.done) { ended = true; break; }
      first = first.length ? Buffer.concat([first, r.value]) : r.value;
    }
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
  async function* all(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  const gz = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
  if (!gz) {
    try {
      yield* all();
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
    return;
  }
  const src = Readable.from(all(), { objectMode: false });
  const gunzip = src.pipe(createGunzip({ chunkSize: CHUNK }));
  src.on("error", (e) => gunzip.destroy(e));
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "Z_BUF_ERROR" || err.code === "Z_DATA_ERROR" || /unexpected end/i.test(err.message)) {
      throw new Error(`${name}: the gzip stream is truncated or corrupt (${err.message})`);
    }
    throw new Error(`${name}: ${err.message}`);
  } finally {
    src.destroy();
    gunzip.destroy();
  }
}

/** Standard input being read: its first line (kept), and the rest (read once). */
interface Streamed {
  /** The decoded bytes up to the end of the first line (or all of a shorter input). */
  head: Buffer;
  /** The decoded chunks after the head; null when the head is all. */
  rest: AsyncIterator<Buffer> | null;
  /** Whether a reader has gone past the head (it owns the rest). */
  taken: boolean;
}

let streamed: Promise<Streamed> | undefined;
let spooled = false;

async function readHead(): Promise<Streamed> {
  const it = decodedChunks(process.stdin, STDIN_NAME);
  const parts: Buffer[] = [];
  let n = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) return { head: Buffer.concat(parts), rest: null, taken: false };
    parts.push(r.value);
    n += r.value.length;
    if (r.value.indexOf(10) >= 0 || n >= HEAD_MAX) return { head: Buffer.concat(parts), rest: it, taken: false };
  }
}

/**
 * The decoded bytes of standard input (plain or gzip), in chunks, as
 * data/source.ts gives a file's. The first line can be read any number of
 * times (detection, headers, fields: they stop there); only one reader may
 * go past it, in one streaming pass: a later read is an error. On the main
 * thread only (a reader thread has no standard input of its own).
 */
export async function* stdinChunks(): AsyncGenerator<Buffer> {
  if (!isMainThread) throw new Error(`${STDIN_NAME} (-) is read on the main thread only: do not prefetch it`);
  if (spooled) throw new Error(`${STDIN_NAME} (-) was spooled to a file: read that file`);
  const s = await (streamed ??= readHead());
  const again = (): Error => new Error(`${STDIN_NAME} (-) can be read only once, in one pass: write it to a file to read it again`);
  if (s.taken) throw again();
  if (s.head.length) yield s.head;
  if (s.rest === null) return;
  if (s.taken) throw again();
  s.taken = true;
  for (;;) {
    const r = await s.rest.next();
    if (r.done) return;
    yield r.value;
  }
}

/** Spool files are named sparsectr-stdin-<pid>-<random>.spool. */
const SPOOL_NAME = /^sparsectr-stdin-\d+-[0-9a-f]+\.spool$/;

/** Whether a path is a spooled copy of standard input (by its name). */
export function isSpoolFile(path: string): boolean {
  return SPOOL_NAME.test(basename(path));
}

/** A copy of standard input in a file, removed when the process exits unless `keepIf` says to keep it (data/temp-files.ts). */
export type Spool = Pick<TempFile, "path" | "keepIf" | "remove">;

/**
 * Copies standard input, as it comes (gzip stays gzip: readers detect it), to
 * a new file DIR/sparsectr-stdin-<pid>-<random>.spool (mode 0600), written as
 * a temporary `.sparsectr-...tmp` file, synced and renamed when complete. The
 * file is removed when the process exits (normally, on an error, or on
 * SIGINT, SIGTERM or SIGHUP), unless the spool's keepIf says to keep it.
 */
export async function spoolStdin(dir: string): Promise<Spool> {
  if (streamed !== undefined || spooled) throw new Error(`${STDIN_NAME} (-) can be read only once`);
  spooled = true;
  const name = `sparsectr-stdin-${process.pid}-${randomBytes(6).toString("hex")}.spool`;
  const path = join(dir, name);
  const entry = new TempFile(path, join(dir, `.${name}.tmp`), `kept ${path}, the spooled ${STDIN_NAME} of the unfinished run: resuming it reads that file, and removes it when the run completes`);
  let fd = -1;
  try {
    fd = openSync(entry.tmp, "wx", 0o600);
    for await (const chunk of process.stdin) {
      const b = chunk as Buffer;
      for (let off = 0; off < b.length;) off += writeSync(fd, b, off, b.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(entry.tmp, entry.path);
    // The name is durable too: a run resumed after a power cut finds the file.
    fd = openSync(dir, "r");
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    entry.remove();
    throw new Error(`${STDIN_NAME} (-): cannot spool it to ${entry.path}: ${(e as Error).message}`);
  }
  if (statSync(entry.path).size === 0) {
    entry.remove();
    throw new Error(`${STDIN_NAME} (-) is empty`);
  }
  return entry;
}

/**
 * Removes the spool files among `paths` that lie in `dir` (a run that read
 * standard input into its folder and has completed); files elsewhere, even
 * named as spools, are left alone.
 */
export function removeSpoolFiles(paths: readonly string[], dir: string): void {
  for (const p of paths) {
    if (!isSpoolFile(p) || resolve(dirname(p)) !== resolve(dir)) continue;
    unlinkQuiet(p);
    trackedAt(p)?.forget();
  }
}
