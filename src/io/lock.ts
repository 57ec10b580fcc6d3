import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

/** The lock file of an output folder. */
export const LOCK_FILE = "lock";

interface LockInfo { pid: number; host: string; started: string }

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the lock of an output folder so that two runs cannot write one model:
 * DIR/lock is created exclusively with this process's id. A lock left by a
 * process of this machine that no longer runs (a crash, SIGKILL) is taken
 * over; a live one is an error naming its owner. Returns the release
 * function (also run when the process exits).
 */
export function lockDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const me: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      try { writeSync(fd, JSON.stringify(me) + "\n"); } finally { closeSync(fd); }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw lockError(dir, path, e);
      let owner: Partial<LockInfo> = {};
      try { owner = JSON.parse(readFileSync(path, "utf8")) as LockInfo; } catch { /* unreadable: a crash mid-write, treated as stale */ }
      const stale = owner.pid === undefined || (owner.host === me.host && !alive(owner.pid));
      if (!stale) throw new Error(`${dir} is in use by process ${owner.pid} on ${owner.host} (since ${owner.started}); if that run is gone, delete ${path}`);
      try { unlinkSync(path); } catch { /* another process took it over first: the next attempt tells */ }
    }
  }
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off("exit", release);
    try {
      const owner = JSON.parse(readFileSync(path, "utf8")) as LockInfo;
      if (owner.pid === me.pid && owner.host === me.host) unlinkSync(path);
    } catch { /* gone already */ }
  };
  process.on("exit", release);
  return release;
}

function lockError(dir: string, path: string, e: unknown): Error {
  return new Error(`${dir}: cannot take the lock ${path}: ${(e as Error).message}`);
}
