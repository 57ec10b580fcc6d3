// Plain copies of gzip files, written by a scan that inflates them anyway
// (data/seek.ts), so that a pass can enter a gzip file's rows at a seek
// point of its copy instead of inflating the stream from its start. A copy
// is an optimisation: one that cannot be written, or would leave its file
// system short of room, is abandoned with a warning and the file is read
// from its stream.
import { closeSync, openSync, renameSync, statfsSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, join } from "node:path";
import { TempFile } from "./temp-files.js";

/**
 * The room a copy must leave free on its file system (`reserve`): 1 GiB, or
 * a tenth of a smaller file system, checked every 64 MiB written; `free` is
 * the bytes available to this process. (An object: a seam for tests.)
 */
export const copyRoom = {
  every: 64 << 20,
  space(dir: string): { free: number; reserve: number } {
    const s = statfsSync(dir);
    return { free: s.bavail * s.bsize, reserve: Math.min(1 << 30, 0.1 * s.blocks * s.bsize) };
  },
};

/**
 * The inflated bytes of the gzip file `source`, written as they are read to
 * DIR/.sparsectr-inflated-<pid>-<random>-<name>.tmp (mode 0600) and renamed to
 * DIR/sparsectr-inflated-<pid>-<random>-<name> when complete. The copy is a
 * temporary file of the process (data/temp-files.ts): removed at exit, or by
 * `remove`. Not synced: a copy that a crash loses is made again by a scan.
 * A copy that cannot be opened or written, or that would leave less than
 * copyRoom.reserve free (checked at the start and every copyRoom.every bytes), is removed
 * and `abandoned` says why; it never throws.
 */
export class InflatedCopy {
  /** Why the copy was abandoned (and removed); undefined while it is written, or once complete. */
  abandoned: string | undefined;
  private readonly file: TempFile;
  private fd = -1;
  private bytes = 0;
  private nextCheck = 0;

  constructor(readonly source: string, readonly dir: string) {
    const name = `sparsectr-inflated-${process.pid}-${randomBytes(6).toString("hex")}-${basename(source).replace(/[^\w.-]/g, "_")}`;
    this.file = new TempFile(join(dir, name), join(dir, `.${name}.tmp`));
    try {
      this.checkRoom();
      if (this.abandoned === undefined) this.fd = openSync(this.file.tmp, "wx", 0o600);
    } catch (e) {
      this.abandon((e as Error).message);
    }
  }

  /** Where the copy is once complete. */
  get path(): string {
    return this.file.path;
  }

  /** Appends the next inflated bytes of the source (nothing once abandoned). */
  write(chunk: Buffer): void {
    if (this.abandoned !== undefined) return;
    try {
      if (this.bytes + chunk.length >= this.nextCheck) this.checkRoom(chunk.length);
      if (this.abandoned !== undefined) return;
      for (let off = 0; off < chunk.length;) off += writeSync(this.fd, chunk, off, chunk.length - off);
      this.bytes += chunk.length;
    } catch (e) {
      this.abandon((e as Error).message);
    }
  }

  /** The copy complete: closed and renamed to its path (nothing once abandoned). */
  close(): void {
    if (this.abandoned !== undefined) return;
    try {
      closeSync(this.fd);
      this.fd = -1;
      renameSync(this.file.tmp, this.file.path);
    } catch (e) {
      this.abandon((e as Error).message);
    }
  }

  /** Removes the copy (complete or not). */
  remove(): void {
    if (this.fd >= 0) {
      try { closeSync(this.fd); } catch { /* closed already */ }
      this.fd = -1;
    }
    this.file.remove();
  }

  /** Abandons the copy unless `more` bytes leave its file system copyRoom.reserve free. */
  private checkRoom(more = 0): void {
    const { free, reserve } = copyRoom.space(this.dir);
    if (free - more < reserve) {
      this.abandon(`${Math.floor(free / (1 << 20))} MiB are free on its file system, and a copy leaves ${Math.ceil(reserve / (1 << 20))} MiB free`);
      return;
    }
    this.nextCheck = this.bytes + copyRoom.every;
  }

  private abandon(why: string): void {
    this.remove();
    this.abandoned = `${this.source}: no inflated copy in ${this.dir} (after ${this.bytes} bytes): ${why}. Data-parallel workers read the gzip stream each instead (slower); set TMPDIR to a folder with room for the inflated file`;
  }
}

/** The chunks of `chunks`, each written to `copy` as it passes; the copy is closed at their end (a scan that fails removes it: data/seek.ts). */
export async function* copiedChunks(chunks: AsyncIterable<Buffer>, copy: InflatedCopy): AsyncGenerator<Buffer> {
  for await (const c of chunks) {
    copy.write(c);
    yield c;
  }
  copy.close();
}
