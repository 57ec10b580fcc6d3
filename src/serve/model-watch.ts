// The model being served and its reloads: load the file whole, then swap the
// reference; reloads run one at a time, on request (SIGHUP) or when the file
// changes (a watch on its folder, debounced, and a slow re-stat as backstop).
import { watch, type FSWatcher } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { identity, ModelLoadError, type ServedModel } from "./served-model.js";

/** What a reload did: a new model, the same bytes again, or a failure that kept the old model. */
export interface ReloadEvent {
  result: "loaded" | "unchanged" | "failed";
  /** What asked for it ("SIGHUP", "file changed", ...). */
  reason: string;
  /** The model served after it. */
  model: ServedModel;
  error?: string;
  seconds: number;
}

export interface WatchOptions {
  /** Quiet time after the last change event before reloading (ms). */
  debounceMs: number;
  /** Period of the re-stat that catches changes the watch missed (ms; 0: none). */
  pollMs: number;
}

/**
 * Holds the served model. `current` always points to a fully loaded model;
 * a request takes it once and scores with it to the end, so a swap never
 * changes a request's model. A failed load keeps the old one. The listener
 * hears of each reload in the same tick as the swap.
 */
export class ModelHolder {
  private running: Promise<ReloadEvent> | undefined;
  private queued: Promise<ReloadEvent> | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  /** The identity of the file last read (loaded or not): a re-stat that differs means a new file. */
  private seen: string;
  private closed = false;

  constructor(public current: ServedModel, private readonly loader: (path: string) => Promise<ServedModel>, private readonly listener: (e: ReloadEvent) => void) {
    this.seen = identity(current);
  }

  /** Loads the file again; while a load runs, one more is queued (later requests join it). */
  reload(reason: string): Promise<ReloadEvent> {
    if (this.queued) return this.queued;
    if (this.running) {
      this.queued = this.running.then(() => {
        this.queued = undefined;
        return this.start(reason);
      });
      return this.queued;
    }
    return this.start(reason);
  }

  /** Reloads when the file changes: a watch on its folder (the file is replaced by rename), debounced, and a re-stat every pollMs. */
  watch(o: WatchOptions): void {
    const path = this.current.path, name = basename(path);
    try {
      this.watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.soon(o.debounceMs);
      });
      this.watcher.on("error", () => { this.watcher?.close(); this.watcher = undefined; });
    } catch {
      this.watcher = undefined; // the re-stat alone
    }
    if (o.pollMs > 0) {
      this.poll = setInterval(() => { void this.check(); }, o.pollMs);
      this.poll.unref();
    }
  }

  /** Stops watching; a load under way completes. */
  close(): void {
    this.closed = true;
    this.watcher?.close();
    clearTimeout(this.timer);
    clearInterval(this.poll);
  }

  private soon(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { void this.check(); }, ms);
    this.timer.unref();
  }

  /** Reloads when the file is not the one last read (another inode, mtime or size). */
  private async check(): Promise<void> {
    if (this.running) await this.running;
    if (this.closed) return;
    const st = await stat(this.current.path).catch(() => undefined);
    if (st === undefined || this.closed) return; // between unlink and rename: the next event comes
    if (identity({ ino: st.ino, mtimeMs: st.mtimeMs, bytes: st.size }) !== this.seen) await this.reload("file changed");
  }

  private start(reason: string): Promise<ReloadEvent> {
    const p = this.load(reason).finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }

  private async load(reason: string): Promise<ReloadEvent> {
    const t0 = performance.now();
    const old = this.current;
    let e: ReloadEvent;
    try {
      const m = await this.loader(old.path);
      this.seen = identity(m);
      if (m.sha256 === old.sha256) e = { result: "unchanged", reason, model: old, seconds: 0 };
      else {
        this.current = m;
        e = { result: "loaded", reason, model: m, seconds: 0 };
      }
    } catch (err) {
      // The damaged file is not retried; its replacement is another change.
      if (err instanceof ModelLoadError && err.identity) this.seen = err.identity;
      e = { result: "failed", reason, model: old, error: (err as Error).message, seconds: 0 };
    }
    e.seconds = (performance.now() - t0) / 1000;
    this.listener(e);
    return e;
  }
}
