/**
 * Checkpoints of a cluster run: the barrier at which every worker has
 * pushed its changes and recorded its position (CheckpointBarrier), and the
 * restore of a checkpoint into a new generation of the run's keys
 * (restoreRun), from which each worker continues as a rejoining one.
 *
 * A checkpoint is rank 0's: at its checkpoint period it asks for one in the
 * store; each worker sees the request at its next synchronisation, pushes
 * its changes (waiting for the merge), records its position and its
 * admission counts, and waits; once every worker is there (or has
 * finished), rank 0 takes the store's whole model, writes it with every
 * position and admission count (../train/checkpoint.ts), and lets them go on,
 * or stops them all (rank 0 stopped by Ctrl-C: the run is paused, and
 * `--resume` continues it). An evaluation (early stopping on validation
 * rows) is taken at the same kind of barrier: rank 0 evaluates the store's
 * whole model there and lets the workers go on, or ends the run (each
 * worker then finishes as if its part were done).
 */
import type { CtrModel } from "../train/model.js";
import type { ClusterRecord } from "../train/checkpoint.js";
import type { TrainPosition } from "../train/trainer.js";
import type { SparseTable } from "../optim/table.js";
import type { ClusterStore } from "./store.js";
import type { RunState } from "./run-state.js";
import type { ClusterSync } from "./sync.js";

/** Writes a checkpoint of the whole run: rank 0's position, the run's record and every rank's admission counts; the model is the store's whole model. */
export type WriteClusterCheckpoint = (position: TrainPosition, record: ClusterRecord, rankAdmissions: Uint8Array[]) => void;

/** A table's rows as ids and records (the bytes of each row's header, weights and moments). */
export function tableRecords(t: SparseTable): { ids: BigUint64Array; records: Uint8Array } {
  const rows = t.mutate();
  return { ids: rows.ids(), records: rows.records(0, rows.size) };
}

/**
 * Rank 0: writes a checkpoint's state into the run's present (new)
 * generation: `m` (the checkpoint's model: the store's whole model then)
 * as the rows and dense parameters, the step count, every worker's
 * position, the finished ranks and every rank's admission counts.
 */
export async function restoreRun(store: ClusterStore, state: RunState, m: CtrModel, record: ClusterRecord, rankAdmissions: readonly Uint8Array[]): Promise<void> {
  const tables = m.tables as SparseTable[];
  for (let i = 0; i < tables.length; i++) {
    const { ids, records } = tableRecords(tables[i]);
    await store.writeRows(i, tables[i].rowLength, ids, records);
  }
  for (let i = 0; i < m.dense.length; i++) await store.writeDense(i, m.dense[i].mergeable());
  await store.setSteps(record.steps);
  await state.restorePositions(record.positions, record.done);
  for (let r = 0; r < rankAdmissions.length; r++) await state.saveAdmission(r, rankAdmissions[r]);
  await state.restoreCheckpointNumber(record.checkpoint);
}

/**
 * One worker's side of the run's barriers: checkpoints and evaluations.
 * Rank 0 calls {@link due} when its checkpoint period has passed and
 * {@link evaluationDue} when an evaluation is; every worker calls
 * {@link step} at each of its synchronisation points, which runs the
 * barrier when one is due or asked for. An evaluation's barrier stays open
 * on rank 0 (the whole model pulled) until {@link release} says whether the
 * run goes on or ends there.
 */
export class CheckpointBarrier {
  /** The last barrier this worker took part in (or that was passed before it joined). */
  private handled = 0;
  private requested = 0;
  private checkpointDue = false;
  private evaluateDue = false;
  private stopAfter = false;
  /** Set once the run stopped at a checkpoint (rank 0 was asked to stop): the worker stops too. */
  stopped = false;
  /** Set once the run ended at an evaluation (stopped early): the worker finishes as if its part were done. */
  ended = false;
  /** Rank 0: the evaluation barrier it holds open, with every worker's recorded position (JSON by rank) and the checkpoint due there, until release. */
  open: { k: number; positions: Record<string, string>; write: (() => void) | undefined } | undefined;
  private asking: Promise<void> | undefined;
  private failed: unknown;

