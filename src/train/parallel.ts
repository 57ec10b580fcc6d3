/**
 * Data-parallel training (trainParallel): N worker threads
 * (./parallel-worker.ts), each reading and parsing its own contiguous part
 * of the training rows (plain files are entered at a seek point near the
 * part's first row: data/seek.ts), all training one model. The embedding
 * tables stay where they are, in shared WebAssembly memory, and every worker
 * updates them concurrently (optim/table-share.ts); the admission counts
 * become shared counts for the run (./shared-admission.ts); the dense layers
 * are stepped synchronously at a barrier each round (by default one step per
 * worker's batch, in worker order; ./parallel-protocol.ts DENSE_UPDATES),
 * each worker stepping its own rows of them (denseSlices); at a pause the
 * model here takes each worker's rows.
 *
 * This thread coordinates: the workers park at a round boundary when an
 * evaluation or a checkpoint is due, a pass ends, the tables or counts need
 * room, or the run is asked to stop; then the model here holds one
 * consistent state (tables, counts, dense weights and moments, step counts)
 * for the evaluation, the checkpoint (with each worker's position) and the
 * growth, and the workers go on. The result is not bit-reproducible (the
 * order in which workers update a row varies); trainModel is the
 * deterministic trainer.
 */
import { BackgroundWrites } from "./background-writes.js";
import { tmpdir } from "node:os";
import type { DataFile } from "../data/types.js";
import { seekPoints } from "../data/seek.js";
import { configureLayers } from "../kernels/layers/index.js";
import { SparseTable } from "../optim/table.js";
import { reserveRows, setSharedStepCount, shareTable, sharedStepCount, unshareTable, type TableShare } from "../optim/table-share.js";
import { needsHessian } from "./hutchinson.js";
import { packWeights } from "./replica.js";
import { gatherDense } from "./parallel-dense.js";
import { workerScorer } from "./parallel-score.js";
import type { ScoredShare } from "./score-share.js";
import { WorkerEvents } from "./parallel-events.js";
import { DivergenceError, nonFiniteWeight } from "./divergence.js";
import type { CtrModel } from "./model.js";
import { SharedAdmission } from "./shared-admission.js";
import type { Admission } from "./admission.js";
import { evictionKeep, MemoryBudgetError } from "./budget.js";
import { bytesPerFeature } from "./model.js";
import { BadRows, DEFAULT_MAX_BAD_ROWS } from "../data/badrows.js";
import { dataErrorOf } from "../data/errors.js";
import type { ReadStats } from "../data/types.js";
import { startPosition, type Progress, type TrainControl, type TrainPosition, type TrainResult } from "./trainer.js";
import { DEFAULT_ROOM_ROUNDS, keyRoomAhead, parallelUnsupported, resolveDenseUpdates, roomAhead, roundIds, scratchIds, splitRows } from "./parallel-plan.js";
import { WorkerPool } from "./parallel-pool.js";
import { RunLedger } from "./parallel-ledger.js";
import {
  C_COMMAND, C_GEN, C_NEED_ROOM, C_OVER_BUDGET, C_PARKED, C_PAUSE, C_RELOAD, C_STATE, CONTROL_WORDS, K_CONTINUE, K_EVALUATE, K_NEXT_EPOCH, K_STOP,
  S_EPOCH_END, T_CKPT_ROWS, T_EVAL_ROWS, T_RECENT, T_ROWS, T_STEPS, DEFAULT_DENSE_UPDATES, denseSlices, staleSteps, type DenseUpdates, type DenseUpdatesOption, type ReloadMessage, type WorkerInit,
} from "./parallel-protocol.js";

/** What {@link trainParallel} returns: the run's figures and the dense updates it took (auto resolved). */
export interface ParallelResult extends TrainResult {
  denseUpdates: DenseUpdates;
}

/** Options of {@link trainParallel}. */
export interface ParallelOptions {
  /** How the dense layers are updated (default DEFAULT_DENSE_UPDATES, auto: see resolveDenseUpdates). */
  denseUpdates?: DenseUpdatesOption;
  /** Rounds of every worker's batches the tables have room for before the workers park to grow them (default 64; the counts: at most 4). */
  roomRounds?: number;
  /**
   * The stale workers the dense optimizer's momentum is compensated for
   * (./stale-momentum.ts; sequential and async updates): by default the
   * worker threads; a cluster run's worker gives every process's threads
   * together; 1 turns the compensation off.
   */
  staleWorkers?: number;
  /** Threads started ahead (./parallel-pool.ts): the run takes them, and gives them back when it ends cleanly. */
  pool?: WorkerPool;
  /**
   * Where gzip training files are copied inflated, so that each worker enters
   * its part at a seek point of the copy (data/inflated.ts; default the OS
   * temporary folder); false: each worker inflates the stream from its start.
   */
  inflateDir?: string | false;
}

