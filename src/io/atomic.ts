import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { faults, sleepSync } from "./faults.js";

let writes = 0;

/**
 * Writes bytes (one array, or chunks written in order) to path so that a
 * reader sees either the old file or the whole new one: a temporary file in
 * the same folder, fsync, rename, fsync of the folder. On failure (a full
 * disk, say) the temporary file is removed, the old file is intact, and the
 * error is thrown.
 */
export function writeFileAtomic(path: string, data: Uint8Array | readonly Uint8Array[]): void {
  const chunks = data instanceof Uint8Array ? [data] : data;
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const f = faults(), call = ++writes;
  const failAt = f.failWrite?.call === call ? f.failWrite.afterBytes : Infinity;
  const dir = dirname(path);
  const tmp = join(dir, `${TMP_PREFIX}${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let fd = -1;
  try {
    fd = openSync(tmp, "w", 0o644);
    let written = 0, paused = f.writePauseMs === 0;
    const half = Math.ceil(total / 2);
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) {
        if (!paused && written >= half) { sleepSync(f.writePauseMs); paused = true; }
        if (written >= failAt) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${tmp}' (injected by SPARSECTR_FAULTS)`), { code: "ENOSPC" });
        const limit = Math.min(failAt, paused ? Infinity : half);
        const k = writeSync(fd, c, off, Math.min(c.length - off, limit - written));
        off += k;
        written += k;
      }
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
  const dfd = openSync(dir, "r");
  try { fsyncSync(dfd); } finally { closeSync(dfd); }
}

/** Temporary files of {@link writeFileAtomic} start with this (a crash can leave one behind). */
export const TMP_PREFIX = ".sparsectr-";
