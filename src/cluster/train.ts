/**
 * Training with the embedding tables in a Redis Cluster (trainCluster): one
 * worker of W, rank R, trains its part of the rows with the deterministic
 * trainer and synchronises with the store every K rows (./sync.ts), training
 * on while each synchronisation is in flight, and records its position once
 * one is applied (a worker started again rejoins from there); at the end
 * every worker pushes its last changes, and rank 0 waits for all of them and
 * takes the whole model from the store. Rank 0 sets each generation of the
 * run up (the others wait for it), takes the run's checkpoints and its
 * evaluations (early stopping) at barriers of every worker, and restores a
 * checkpoint into a new generation (./snapshot.ts).
 */
import type { DataFile } from "../data/types.js";
import type { CtrModel } from "../train/model.js";
import { resolveDenseUpdates, splitRows } from "../train/parallel-plan.js";
import { startPosition, trainModel, type Progress, type TrainControl, type TrainPosition, type TrainResult } from "../train/trainer.js";
import { trainParallel } from "../train/parallel.js";
import { DEFAULT_DENSE_UPDATES, staleSteps, type DenseUpdatesOption } from "../train/parallel-protocol.js";
import type { WorkerPool } from "../train/parallel-pool.js";
import type { ClusterRecord } from "../train/checkpoint.js";
import { Admission } from "../train/admission.js";
import { workerMomentum } from "../train/stale-momentum.js";
import { canonicalJson } from "../util/canonical-json.js";
import { HyperLogLog } from "../util/hyperloglog.js";
import { ClusterStore } from "./store.js";
import { RunState } from "./run-state.js";
import { CheckpointBarrier, restoreRun, type WriteClusterCheckpoint } from "./snapshot.js";
import { ClusterSync, clusterUnsupported, type SyncCounts } from "./sync.js";
import { checkSightingsBytes, DEFAULT_SIGHTINGS_BYTES } from "./sightings.js";

/** Buckets (hash keys) each table's rows are spread over in the cluster. */
export const DEFAULT_BUCKETS = 1024;

/**
 * Training rows between a worker's synchronisations of its tables, by
 * default. bench cluster (2026-12-06, 2-core AMD EPYC, 2 workers, 3 seeds,
 * the same hour; docs/cluster.md): 65,536 rows gave AUC -0.0016, live
 * features -8.6% and 2.09 us of store CPU per sample; 131,072 rows -0.0017,
 * -7.9% and 1.61 us (0.55 rows pushed per sample against 0.77).
 */
export const DEFAULT_SYNC_ROWS = 131_072;

/** Training rows between a worker's synchronisations of its dense layers, by default (one read and one write of each parameter). */
export const DEFAULT_DENSE_SYNC_ROWS = 4_096;

export interface ClusterOptions {
  /** The cluster's nodes, `redis://host:port[,host:port...]`. */
  url: string;
  workers: number;
  rank: number;
  /** Training rows between synchronisations of the tables (rounded up to whole batches). */
  syncEveryRows: number;
  /** Training rows between synchronisations of the dense layers (default DEFAULT_DENSE_SYNC_ROWS; with overlap only). */
  syncDenseEveryRows?: number;
  /** The run's name: its keys in the cluster are sctr:NAME:*. */
  run: string;
  /**
   * Worker threads of this process (default 1: the deterministic trainer):
   * above 1 its part is trained by the data-parallel trainer
   * (../train/parallel.ts), each thread reading its own share of the part,
   * and the synchronisations run while the threads are parked.
   */
  threads?: number;
  /** The threads' dense updates (../train/parallel-protocol.ts; default DEFAULT_DENSE_UPDATES). */
  denseUpdates?: DenseUpdatesOption;
  /** Threads started ahead for them (../train/parallel-pool.ts). */
  pool?: WorkerPool;
  buckets?: number;
  /** Bytes of the run's filter of the features the workers counted (./sightings.ts; default DEFAULT_SIGHTINGS_BYTES, 0: each worker counts alone). */
  sightingsBytes?: number;
  /**
   * Train on while a synchronisation is in flight (default true); false
   * waits for each one (every `syncEveryRows` rows exactly, as the
   * equivalence test wants).
   */
  overlap?: boolean;
  /**
   * Rank 0: writes the run's checkpoints (at `control.checkpointEveryRows`
   * or `checkpointEverySeconds` of rank 0's training, each at a barrier of
   * every worker; the model is then the store's whole model).
   */
  checkpoint?: WriteClusterCheckpoint;
  /**
   * Rank 0: restores the run from a checkpoint (its model is `m`, its record
   * and every rank's admission counts these) into a new generation of the
   * run's keys; the other workers, started again, continue from their
   * positions in it.
   */
  restore?: { record: ClusterRecord; rankAdmissions: readonly Uint8Array[] };
  /**
   * Rank 0: early stopping on validation rows within the run. Every
   * `everyRows` rows of the run (every worker's: rank 0 counts 1/W of them
   * of its own), at a barrier of every worker, rank 0 takes the store's
   * whole model and calls `evaluate` with the run's position (its rows are
   * every worker's); true ends the run there (every worker finishes as if
   * its part were done: TrainResult.earlyStopped), else `keep` is called
   * before training goes on (e.g. to copy the best state: the model is the
   * run's whole model then). No evaluation is made in the last half period
   * of rank 0's rows: the run's last model is evaluated by the caller once
   * every worker has finished.
   */
  evaluation?: { everyRows: number; evaluate: (pos: TrainPosition) => Promise<boolean>; keep: () => void };
}