/**
 * Trains `m` on the rows `range` of `data` (a file opened with the model's
 * batch size; range.end is needed) with `workers` threads, as trainModel
 * does (epochs, evaluations and early stopping, checkpoints, stopping) but
 * not bit-reproducibly. Sharded tables and standard input are refused
 * (parallelUnsupported): use trainModel.
 *
 * Bad rows (the data's skipBadRows): each worker skips its own and posts
 * them here, where they are counted into data.stats for the pass, reported
 * (the options' onSkip) and held to the run's maxBadRows, as one reader
 * would. skipNonFinite: a worker skips a batch whose loss or gradients are
 * not finite before it steps anything (position.skippedBatches counts them).
 * The feature budget (control.maxFeatures): with onFull "evict" the workers
 * park when a round's new rows could pass it and the tables evict here
 * (SparseTable.evictTo) down to 80% of it less one round's ids (every
 * worker's batch); with "stop" the run fails with a MemoryBudgetError once
 * a round has passed it, so a table may hold up to one round's new rows
 * more than the budget when it stops (the deterministic trainer stops
 * before the batch). A memory budget of the admission counts (maxBytes)
 * forgets unadmitted keys when the workers park for room
 * (SharedAdmission.makeRoom).
 */
export async function trainParallel(
  m: CtrModel, data: DataFile, range: { start?: number; end?: number }, workers: number,
  onProgress?: (p: Progress) => void, control: TrainControl = {}, opts: ParallelOptions = {},
): Promise<ParallelResult> {
  const ROOM_ROUNDS = opts.roomRounds ?? DEFAULT_ROOM_ROUNDS;
  if (!Number.isSafeInteger(ROOM_ROUNDS) || ROOM_ROUNDS < 1) throw new RangeError(`roomRounds = ${ROOM_ROUNDS} must be a positive integer`);
  const t0 = process.hrtime.bigint();
  const seconds = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
  if (!Number.isSafeInteger(workers) || workers < 1) throw new RangeError(`workers = ${workers} must be a positive integer`);
  if (range.end === undefined) throw new Error(`${data.path}: data-parallel training needs the end of the training rows`);
  const N = workers, s = m.settings, fields = m.inputs.fields;
  // Auto: from the whole run's rounds (every pass), the same when it resumes.
  const denseUpdates = resolveDenseUpdates(opts.denseUpdates ?? DEFAULT_DENSE_UPDATES, (range.end - (range.start ?? 0)) * s.epochs, N, s.batch);
  const why = parallelUnsupported(m, data, control, workers, denseUpdates);
  if (why !== undefined) throw new Error(`training with ${workers} worker threads does not support ${why}: train with one (deterministic) instead`);
  const parts = splitRows(range.start ?? 0, range.end, N);
  const pos: TrainPosition = { ...(control.start ?? startPosition()) };
  if (control.start !== undefined && !pos.done && (pos.parts === undefined || pos.parts.length !== N)) {
    throw new Error(`the run was checkpointed with ${pos.parts?.length ?? 1} worker thread(s): resume it with as many (--threads ${pos.parts?.length ?? 1})`);
  }
  const rows0 = pos.rows;
  const maxIds = scratchIds(m, data, N, denseUpdates);
  const seek = await seekPoints(data, undefined, opts.inflateDir === false ? undefined : opts.inflateDir ?? tmpdir());
  const tables = m.tables as SparseTable[];
  const budget = control.maxFeatures, evict = control.onFull === "evict", round = roundIds(m, data, N, denseUpdates);
  // Room for new rows, ahead of need; with a budget, no more than it allows (and one round past it, where a round may pass it).
  const roomFor = (t: SparseTable): number => {
    const ahead = roomAhead(round, t.size, bytesPerFeature(t), ROOM_ROUNDS);
    return budget === undefined ? ahead : Math.max(round, Math.min(ahead, budget + round - t.size));
  };
  const keysAhead = keyRoomAhead(round, ROOM_ROUNDS);
  const shares: TableShare[] = tables.map((t) => shareTable(t, N, maxIds, roomFor(t)));
  const admission = m.admission ? SharedAdmission.from(m.admission, N) : undefined;
  admission?.makeRoom(round, keysAhead);
  const paramSizes = m.params.map((p) => p.value.length), P = paramSizes.reduce((a, b) => a + b, 0);
  const control32 = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  // The run's totals and each worker's round (./parallel-ledger.ts), from where the run starts.
  const ledger = RunLedger.start(N, pos, parts.map((p) => p.start)), totals = ledger.totals;
  const grads = new SharedArrayBuffer(N * P * 4), hessians = needsHessian(s.optimizer, m.dense) ? new SharedArrayBuffer(N * P * 4) : undefined, weights = new Float32Array(new SharedArrayBuffer(P * 4));
  /** The model's dense weights into the shared ones (at the start, and after control.sync changed them). */
  const shareWeights = (): void => { packWeights(m.params, weights); };
  shareWeights();
  const dense = m.dense.map((d) => d.save());
  // Bad rows: the workers skip without a limit of their own; the run's limit is held here, over every worker's rows.
  const skipBad = data.options.skipBadRows === true, badLimit = data.options.maxBadRows ?? DEFAULT_MAX_BAD_ROWS;
  const read = { ...data.options, onSkip: undefined, range: undefined, seek, ...(skipBad ? { maxBadRows: { fraction: 1 } } : {}) };
  let stats: ReadStats = data.stats, badRows: BadRows | undefined, passStarts = parts.map((_, w) => ledger.seen(w));
  const newPass = (): void => {
    stats = { rows: 0, skipped: 0, firstBad: [], seen: 0 };
    data.stats = stats;
    badRows = skipBad ? new BadRows(badLimit, stats, data.options.onSkip) : undefined;
  };
  newPass();
  /** The pass's good rows read so far (every worker's rows up to its next one, less the skipped): its stats.rows. */
  const passRead = (ends?: number[]): void => {
    let read = 0;
    parts.forEach((_, w) => { read += (ends?.[w] ?? ledger.seen(w)) - passStarts[w]; });
    stats.rows = Math.max(0, read - stats.skipped);
  };
  // The threads: a pool's, or this run's own (a pool of its own, closed at the end).
  const pool = opts.pool ?? new WorkerPool(0);
  const threads = parts.map((part, w) => {
    const init: WorkerInit = {
      worker: w, workers: N, settings: s, fields, paths: data.paths, read, part,
      seen: ledger.seen(w), epoch: pos.epoch, tables: shares, admission: admission?.state(), dense,
      // Sequential and asynchronous steps are stale: their momentum is compensated (one step a round with the mean gradient is not).
      staleWorkers: staleSteps(denseUpdates) ? opts.staleWorkers ?? N : 1,
      paramSizes, control: control32.buffer as SharedArrayBuffer, ...ledger.buffers,
      grads, hessians, weights: weights.buffer as SharedArrayBuffer, evalEveryRows: control.evaluate ? control.evaluateEveryRows ?? 0 : 0,
      checkpointEveryRows: control.checkpoint ? control.checkpointEveryRows ?? 0 : 0, roundIds: round, denseUpdates,
      skipNonFinite: control.skipNonFinite === true, maxFeatures: budget ?? 0, evict, fma: configureLayers({}).fma,
    };
    return pool.take(init);
  });

  // Messages: every parked worker (with its dense states), the end, scores, failures; skipped rows counted here.
  const ev = new WorkerEvents(threads, (error) => {
    passRead();
    badRows?.skip(dataErrorOf(error));
  });
  const slices = denseSlices(m.dense, N);
  // With asynchronous dense updates each worker keeps its own totals: the run's are their sums.
  const base = { rows: pos.rows, steps: pos.steps, lossSum: pos.lossSum, skipped: pos.skippedBatches };
  const refresh = (): void => { if (denseUpdates === "async") ledger.sumAsync(base); };
  const progress = (): void => onProgress?.({
    rows: totals[T_ROWS], steps: totals[T_STEPS], epoch: pos.epoch, loss: totals[T_RECENT], seconds: seconds(),
    liveFeatures: tables[tables.length - 1].liveRows, features: m.features,
  });
  // The exchange with other trainers (control.sync): at a pause every sync.everyRows rows, or sooner when it asks (due).
  let lastSync = pos.rows;
  const syncDue = (rows: number): boolean => control.sync !== undefined && (rows - lastSync >= control.sync.everyRows || control.sync.due?.(rows) === true);
  // The coordinator's own reasons to park: Ctrl-C, a checkpoint by the clock, the exchange, and progress reports.
  let lastCkpt = 0;
  const ticker = setInterval(() => {
    refresh();
    progress();
    const timed = control.checkpoint !== undefined && control.checkpointEverySeconds !== undefined && seconds() - lastCkpt >= control.checkpointEverySeconds;
    // Without rounds, worker 0 does not watch the rows: this thread does (a pause lands within a tick).
    const due = (every: number | undefined, last: number, on: boolean): boolean => on && denseUpdates === "async" && ledger.due(every, last);
    if (control.shouldStop?.() || timed || syncDue(totals[T_ROWS]) || due(control.evaluateEveryRows, T_EVAL_ROWS, control.evaluate !== undefined) || due(control.checkpointEveryRows, T_CKPT_ROWS, control.checkpoint !== undefined)) Atomics.store(control32, C_PAUSE, 1);
  }, 20);

  /** The run's position and the tables' step counts, from the shared state (cheap: at every pause). */
  const track = (): void => {
    tables.forEach((t, k) => t.adoptStepCount(sharedStepCount(t, shares[k])));
    refresh();
    ledger.position(pos, base.skipped);
  };
  /** The shared counts and worker 0's dense weights and moments as this model's (for an evaluation, a checkpoint, the end). */
  const adoptModel = (): void => {
    adoptDense();
    adoptAdmission();
  };
  /**
   * The shared counts as this model's (plain counts: checkpoints keep their
   * format), over the memory of the counts adopted last (page faults
   * spared) while the model holds them still and no exchange (control.sync)
   * may have taken them. With `later`, the conversion (a pass over every
   * slot) waits until the model's counts are read (CtrModel.deferAdmission):
   * at an evaluation, while the workers score (they only read the counts).
   */
  let adopted: Admission | undefined;
  const adoptAdmission = (later = false): void => {
    if (!admission) return;
    const prev = m.admission;
    m.deferAdmission(() => {
      const a = admission.toAdmission(control.sync === undefined && prev === adopted ? adopted : undefined);
      adopted = a;
      // Sightings elsewhere (a cluster run's other workers) stay the counts'.
      a.elsewhere = prev?.elsewhere;
      return a;
    });
    if (!later) m.settleAdmission();
  };
  /** The workers' dense weights and moments as this model's (the tables are shared already). */
  const adoptDense = (): void => {
    // A round's finite gradients can still overflow the weights (or, asynchronously, a torn read): stop before adopting them.
    let at = 0;
    const broken = nonFiniteWeight(m.params.map((p, i) => ({ name: p.name, value: weights.subarray(at, at += paramSizes[i]) })));
    if (broken !== undefined) throw new DivergenceError(pos.steps, [], data.path, broken);
    gatherDense(denseUpdates, m.dense, m.params.map((p) => p.value), ev.denseStates, slices, weights);
  };
  /**
   * The model's dense states and weights to every worker, with the next
   * release (after control.sync changed them), and the tables' step counts
   * to the shared counters.
   */
  const reload = (): void => {
    const states = m.dense.map((d) => d.save());
    shareWeights();
    for (const t of threads) t.postMessage({ kind: "reload", dense: states } satisfies ReloadMessage);
    tables.forEach((t, k) => { setSharedStepCount(t, shares[k], t.stepCount); reserveRows(t, shares[k], roomFor(t)); });
  };
  /** Lets the parked workers go on with `command` (having posted them the model's dense states first, with `reloadDense`). */
  const release = (command: number, reloadDense = false): void => {
    const reloading = reloadDense && command !== K_STOP;
    if (reloading) reload();
    ev.released();
    Atomics.store(control32, C_PAUSE, 0);
    Atomics.store(control32, C_NEED_ROOM, 0);
    Atomics.store(control32, C_OVER_BUDGET, 0);
    Atomics.store(control32, C_PARKED, 0);
    Atomics.store(control32, C_RELOAD, reloading ? 1 : 0);
    Atomics.store(control32, C_COMMAND, command);
    Atomics.add(control32, C_GEN, 1);
    Atomics.notify(control32, C_GEN);
  };

  // Evaluations of the parked workers' shares of the rows; the model's counts are converted while they score (adoptAdmission).
  const score = workerScorer({
    model: m, workers: N, batch: s.batch,
    post: (w, msg) => threads[w].postMessage(msg),
    score: async () => {
      ev.scored.fill(undefined);
      release(K_EVALUATE);
      m.settleAdmission();
      await ev.until(() => ev.parked === N && ev.scored.every((x) => x !== undefined));
      return ev.scored as ScoredShare[];
    },
  });

  let stopped = false, earlyStopped = false, evaluated = false;
  // Checkpoints written in the background while the workers train on (one at a time).
  const writes = new BackgroundWrites();
  try {
    while (true) {
      await ev.until(() => ev.parked === N);
      const state = denseUpdates === "async" ? (ev.ended === N ? S_EPOCH_END : -1) : Atomics.load(control32, C_STATE);
      track();
      if (Atomics.load(control32, C_OVER_BUDGET) !== 0) {
        tables.forEach((t, k) => {
          if (!evict && t.size > budget!) throw new MemoryBudgetError(t.size, budget!, bytesPerFeature(t), pos.rows);
          if (!evict || t.size + round <= budget!) return;
          const e = t.evictTo(evictionKeep(budget!, round));
          control.onEvict?.({ table: k, ...e, rows: pos.rows });
          reserveRows(t, shares[k], roomFor(t));
        });
      }
      if (Atomics.load(control32, C_NEED_ROOM) !== 0) {
        tables.forEach((t, k) => reserveRows(t, shares[k], roomFor(t)));
        admission?.makeRoom(round, keysAhead);
      }
      const passEnd = state === S_EPOCH_END;
      if (passEnd) {
        pos.parts = parts.map((p) => p.end);
        passRead(pos.parts);
        badRows?.end();
      }
      const evalDue = control.evaluate !== undefined && (passEnd || (control.evaluateEveryRows !== undefined && pos.rows - totals[T_EVAL_ROWS] >= control.evaluateEveryRows));
      const lastPass = passEnd && pos.epoch + 1 >= s.epochs;
      const ckptDue = control.checkpoint !== undefined && !lastPass && (control.checkpointEveryRows !== undefined && pos.rows - totals[T_CKPT_ROWS] >= control.checkpointEveryRows || control.checkpointEverySeconds !== undefined && seconds() - lastCkpt >= control.checkpointEverySeconds || passEnd);
      const stopAsked = control.shouldStop?.() === true;
      // The exchange (control.sync) takes the model's dense state and may change it and the tables: the workers then reload it.
      const syncNow = syncDue(pos.rows) && !lastPass && !stopAsked;
      // A pause only for room leaves the model as it is. An evaluation by the workers adopts their counts while they score.
      if (evalDue && !syncNow) {
        adoptDense();
        adoptAdmission(true);
      } else if (evalDue || ckptDue || lastPass || stopAsked) adoptModel();
      else if (syncNow) adoptDense();
      let stop = false;
      if (syncNow) {
        // The run ends here as complete: the model holds the state run left (the admission counts only when run took them).
        if (await control.sync!.run({ ...pos, parts: [...pos.parts!] }, () => adoptAdmission()) === true) stop = earlyStopped = true;
        lastSync = pos.rows;
      }
      if (evalDue && !stop) {
        totals[T_EVAL_ROWS] = pos.rows;
        pos.evaluatedRows = pos.rows;
        evaluated = true;
        // After an exchange the workers hold the dense state from before it until their release: this thread evaluates.
        const done = await control.evaluate!({ ...pos }, syncNow ? undefined : score, lastPass);
        // Before the workers count again (an evaluation that read neither the counts nor the workers' scores left them to convert).
        m.settleAdmission();
        if (done) stop = earlyStopped = true;
      }
      if (!stop && stopAsked) stop = stopped = true;
      if (stop || lastPass) {
        release(K_STOP);
        break;
      }
      if (passEnd) {
        pos.epoch++;
        pos.parts = parts.map((p) => p.start);
        passStarts = [...pos.parts];
        newPass();
      }
      if (ckptDue) {
        await writes.take(() => control.checkpoint!({ ...pos, parts: [...pos.parts!] }));
        totals[T_CKPT_ROWS] = pos.rows;
        lastCkpt = seconds();
      }
      if (evaluated) {
        evaluated = false;
        control.beforeStep?.();
      }
      release(passEnd ? K_NEXT_EPOCH : K_CONTINUE, syncNow);
    }
    await ev.until(() => ev.done === N);
  } finally {
    clearInterval(ticker);
    // A pool's threads go back to it when the run ended cleanly (they serve the next job); other threads end.
    const clean = ev.done === N && ev.failure === undefined;
    ev.detach();
    if (opts.pool === undefined) await pool.close();
    await Promise.all(threads.map((t) => (clean ? pool.giveBack(t) : t.terminate())));
    // The workers' scratch goes back to the tables' memory (a refit or scoring threads share them again).
    tables.forEach((t, k) => unshareTable(t, shares[k]));
  }
  progress();
  if (control.sync && pos.rows > lastSync) await control.sync.run({ ...pos });
  if (!stopped) {
    pos.done = true;
    pos.seen = 0;
    pos.parts = undefined;
    control.finish?.();
  }
  await writes.take(() => control.checkpoint?.({ ...pos }));
  await writes.settle();
  return { rows: pos.rows - rows0, seconds: seconds(), loss: pos.lossRows ? pos.lossSum / pos.lossRows : NaN, position: pos, stopped, earlyStopped, denseUpdates };
}
