// Atomic file writes (a reader sees the old file or the whole new one), synchronous
// or on the thread pool, with the crash-safety tests' injected faults (./faults.ts).
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { faults, sleepSync } from "./faults.js";

let writes = 0;

/** Temporary files of {@link writeFileAtomic} start with this (a crash can leave one behind). */
export const TMP_PREFIX = ".sparsectr-";

/** One piece of a write (the bytes written come back: a write may take fewer), or the injected pause. */
type Step = { chunk: Uint8Array; off: number; len: number } | "pause";

/**
 * An atomic write's plan, for the synchronous and the asynchronous writer
 * alike: its temporary file, and the pieces to write in order, with the
 * faults injected for the crash-safety tests (io/faults.ts: the pause after
 * half the bytes, a full disk after some bytes of the N-th write).
 */
function plan(path: string, data: Uint8Array | readonly Uint8Array[]): { tmp: string; steps: Generator<Step, void, number> } {
  const chunks = data instanceof Uint8Array ? [data] : data;
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const f = faults(), call = ++writes;
  const failAt = f.failWrite?.call === call ? f.failWrite.afterBytes : Infinity;
  const tmp = join(dirname(path), `${TMP_PREFIX}${basename(path)}.${process.pid}.${call}.${Date.now()}.tmp`);
  function* steps(): Generator<Step, void, number> {
    let written = 0, paused = f.writePauseMs === 0;
    const half = Math.ceil(total / 2);
    for (const chunk of chunks) {
      let off = 0;
      while (off < chunk.length) {
        if (!paused && written >= half) { yield "pause"; paused = true; }
        if (written >= failAt) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${tmp}' (injected by SPARSECTR_FAULTS)`), { code: "ENOSPC" });
        const limit = Math.min(failAt, paused ? Infinity : half);
        const k = yield { chunk, off, len: Math.min(chunk.length - off, limit - written) };
        off += k;
        written += k;
      }
    }
  }
  return { tmp, steps: steps() };
}

/**
 * Writes bytes (one array, or chunks written in order) to path so that a
 * reader sees either the old file or the whole new one: a temporary file in
 * the same folder, fsync, rename, fsync of the folder. On failure (a full
 * disk, say) the temporary file is removed, the old file is intact, and the
 * error is thrown.
 */
export function writeFileAtomic(path: string, data: Uint8Array | readonly Uint8Array[]): void {
  const { tmp, steps } = plan(path, data);
  let fd = -1;
  try {
    fd = openSync(tmp, "w", 0o644);
    for (let s = steps.next(); !s.done; ) {
      if (s.value === "pause") { sleepSync(faults().writePauseMs); s = steps.next(); continue; }
      s = steps.next(writeSync(fd, s.value.chunk, s.value.off, s.value.len));
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  const dfd = openSync(dirname(path), "r");
  try { fsyncSync(dfd); } finally { closeSync(dfd); }
}

/**
 * {@link writeFileAtomic} on the thread pool: the caller's thread goes on
 * while the bytes are written and synced. The bytes must not change until
 * the promise settles.
 */
export async function writeFileAtomicAsync(path: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
  const { tmp, steps } = plan(path, data);
  const fh = await open(tmp, "w", 0o644);
  let open_ = true;
  try {
    for (let s = steps.next(); !s.done; ) {
      if (s.value === "pause") { await new Promise((r) => setTimeout(r, faults().writePauseMs)); s = steps.next(); continue; }
      s = steps.next((await fh.write(s.value.chunk, s.value.off, s.value.len)).bytesWritten);
    }
    await fh.sync();
    open_ = false;
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    if (open_) await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const dir = await open(dirname(path), "r");
  try { await dir.sync(); } finally { await dir.close(); }
}