/** What a cluster worker did beyond training: its exchanges with the store and what they cost. */
export interface ClusterReport extends SyncCounts {
  workers: number;
  rank: number;
  /** This worker's part of the training rows, and the rows it trained in this process (after a rejoin, those after its recorded position). */
  partRows: number;
  trainedRows: number;
  syncEveryRows: number;
  bytesSent: number;
  bytesReceived: number;
  calls: number;
  /** CPU seconds the masters used from this worker's start to its end (every worker's load, not only this one's). */
  storeCpuSeconds: number;
  /**
   * On rank 0: the distinct features every worker saw (a HyperLogLog
   * estimate, standard error 0.81%): the feature rate's denominator for
   * the whole run (the model's own count is rank 0's part).
   */
  features?: number;
  /** Seconds rank 0 waited for the others and took the model from the store. */
  gatherSeconds: number;
  /** Rank 0: CPU seconds the masters used while it took the whole model from the store at the end (a cost per run, not per sample). */
  gatherStoreCpuSeconds?: number;
  /** The run's generation this worker trained in (each restore from a checkpoint starts the next). */
  generation: number;
  /** Barriers this worker took part in: the checkpoints, and on ranks above 0 rank 0's evaluations too. */
  checkpoints: number;
  /** Rank 0: the evaluations it made within the run (ClusterOptions.evaluation). */
  evaluations?: number;
  /** With admission shared: the estimated share of features never counted that the run's filter reports as counted (admitted one sighting early). */
  sightingsFalsePositiveRate?: number;
}