  constructor(
    private readonly state: RunState, private readonly sync: ClusterSync, private readonly m: CtrModel,
    private readonly o: { rank: number; workers: number; record: Omit<ClusterRecord, "checkpoint" | "steps" | "positions" | "done">; write?: WriteClusterCheckpoint },
  ) {}

  /** Takes the run's barrier numbers (at the worker's start), and whether it has ended. */
  async init(): Promise<void> {
    const c = await this.state.checkpoints();
    // A barrier asked for but not passed yet waits for this worker too.
    this.handled = c.written;
    this.requested = c.requested;
    this.ended = c.ended;
  }

  /** Rank 0: a checkpoint is due (taken at the next step); with `stop`, every worker stops after it. */
  due(stop = false): void {
    if (this.o.rank !== 0 || !this.o.write) return;
    this.checkpointDue = true;
    if (stop) this.stopAfter = true;
  }

  /** Rank 0: an evaluation is due (at the next step's barrier, the whole model pulled). */
  evaluationDue(): void {
    if (this.o.rank === 0) this.evaluateDue = true;
  }

  /** Ranks above 0: looks for a request in the background (at each synchronisation). */
  ask(): void {
    if (this.o.rank === 0 || this.asking) return;
    this.asking = this.state.checkpoints().then((c) => {
      this.requested = Math.max(this.requested, c.requested);
      this.asking = undefined;
    }, (e: unknown) => { this.failed = e ?? new Error("reading the checkpoint request failed"); });
  }

  /** Whether {@link step} would run a barrier now (a checkpoint or an evaluation due on rank 0, or asked for), or has a failure to report. */
  get pending(): boolean {
    return this.failed !== undefined || (this.o.rank === 0 ? this.checkpointDue || this.evaluateDue : this.requested > this.handled);
  }

  /**
   * Runs the barrier when one is due (rank 0) or asked for: pushes this
   * worker's changes and waits for the merge (`flush`, which also records
   * the position), then waits for rank 0 to pass it; rank 0 takes the
   * store's whole model, writes the checkpoint when one is due and, for an
   * evaluation, leaves the barrier {@link open}. Returns true when it ran.
   */
  async step(pos: TrainPosition, flush: (pos: TrainPosition) => Promise<void>): Promise<boolean> {
    if (this.failed !== undefined) throw this.failed;
    const k = this.o.rank === 0 ? (this.checkpointDue || this.evaluateDue ? this.handled + 1 : 0) : (this.requested > this.handled ? this.requested : 0);
    if (k === 0) return false;
    const writing = this.checkpointDue, evaluating = this.evaluateDue;
    this.checkpointDue = this.evaluateDue = false;
    if (this.o.rank === 0) await this.state.requestCheckpoint(k);
    await flush(pos);
    await this.state.atBarrier(k, this.o.rank, this.m.admission?.save());
    if (this.o.rank === 0) {
      await this.state.awaitBarrier(k, this.o.workers);
      // Every worker's changes are in: the store's whole model is the run's at this barrier.
      await this.sync.pull();
      const [positions, done, rankAdmissions] = await Promise.all([this.state.positions(), this.state.finished(), this.state.admissions(this.o.workers)]);
      const write = writing ? (): void => {
        const record: ClusterRecord = {
          ...this.o.record, checkpoint: k, steps: this.m.tables[0]?.stepCount ?? 0,
          positions: Array.from({ length: this.o.workers }, (_, r) => positions[String(r)] ?? null), done,
        };
        this.o.write!({ ...pos }, record, rankAdmissions);
      } : undefined;
      this.handled = k;
      if (evaluating && !this.stopAfter) {
        // A checkpoint due at the same barrier is written after the evaluation (it keeps it).
        this.open = { k, positions, write };
        return true;
      }
      write?.();
      await this.state.checkpointWritten(k, this.stopAfter);
      this.stopped = this.stopAfter;
    } else {
      const r = await this.state.awaitWritten(k, this.o.rank);
      this.stopped = r.stop;
      this.ended = r.end;
      this.handled = k;
    }
    return true;
  }

  /** Rank 0: passes the open evaluation barrier (its checkpoint written, if one was due); with `end` the run ends there (every worker finishes). */
  async release(end: boolean): Promise<void> {
    const open = this.open;
    if (open === undefined) return;
    this.open = undefined;
    open.write?.();
    await this.state.checkpointWritten(open.k, false, end);
    this.ended = end;
  }
}
