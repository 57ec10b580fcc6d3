/**
 * The coordinator's record of its worker threads' messages (./parallel.ts):
 * parked workers (and their dense states), workers at the end of their
 * part, finished workers, the scores of an evaluation's shares, the first
 * failure; and waiting until a condition on them holds.
 */
import type { Worker } from "node:worker_threads";
import type { DataErrorFields } from "../data/errors.js";
import type { ScoredShare } from "./score-share.js";
import type { WorkerMessage } from "./parallel-protocol.js";

export class WorkerEvents {
  /** Workers parked since the last release, and of them those at the end of their part (async updates). */
  parked = 0;
  ended = 0;
  /** Workers finished. */
  done = 0;
  /** The first failure: a worker's error, a thread's exit, or a skipped row's report that threw. */
  failure: Error | undefined;
  /** Each parked worker's dense states (its rows of them; with async updates worker 0's whole replica). */
  readonly denseStates: (Uint8Array[] | undefined)[];
  /** Each worker's scores of its share of an evaluation's rows (./parallel-score.ts). */
  readonly scored: (ScoredShare | undefined)[];
  private wake: (() => void) | undefined;
  private readonly listening: (() => void)[] = [];

  /** Listens to `threads`; a skipped row's report goes to `onSkip` (a throw fails the run). */
  constructor(threads: readonly Worker[], onSkip: (error: DataErrorFields) => void) {
    const N = threads.length;
    this.denseStates = new Array<Uint8Array[] | undefined>(N).fill(undefined);
    this.scored = new Array<ScoredShare | undefined>(N).fill(undefined);
    const event = (): void => { this.wake?.(); };
    for (const t of threads) {
      const onMessage = (msg: WorkerMessage): void => {
        if (msg.kind === "parked") {
          this.parked++;
          if (msg.end === true) this.ended++;
          if (msg.dense) this.denseStates[msg.worker] = msg.dense;
        } else if (msg.kind === "done") {
          this.done++;
        } else if (msg.kind === "scores") {
          this.scored[msg.worker] = msg;
        } else if (msg.kind === "skip") {
          try {
            onSkip(msg.error);
          } catch (e) {
            this.failure ??= e as Error;
          }
        } else {
          this.failure ??= Object.assign(new Error(msg.message), { stack: msg.stack });
        }
        event();
      };
      const onError = (e: Error): void => { this.failure ??= e; event(); };
      const onExit = (code: number): void => { if (code !== 0) this.failure ??= new Error(`a training worker thread exited with code ${code}`); event(); };
      t.on("message", onMessage);
      t.on("error", onError);
      t.on("exit", onExit);
      this.listening.push(() => { t.off("message", onMessage); t.off("error", onError); t.off("exit", onExit); });
    }
  }

  /** Stops listening to the threads (before they go back to their pool). */
  detach(): void {
    for (const off of this.listening.splice(0)) off();
  }

  /** The workers released: their parks and dense states forgotten. */
  released(): void {
    this.parked = 0;
    this.ended = 0;
    this.denseStates.fill(undefined);
  }

  /** Resolves once `ok()` holds (checked at each message, and every 100 ms); rejects with the first failure. */
  async until(ok: () => boolean): Promise<void> {
    while (!ok()) {
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, 100); });
    }
    if (this.failure) throw this.failure;
  }
}