/** Checks the worker count, rank and periods of cluster options (RangeError naming the option). */
export function checkClusterOptions(o: Pick<ClusterOptions, "workers" | "rank" | "syncEveryRows" | "syncDenseEveryRows" | "sightingsBytes" | "threads">): void {
  checkSightingsBytes(o.sightingsBytes ?? DEFAULT_SIGHTINGS_BYTES);
  if (!Number.isInteger(o.workers) || o.workers < 1) throw new RangeError(`--workers ${o.workers}: use a positive integer`);
  if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.workers) throw new RangeError(`--rank ${o.rank}: use an integer from 0 to ${o.workers - 1}`);
  if (o.threads !== undefined && (!Number.isInteger(o.threads) || o.threads < 1)) throw new RangeError(`--threads ${o.threads}: use a positive integer`);
  for (const [flag, v] of [["--sync-every", o.syncEveryRows], ["--sync-dense-every", o.syncDenseEveryRows ?? DEFAULT_DENSE_SYNC_ROWS]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${flag} ${v}: use a positive number of rows`);
  }
}

/**
 * Trains rank `o.rank`'s part of `range` (split in `o.workers` contiguous
 * parts) of `data`. The model's settings must be every worker's (checked
 * against the run's record in the store). Early stopping is rank 0's
 * (`o.evaluation`), not `control.evaluate`. On rank 0 the model ends as the
 * store's merged state; on the others as their last synchronisation left it.
 */
export async function trainCluster(
  m: CtrModel, data: DataFile, range: { start: number; end: number }, o: ClusterOptions,
  onProgress?: (p: Progress) => void, control: TrainControl = {},
): Promise<TrainResult & { cluster: ClusterReport }> {
  checkClusterOptions(o);
  if (control.evaluate) throw new Error("cluster training evaluates at barriers of every worker: give rank 0 ClusterOptions.evaluation, not control.evaluate");
  if (o.evaluation && o.rank > 0) throw new Error(`rank ${o.rank}: only rank 0 evaluates a cluster run (ClusterOptions.evaluation)`);
  if (o.evaluation && !(o.evaluation.everyRows >= 1)) throw new RangeError(`evaluation.everyRows ${o.evaluation.everyRows}: use a positive number of rows`);
  const why = clusterUnsupported(m);
  if (why !== undefined) throw new Error(`cluster training does not support ${why}`);
  const store = await ClusterStore.connect(o.url, o.run, o.buckets ?? DEFAULT_BUCKETS);
  const state = new RunState(store);
  try {
    const sightingsBytes = o.sightingsBytes ?? DEFAULT_SIGHTINGS_BYTES;
    const settings = canonicalJson({ settings: m.settings, range, fields: data.fields, sightingsBytes });
    if (o.rank > 0 && (o.checkpoint || o.restore)) throw new Error(`rank ${o.rank}: only rank 0 writes or restores the checkpoints of a cluster run`);
    if (o.rank === 0) {
      if (o.restore) {
        const r = o.restore.record;
        if (r.workers !== o.workers || r.buckets !== store.buckets) throw new Error(`the checkpoint is of ${r.workers} workers and ${r.buckets} buckets, not ${o.workers} and ${store.buckets}`);
        await state.nextGeneration();
        await restoreRun(store, state, m, r, o.restore.rankAdmissions);
      } else {
        await state.enterRun();
      }
      await state.join(settings, o.workers);
      await state.markReady();
      if (o.restore) {
        await state.dropOtherGenerations();
        if (o.workers > 1) process.stderr.write(`cluster run "${o.run}": checkpoint ${o.restore.record.checkpoint} restored (generation ${store.generation}); start ranks 1 to ${o.workers - 1} again with their commands\n`);
      }
    } else {
      await state.awaitRun(() => process.stderr.write(`rank ${o.rank}: waiting for rank 0 to start cluster run "${o.run}"\n`));
      await state.join(settings, o.workers);
    }
    const cpu0 = await store.cpuSeconds();
    const part = splitRows(range.start, range.end, o.workers)[o.rank];
    const threads = o.threads ?? 1, denseUpdates = resolveDenseUpdates(o.denseUpdates ?? DEFAULT_DENSE_UPDATES, (part.end - part.start) * m.settings.epochs, threads, m.settings.batch);
    // The workers' dense steps miss the others' changes of up to a merge period and the changes add up
    // (./sync.ts): stale steps, whose momentum is compensated as the data-parallel workers' is (the
    // merges decay the moments by the same rate; the model keeps its own for what follows the run).
    // With threads whose steps are stale too (sequential or async), every process's threads count.
    const stale = o.workers * (threads > 1 && staleSteps(denseUpdates) ? threads : 1);
    for (const d of m.dense) d.setStepHyper(workerMomentum(d, stale));
    const sync = new ClusterSync(store, m);
    // A worker that stopped (killed) rejoins from its last synchronisation: the store's model and its position then,
    // with the admission counts of the run's last checkpoint (if any).
    const saved = await state.position(o.rank);
    const start = saved === undefined ? undefined : readPosition(saved, o.rank);
    if (start?.done) throw new Error(`cluster run "${o.run}": rank ${o.rank} has finished its part`);
    if (start) {
      await sync.pull();
      const counts = (await state.admissions(o.workers))[o.rank];
      if (m.admission && counts.length) m.setAdmission(Admission.load(counts, `cluster run "${o.run}": rank ${o.rank}'s admission counts`));
    }
    if (m.admission && sightingsBytes > 0) await sync.shareSightings(m.admission, sightingsBytes);
    const denseEvery = o.syncDenseEveryRows ?? DEFAULT_DENSE_SYNC_ROWS;
    const barrier = new CheckpointBarrier(state, sync, m, {
      rank: o.rank, workers: o.workers, write: o.checkpoint,
      record: { run: o.run, workers: o.workers, buckets: store.buckets, syncEveryRows: o.syncEveryRows, syncDenseEveryRows: denseEvery, sightingsBytes },
    });
    await barrier.init();
    // Each synchronisation runs while the worker trains on (ClusterSync.start);
    // the worker's position is recorded once its merge is applied.
    const overlap = o.overlap ?? true;
    let lastStart = start?.rows ?? 0, lastDense = lastStart, toSave: string | undefined, checkpoints = 0, evaluations = 0;
    // Rank 0's evaluations: every everyRows / W of its own rows, none in the last half period of its rows (the caller evaluates the run's last model).
    const evaluation = o.evaluation, evalEvery = evaluation ? Math.ceil(evaluation.everyRows / o.workers) : Infinity;
    const ownRows = (part.end - part.start) * m.settings.epochs;
    let lastEval = start?.rows ?? 0;
    const evalDue = (rows: number): boolean => evaluation !== undefined && rows - lastEval >= evalEvery && rows + evalEvery / 2 <= ownRows;
    const saveApplied = async (): Promise<void> => {
      if (toSave === undefined) return;
      const at = toSave;
      toSave = undefined;
      await state.savePosition(o.rank, at);
    };
    // Every change pushed and merged, and the position recorded (a checkpoint's barrier, the end).
    const flush = async (pos: TrainPosition): Promise<void> => {
      await sync.settle();
      await saveApplied();
      await sync.sync();
      await state.savePosition(o.rank, JSON.stringify(pos));
      lastStart = lastDense = pos.rows;
    };
    // With threads, run is called with them parked (a pause every syncEveryRows rows, or when due says so).
    const run = async (pos: TrainPosition, whole?: () => void): Promise<boolean> => {
      if (evalDue(pos.rows)) {
        lastEval = pos.rows;
        barrier.evaluationDue();
      }
      // A barrier records this worker's admission counts (the threads' shared counts first); rank 0 evaluates with them.
      if (barrier.pending) whole?.();
      if (await barrier.step(pos, flush)) {
        if (barrier.open) return evaluateOpen(pos);
        checkpoints++;
        return barrier.ended;
      }
      if (!overlap) {
        barrier.ask();
        await flush(pos);
        return false;
      }
      // While a synchronisation is in flight the event loop gets a turn at each
      // step, so that the store's replies are read as they come (the training
      // loop itself may never wait for I/O).
      if (sync.busy) await new Promise((r) => setImmediate(r));
      sync.poll();
      await saveApplied();
      if (!sync.rowsBusy && pos.rows - lastStart >= o.syncEveryRows) {
        lastStart = pos.rows;
        const at = JSON.stringify(pos);
        sync.start(() => { toSave = at; });
        barrier.ask();
      }
      if (!sync.denseBusy && pos.rows - lastDense >= denseEvery) {
        lastDense = pos.rows;
        sync.startDense();
      }
      return false;
    };
    /**
     * Rank 0 at an evaluation's barrier, the store's whole model pulled: the
     * features other workers admitted are admitted here too (so that the
     * evaluation routes them to their rows, as at the end); the evaluation
     * at the run's rows and global step decides whether the run ends.
     */
    const evaluateOpen = async (pos: TrainPosition): Promise<boolean> => {
      const at = barrier.open!;
      admitHeldRows(m);
      evaluations++;
      // The run's rows: this worker's, and every other worker's recorded position.
      let rows = pos.rows;
      for (let r = 1; r < o.workers; r++) {
        const p = at.positions[String(r)];
        if (p !== undefined) rows += readPosition(p, r).rows;
      }
      const end = await evaluation!.evaluate({ ...pos, rows, steps: m.tables[0]?.stepCount ?? pos.steps, parts: undefined });
      // Kept before a checkpoint of the same barrier is written, so that it holds the kept state.
      if (!end) evaluation!.keep();
      await barrier.release(end);
      return end;
    };
    // Rank 0's checkpoints are taken at its next synchronisation point, at a barrier of every worker.
    const checkpoint = o.checkpoint ? (p: TrainPosition): void => { if (!p.done) barrier.due(); } : undefined;
    // Stopped (Ctrl-C), rank 0 with checkpoints pauses the whole run: a last
    // checkpoint, after which every worker stops; without, it stops alone.
    let pausing = false;
    const shouldStop = (): boolean => {
      if (barrier.stopped) return true;
      if (!control.shouldStop?.()) return false;
      if (!o.checkpoint) return true;
      if (!pausing) barrier.due(true);
      pausing = true;
      return false;
    };
    const parallel = threads > 1;
    // The threads park for an exchange when a synchronisation came back, one is due or a barrier waits.
    // A merge that came back is first prepared here, a slice each call, while the threads train on (ClusterSync.prepare).
    const due = (rows: number): boolean => {
      const prepared = sync.prepare();
      return barrier.pending || evalDue(rows) || (sync.landed && prepared) || (!sync.rowsBusy && rows - lastStart >= o.syncEveryRows) || (!sync.denseBusy && rows - lastDense >= denseEvery);
    };
    const ctl: TrainControl = {
      ...control, checkpoint, shouldStop, ...(start ? { start } : {}),
      sync: { everyRows: overlap && !parallel ? 1 : o.syncEveryRows, run, ...(parallel && overlap ? { due } : {}) },
    };
    // A worker (re)joining a run that has ended (stopped early) finishes at once.
    const r = barrier.ended
      ? { rows: 0, seconds: 0, loss: NaN, position: { ...(start ?? startPosition()), done: true, seen: 0, parts: undefined }, stopped: false, earlyStopped: true }
      : parallel
        ? await trainParallel(m, data, part, threads, onProgress, ctl, { denseUpdates, staleWorkers: stale, ...(o.pool ? { pool: o.pool } : {}) })
        : await trainModel(m, data, part, onProgress, ctl);
    // The last changes, merged and waited for.
    await flush(r.position);
    const t0 = process.hrtime.bigint();
    let features: number | undefined, gatherCpu: number | undefined;
    if (!r.stopped) {
      await state.saveFeatureSketch(o.rank, featureSketch(m));
      await state.arrive(o.rank);
      if (o.rank === 0) {
        await state.waitFor(o.workers, (n) => process.stderr.write(`rank 0: ${n} of ${o.workers} workers have finished; waiting for the others\n`));
        const before = await store.cpuSeconds();
        await sync.pull();
        gatherCpu = await store.cpuSeconds() - before;
        admitHeldRows(m);
        features = await state.featureCount(o.workers);
        await state.finish();
      }
    }
    const gatherSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      ...r,
      cluster: {
        workers: o.workers, rank: o.rank, ...(features !== undefined ? { features } : {}), partRows: part.end - part.start, trainedRows: r.rows, syncEveryRows: o.syncEveryRows, ...sync.counts, ...store.counts,
        storeCpuSeconds: await store.cpuSeconds() - cpu0, gatherSeconds, ...(gatherCpu !== undefined ? { gatherStoreCpuSeconds: gatherCpu } : {}), generation: store.generation, checkpoints,
        ...(evaluation ? { evaluations } : {}),
        ...(sync.sightingsFalsePositiveRate !== undefined ? { sightingsFalsePositiveRate: sync.sightingsFalsePositiveRate } : {}),
      },
    };
  } finally {
    for (const d of m.dense) d.setStepHyper(undefined);
    await store.close();
  }
}

