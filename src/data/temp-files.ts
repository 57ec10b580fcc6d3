// Temporary files of this process (a spooled standard input, inflated copies
// of gzip files): each is removed when the process exits (normally, on an
// error, or on SIGINT, SIGTERM or SIGHUP), unless its keepIf says to keep it.
import { unlinkSync } from "node:fs";
import { constants } from "node:os";

/** A file of this process, and its temporary name while it is written; removed at exit unless `keepIf` says to keep it. */
export class TempFile {
  /** Asked at exit: true keeps the file (e.g. for a run to resume), with `keptMessage` on standard error. */
  keepIf?: () => boolean;

  /** Tracks the file from now on (create it after this, at `tmp`, then rename it to `path`). */
  constructor(readonly path: string, readonly tmp: string, readonly keptMessage = `kept ${path}`) {
    track(this);
  }

  /** Removes the file now (either name, if it is there) and forgets it. */
  remove(): void {
    unlinkQuiet(this.tmp);
    unlinkQuiet(this.path);
    untrack(this);
  }

  /** Forgets the file without removing it (it is kept at exit). */
  forget(): void {
    untrack(this);
  }
}

/** The tracked file at `path`, if any. */
export function trackedAt(path: string): TempFile | undefined {
  for (const s of live) if (s.path === path) return s;
  return undefined;
}

const live = new Set<TempFile>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

export function unlinkQuiet(path: string): void {
  try { unlinkSync(path); } catch { /* gone already */ }
}

/** At exit: each live file removed, or kept as its keepIf says. */
function atExit(): void {
  for (const s of live) {
    unlinkQuiet(s.tmp);
    let keep = false;
    try { keep = s.keepIf?.() === true; } catch { /* keep nothing we cannot vouch for */ }
    if (keep) process.stderr.write(`${s.keptMessage}\n`);
    else unlinkQuiet(s.path);
  }
  live.clear();
}

/**
 * A signal that would end the process: when nobody else listens (someone who
 * does, e.g. a run that stops at a checkpoint, ends the process itself), the
 * files are settled and the process exits as the signal would (128 + its
 * number).
 */
function onSignal(sig: NodeJS.Signals): void {
  if (process.listenerCount(sig) > 1) return;
  atExit();
  process.exit(128 + constants.signals[sig]);
}

function track(s: TempFile): void {
  if (live.size === 0) {
    process.on("exit", atExit);
    for (const sig of SIGNALS) process.on(sig, onSignal);
  }
  live.add(s);
}

function untrack(s: TempFile): void {
  if (!live.delete(s)) return;
  if (live.size === 0) {
    process.off("exit", atExit);
    for (const sig of SIGNALS) process.off(sig, onSignal);
  }
}
