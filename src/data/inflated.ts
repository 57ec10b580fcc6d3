// Plain copies of gzip files, written by a scan that inflates them anyway
// (data/seek.ts), so that a pass can enter a gzip file's rows at a seek
// point of its copy instead of inflating the stream from its start.
import { closeSync, openSync, renameSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, join } from "node:path";
import { TempFile } from "./temp-files.js";

/**
 * The inflated bytes of the gzip file `source`, written as they are read to
 * DIR/.sparsectr-inflated-<pid>-<random>-<name>.tmp (mode 0600) and renamed to
 * DIR/sparsectr-inflated-<pid>-<random>-<name> when complete. The copy is a
 * temporary file of the process (data/temp-files.ts): removed at exit, or by
 * `remove`. Not synced: a copy that a crash loses is made again by a scan.
 */
export class InflatedCopy {
  private readonly file: TempFile;
  private fd: number;
  private bytes = 0;

  constructor(readonly source: string, dir: string) {
    const name = `sparsectr-inflated-${process.pid}-${randomBytes(6).toString("hex")}-${basename(source).replace(/[^\w.-]/g, "_")}`;
    this.file = new TempFile(join(dir, name), join(dir, `.${name}.tmp`));
    try {
      this.fd = openSync(this.file.tmp, "wx", 0o600);
    } catch (e) {
      this.file.remove();
      throw this.failed(e);
    }
  }

  /** Where the copy is once complete. */
  get path(): string {
    return this.file.path;
  }

  /** Appends the next inflated bytes of the source. */
  write(chunk: Buffer): void {
    try {
      for (let off = 0; off < chunk.length;) off += writeSync(this.fd, chunk, off, chunk.length - off);
    } catch (e) {
      this.remove();
      throw this.failed(e);
    }
    this.bytes += chunk.length;
  }

  /** The copy complete: closed and renamed to its path. */
  close(): void {
    try {
      closeSync(this.fd);
      this.fd = -1;
      renameSync(this.file.tmp, this.file.path);
    } catch (e) {
      this.remove();
      throw this.failed(e);
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

  private failed(e: unknown): Error {
    return new Error(`${this.source}: cannot write its inflated copy ${this.file.path} (after ${this.bytes} bytes): ${(e as Error).message}; the copy lets data-parallel workers enter the file at its rows (set TMPDIR to a folder with room for the inflated file)`);
  }
}

/** The chunks of `chunks`, each written to `copy` as it passes; the copy is closed at their end and removed if they fail or are left early. */
export async function* copiedChunks(chunks: AsyncIterable<Buffer>, copy: InflatedCopy): AsyncGenerator<Buffer> {
  let complete = false;
  try {
    for await (const c of chunks) {
      copy.write(c);
      yield c;
    }
    copy.close();
    complete = true;
  } finally {
    if (!complete) copy.remove();
  }
}