/**
 * Admits every feature the model holds a row of (rank 0 after taking the
 * store's whole model), so that evaluation and the written model route the
 * rows other workers admitted to themselves, not to the OOV rows.
 */
function admitHeldRows(m: CtrModel): void {
  for (const t of m.tables) { const ids = t.ids(); m.admission?.admitKeys(new Uint32Array(ids.buffer, ids.byteOffset, ids.length * 2)); }
}

/** A position the store recorded for a worker, checked. */
function readPosition(json: string, rank: number): TrainPosition {
  const p = JSON.parse(json) as Record<string, unknown>;
  for (const k of ["epoch", "seen", "rows", "steps", "lossSum", "lossRows", "skippedBatches"]) {
    if (typeof p[k] !== "number" || !Number.isFinite(p[k])) throw new Error(`the position the cluster holds for rank ${rank} has no valid ${k}: ${json}`);
  }
  return p as unknown as TrainPosition;
}

/** A sketch of the feature keys a worker saw (its admission counts' keys, else its first table's ids). */
function featureSketch(m: CtrModel): HyperLogLog {
  const h = new HyperLogLog();
  if (m.admission) {
    const e = m.admission.entries();
    for (let i = 0; i < e.length; i += 3) h.add(e[i], e[i + 1]);
  } else {
    const ids = m.tables[0].ids(), w = new Uint32Array(ids.buffer, ids.byteOffset, ids.length * 2);
    for (let i = 0; i < w.length; i += 2) h.add(w[i], w[i + 1]);
  }
  return h;
}
