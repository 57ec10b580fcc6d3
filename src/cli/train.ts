/**
 * `sparsectr train`: a click log (one or more files) in, a trained model out.
 * By default the last 10% of the training rows are validation rows: the run
 * is evaluated on them during training, stops when they stop improving and
 * keeps its best state; batch size, passes, admission and regularisation
 * follow the schedule of src/train/schedule.ts for the file's size.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HELD_ROWS_BYTES, heldRows, openData, prefetched, seekPoints, type DataError, type DataFile, type ReadOptions } from "../data/index.js";
import { configureLayers } from "../kernels/layers/index.js";
import type { CtrModel } from "../train/model.js";
import { trainModel, type TrainControl, type TrainPosition, type RowSource } from "../train/trainer.js";
import { trainParallel } from "../train/parallel.js";
import { WorkerPool } from "../train/parallel-pool.js";
import { ASYNC_GROUP, defaultWorkers, MIN_ROUNDS, parallelUnsupported, refitWorkers, resolveDenseUpdates } from "../train/parallel-plan.js";
import { trainCluster, type ClusterOptions, type ClusterReport } from "../cluster/train.js";
import { clusterOf, resumedCluster } from "./cluster-options.js";
import { RunMonitor } from "./train-monitor.js";
import { writeCurvesThread } from "../experiments/curves-thread.js";
import { evaluateThreads, logitsThreads } from "../train/score-threads.js";
import { dataChange, dataIdentity, readCheckpoint, removeStaleTemporaries, writeCheckpoint, writeCheckpointAsync, type CheckpointMeta } from "../train/checkpoint.js";
import { EarlyStopping, type StateCopy } from "../train/validation.js";
import type { TrainRun } from "../train/run.js";
import { ShuffledRows } from "../train/shuffle.js";
import { fitCalibration } from "../train/calibration.js";
import { lockDir } from "../io/lock.js";
import { writeFileAtomic } from "../io/atomic.js";
import { exportModel } from "../serve/model-file.js";
import { inputSpec } from "./serve-io.js";
import type { InputSpec } from "../data/input-spec.js";
import { str, UsageError, type Command, type ParsedArgs } from "./args.js";
import { newRun, parallelFor, refuseOtherRun, RESUME_OPTIONS, threadsOf, TRAIN_OPTIONS } from "./train-options.js";
import { spooledIn } from "./read-options.js";
import { removeSpoolFiles } from "../data/stdin.js";

export const train: Command = {
  name: "train",
  summary: "train a CTR model with a sparse-group-lasso optimizer, stopping on validation rows, and evaluate it",
  usage: "train --train FILE [--train FILE2 ...] [--test FILE | --holdout F | --holdout-rows N | --holdout-last-day] [--model dcn] [--optimizer group-adam] [options]",
  options: TRAIN_OPTIONS,
  async run(a) {
    return runTrain(a);
  },
};

async function runTrain(given: ParsedArgs): Promise<number> {
  // The command's worker threads (training, refit, scoring) end with it, however it ends.
  const held: Held = {};
  try {
    return await trainCommand(given, held);
  } finally {
    await held.pool?.close();
    // A checkpoint still being written (the run's last or the finished one), and the curves still drawn (the command failed after the run), land before the command ends.
    await held.checkpoint;
    await held.curves;
  }
}

/** What a train command holds beyond its own end: its threads, the checkpoint being written, and its curves while they are drawn. */
interface Held {
  pool?: WorkerPool;
  /** Settles once the run's checkpoint being written (its last one during the refit, then the finished one) is on disk, with its failure (never rejects). */
  checkpoint?: Promise<{ error: unknown } | undefined>;
  /** Settles once the run's curves are drawn, with their failure (never rejects). */
  curves?: Promise<Error | undefined>;
}

async function trainCommand(given: ParsedArgs, held: Held): Promise<number> {
  if (given.positional.length) throw new UsageError(`unexpected argument "${given.positional[0]}"`);
  const json = given.values.json === true;
  const tty = !json && process.stderr.isTTY;
  // Every bad row is reported once, as it is met (later passes meet it again).
  const reported = new Set<string>();
  const onSkip = (e: DataError): void => {
    const at = `${e.file}:${e.line}`;
    if (json || reported.has(at)) return;
    reported.add(at);
    if (reported.size <= 10) process.stderr.write(`${tty ? "\r" : ""}skipped a bad row: ${e.message}\n`);
    else if (reported.size === 11) process.stderr.write("skipping more bad rows (counted in the report)\n");
  };
  const { threads, parallel: wantParallel, denseUpdates: denseAsked } = threadsOf(given);
  const resumeDir = str(given, "resume");
  let cluster = resumeDir === undefined ? clusterOf(given) : undefined;
  if (cluster && cluster.rank > 0 && str(given, "out") !== undefined) throw new UsageError(`--out: only rank 0 of a cluster run writes the model (this is rank ${cluster.rank})`);
  let ckpt: ReturnType<typeof readCheckpoint> | undefined, pool: WorkerPool | undefined;
  let run: TrainRun, m: CtrModel, out: string | undefined;
  if (resumeDir !== undefined) {
    const extra = Object.keys(given.values).filter((k) => !RESUME_OPTIONS.has(k));
    if (extra.length) throw new UsageError(`--resume takes the run's options from its checkpoint: drop ${extra.map((k) => "--" + k).join(", ")}`);
    ckpt = readCheckpoint(resumeDir);
    run = { ...ckpt.meta.run, files: spooledIn(ckpt.meta.run.files, resumeDir) };
    m = ckpt.model;
    out = resumeDir;
    cluster = resumedCluster(ckpt.meta.cluster, ckpt.meta.finished !== undefined, str(given, "cluster"));
  } else {
    // Data-parallel workers start while the training rows are counted (their modules load, their kernels compile).
    // They serve the refit and the scoring threads after the run too.
    if (wantParallel) pool = held.pool = new WorkerPool(threads, { fma: given.values.fma === true });
    ({ run, model: m, out } = await newRun(given, onSkip, wantParallel));
  }
  try {
    configureLayers({ threads: Math.min(threads, 2), fma: run.fma });
  } catch (e) {
    throw new UsageError(`--fma: ${(e as Error).message}`);
  }
  const { files, plan, schedule: sched } = run;
  const batch = m.settings.batch;
  const readOpts: ReadOptions = { ...run.read, onSkip };
  const trainFile = prefetched(await openData(files.train, { ...readOpts, batchSize: batch }), threads > 1);
  const evalOpts = { ...readOpts, batchSize: 4096 };
  // Validation and test rows at the end of the training files are entered at a seek point near them (the counting pass found
  // the points; for data-parallel workers also in inflated copies of gzip files), not read from the files' start at each evaluation.
  let seek: Promise<ReadOptions["seek"]> | undefined;
  const inTrain = async (batchSize = evalOpts.batchSize): Promise<DataFile> => openData(files.train, { ...readOpts, batchSize, seek: await (seek ??= seekPoints(trainFile, undefined, wantParallel ? tmpdir() : undefined)) });
  const testFile: DataFile | undefined = files.test.length ? await openData(files.test, evalOpts) : plan.test ? await inTrain() : undefined;
  // Scored at every evaluation: the rows are read once and held in memory (data/held.ts), unless the run has a feature or memory budget.
  const valRows: DataFile | undefined = files.validation.length ? await openData(files.validation, evalOpts) : plan.val ? await inTrain() : undefined;
  const valFile = valRows && run.budget.maxFeatures === undefined ? heldRows(valRows, HELD_ROWS_BYTES) : valRows;
  for (const f of [testFile, valFile]) {
    if (f && f.fields.join("\u0000") !== trainFile.fields.join("\u0000")) throw new Error(`${f.path}: its fields are not those of ${trainFile.path}`);
  }
  if (out) {
    mkdirSync(out, { recursive: true });
    lockDir(out);
    removeStaleTemporaries(out);
    if (!ckpt) refuseOtherRun(out);
  }
  const identity = files.train.map(dataIdentity);
  if (ckpt) {
    const change = dataChange(ckpt.meta.data, identity);
    if (change) throw new Error(`${change}: a resumed run needs the same data`);
  }
  const { maxFeatures, evict } = run.budget;
  if (m.admission && run.budget.admissionBytes !== undefined) m.admission.maxBytes = run.budget.admissionBytes;

  // A resumed run that had finished only re-evaluates and rewrites its outputs.
  const finished = ckpt?.meta.finished;
  const source: DataFile | RowSource = sched.shuffle && !finished ? await ShuffledRows.load(trainFile, plan.train, batch, m.settings.seed) : trainFile;
  const monitor = new RunMonitor({
    tty: tty === true, verbose: !json, out, append: ckpt !== undefined, passRows: plan.rows, epochs: m.settings.epochs, featureRate: () => m.featureRate,
  });
  const stopper = valFile && !finished ? new EarlyStopping(m, { file: valFile, range: files.validation.length ? undefined : plan.val }, {
    monitor: run.monitor, patience: sched.patience,
    onEvaluation: (p, best) => monitor.evaluation(p, best),
    score: (file, range) => evaluateThreads(m, file, range, threads, { logits: run.calibrate, pool }),
  }) : undefined;
  if (stopper && ckpt?.meta.validation) stopper.resume(ckpt.meta.validation, ckpt.best);
  if (cluster && source !== trainFile) throw new UsageError("cluster training does not shuffle rows in memory: give --shuffle off");
  // A cluster run's workers train parts of the rows, none the model: rank 0 evaluates the validation rows at barriers of every worker
  // (the store's whole model), and once more on the run's model at the end.
  const evaluating = stopper !== undefined && !cluster;

  let evictions = 0, evicted = 0;
  const checkpointMeta = (position: TrainPosition): CheckpointMeta => ({
    settings: m.settings, fields: [...trainFile.fields], format: trainFile.format, params: m.params.map((p) => p.name), position, run, data: identity,
  });
  const checkpointSpare: { state?: StateCopy } = {};
  const control: TrainControl = {
    start: ckpt?.meta.position,
    skipNonFinite: run.skipNonFinite,
    maxFeatures,
    onFull: evict ? "evict" : "stop",
    onEvict: (e) => { evictions++; evicted += e.evicted; },
    checkpointEveryRows: run.checkpoint.everyRows,
    checkpointEverySeconds: run.checkpoint.everySeconds > 0 ? run.checkpoint.everySeconds : undefined,
    // Written in the background: the trainer copies the state (over the last written copy's memory) and trains on while the file is written.
    checkpoint: out ? (position) => {
      const v = stopper?.record();
      const write = writeCheckpointAsync(out, m, { ...checkpointMeta(position), validation: v?.record }, v?.copy, checkpointSpare);
      if (position.done !== true) return write;
      // The run's last one (the state copied now) is written while the refit and the calibration go on; the finished one waits for it.
      held.checkpoint = write.then(() => undefined, (error: unknown) => ({ error }));
    } : undefined,
    ...(stopper && evaluating ? { evaluate: stopper.evaluate, evaluateEveryRows: sched.evalEvery, beforeStep: stopper.beforeStep, finish: () => stopper.restoreBest() } : {}),
  };
  // Ctrl-C (or SIGTERM) stops after the current step with a checkpoint; a second one kills.
  let stop = false;
  const onSignal = (): void => { stop = true; };
  if (out) {
    control.shouldStop = () => stop;
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  // A run checkpointed by N worker threads continues with N; without --threads a run takes every core, but
  // with sync, sequential or async dense updates at most one worker per MIN_ROUNDS batches of its rows (a
  // cluster worker: of its part), so that the dense steps stay many.
  const parts = ckpt && !ckpt.meta.position.done ? ckpt.meta.position.parts : undefined;
  const runRows = (plan.rows * m.settings.epochs) / (cluster?.workers ?? 1);
  let workers = parts?.length ?? threads, useParallel = wantParallel;
  if (parts && given.values.deterministic === true) throw new UsageError(`the run was checkpointed with ${parts.length} worker threads: resume it with as many (without --deterministic)`);
  if (!parts && given.values.threads === undefined && wantParallel && !finished) {
    const rows = runRows, fit = defaultWorkers(threads, rows, batch, denseAsked);
    if (fit < workers) {
      workers = fit;
      useParallel = parallelFor(given, fit);
      if (!json) {
        process.stderr.write(`training with ${useParallel ? `${fit} data-parallel worker${fit === 1 ? "" : "s"}` : "the deterministic trainer"}, not ${threads}: ${Math.round(rows)} training rows make ${Math.floor(rows / (threads * batch))} rounds of a batch per worker with ${threads}, and below ${MIN_ROUNDS} the AUC drops (docs/threads.md); --threads ${threads} uses ${threads}, and --dense-updates split or auto (rounds of one batch where the rounds would be fewer) every core\n`);
      }
    }
  }
  let parallel = false;
  const denseUpdates = resolveDenseUpdates(denseAsked, runRows, workers, batch);
  // A cluster run's worker trains its part with its threads too.
  if ((useParallel || parts) && !finished) {
    const why = source !== trainFile ? "shuffled passes over rows held in memory (--shuffle on)" : parallelUnsupported(m, trainFile, control, workers, denseUpdates);
    if (why === undefined) parallel = true;
    else if (parts || given.values.parallel === true || why === ASYNC_GROUP) throw new UsageError(`data-parallel training does not support ${why}`);
    else if (given.values.threads !== undefined && !json) process.stderr.write(`training with the deterministic trainer: data-parallel training does not support ${why}\n`);
  }
  // The workers split the training rows: their end is the rows counted when the range is open (no validation or test rows after them).
  const start = plan.train.start ?? 0, counted = { start, end: plan.train.end ?? start + plan.rows };
  let r;
  try {
    if (cluster) {
      // Rank 0 writes the run's checkpoints, of the store's whole model at barriers of every worker, and restores one.
      const o: ClusterOptions = {
        ...cluster, threads: parallel ? workers : 1, denseUpdates, ...(pool ? { pool } : {}),
        ...(out ? {
          checkpoint: (position, record, rankAdmissions) => {
            const v = stopper?.record();
            writeCheckpoint(out, m, { ...checkpointMeta(position), cluster: record, validation: v?.record }, v?.copy, rankAdmissions);
          },
        } satisfies Partial<ClusterOptions> : {}),
        // Early stopping within the run (rank 0): every --eval-every rows of the run, or once a pass.
        ...(stopper && cluster.rank === 0 ? { evaluation: { everyRows: sched.evalEvery ?? plan.rows, evaluate: stopper.evaluate, keep: stopper.beforeStep } } : {}),
        ...(ckpt?.meta.cluster ? { restore: { record: ckpt.meta.cluster, rankAdmissions: ckpt.rankAdmissions } } : {}),
      };
      r = await trainCluster(m, trainFile, counted, o, monitor.progress, control);
    } else {
      r = parallel
        ? await trainParallel(m, trainFile, counted, workers, monitor.progress, control, { denseUpdates, ...(pool ? { pool } : {}) })
        : await trainModel(m, source, plan.train, monitor.progress, control);
    }
  } catch (e) {
    monitor.close();
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  monitor.clear();
  if (r.stopped) {
    monitor.close();
    if (cluster && "cluster" in r) {
      process.stderr.write(cluster.rank === 0
        ? `stopped after ${r.position.rows} rows at a checkpoint of cluster run "${cluster.run}" (every worker stopped there); continue it with sparsectr train --resume ${out} --cluster ${cluster.url}, and ranks 1 to ${cluster.workers - 1} with their commands\n`
        : `stopped after ${r.position.rows} rows: rank 0 paused cluster run "${cluster.run}" at a checkpoint; start this worker again with the same command once rank 0 continues the run (sparsectr train --resume DIR --cluster URL)\n`);
      if (json) process.stdout.write(JSON.stringify({ stopped: true, rows: r.position.rows, cluster: r.cluster }) + "\n");
    } else {
      process.stderr.write(`stopped after ${r.position.rows} rows; the checkpoint in ${out} continues it: sparsectr train --resume ${out}\n`);
    }
    return 130;
  }
  // Rank 0 of a cluster run holds the run's model: its one evaluation of the validation rows.
  const rank0 = !cluster || cluster.rank === 0;
  if (cluster && stopper && rank0 && !finished) {
    // The run's last model (unless the run stopped early at an evaluation of that model), at the run's position:
    // every worker's rows of every pass, and the steps of all of them; then the best state the evaluations kept.
    if (!r.earlyStopped) await stopper.evaluate({ ...r.position, rows: plan.rows * m.settings.epochs, steps: m.tables[0]?.stepCount ?? r.position.steps });
    stopper.restoreBest();
  }
  let calibrationThreads: number | undefined;
  if (finished) m.calibration = { ...finished.calibration };
  else if (valFile && run.calibrate && rank0) {
    // The best evaluation's logits, where it kept them, are those of the model now: the rows are not scored again.
    const { z, y, threads: n } = stopper?.bestLogits ?? await logitsThreads(m, valFile, files.validation.length ? undefined : plan.val, threads, { pool });
    m.calibration = fitCalibration(z, y);
    calibrationThreads = n;
  }
  // The validation rows of the training files train last (one pass, in order).
  const refit = sched.refit && plan.val !== undefined && files.validation.length === 0 && !finished && rank0;
  let refitRows = finished?.refitRows ?? 0, refitThreads: number | undefined;
  // The rows the training skipped (its last pass's: every pass meets the same ones), and then those of the refit's pass.
  let skippedRows = trainFile.stats.skipped;
  if (refit) {
    const refitControl: TrainControl = { skipNonFinite: control.skipNonFinite, maxFeatures, onFull: control.onFull, onEvict: control.onEvict };
    // After a data-parallel run its workers refit too (a batch each at least: refitWorkers), where they can; else one thread.
    const val = plan.val!, w = parallel ? refitWorkers(workers, val, batch) : 1;
    const mode = resolveDenseUpdates(denseAsked, (val.end - val.start) * m.settings.epochs, w, batch);
    const n = w > 1 && parallelUnsupported(m, trainFile, refitControl, w, mode) === undefined ? w : 1;
    // One thread enters its rows at a seek point near them, as the evaluations do (the workers find their parts' points themselves).
    const refitFile = n > 1 ? trainFile : prefetched(await inTrain(batch), threads > 1);
    const rr = n > 1
      ? await trainParallel(m, trainFile, val, n, undefined, refitControl, { denseUpdates: mode, ...(pool ? { pool } : {}) })
      : await trainModel(m, refitFile, val, undefined, refitControl);
    skippedRows += refitFile.stats.skipped;
    refitRows = rr.rows;
    refitThreads = n;
  }
  // The model is final now: the folder's one copy of the trained state, the checkpoint marked finished, is copied now and written
  // (after the run's last one) while the test rows are scored; the outputs beside it wait for it.
  const input = inputSpec(trainFile, readOpts);
  if (out) {
    const last = await held.checkpoint;
    if (last) throw last.error;
    const write = writeCheckpointAsync(out, m, {
      settings: m.settings, fields: [...trainFile.fields], format: trainFile.format, params: m.params.map((p) => p.name),
      position: r.position, run, data: identity, validation: stopper?.record().record ?? ckpt?.meta.validation,
      input, finished: { calibration: m.calibration, refitRows },
    }, undefined, checkpointSpare);
    held.checkpoint = write.then(() => undefined, (error: unknown) => ({ error }));
  }
  // A cluster run's model is rank 0's (the store's merged state); the other ranks only train.
  const ev = testFile && rank0 ? await evaluateThreads(m, testFile, files.test.length ? undefined : plan.test, threads, { pool }) : undefined;
  // The figures are drawn from the run's progress and evaluation lines, complete by now, on a thread of their own while the outputs are written.
  const curves = held.curves = out ? writeCurvesThread(out, `${m.settings.model}, ${m.settings.optimizer}`).then(() => undefined, (e: unknown) => e as Error) : undefined;
  const best = stopper?.best;
  const clusterFeatures = "cluster" in r ? (r.cluster as ClusterReport).features : undefined;
  // Counted once (a model of several tables joins their live ids: CtrModel.liveFeatures); a cluster run's features are every worker's (rank 0's model counts its own part only).
  const liveFeatures = m.liveFeatures, features = clusterFeatures ?? m.features;
  const report = {
    // rows: the distinct rows trained on (the validation rows too when they trained last).
    model: m.settings.model, optimizer: m.settings.optimizer, threads: parallel ? workers : Math.min(threads, 2), trainer: cluster ? "cluster" : parallel ? "parallel" : "deterministic", ...(parallel ? { denseUpdates } : {}),
    ...("cluster" in r ? { cluster: r.cluster } : {}), fma: run.fma, rows: plan.rows + refitRows, epochs: +(r.position.rows / Math.max(plan.rows, 1)).toFixed(3), steps: r.position.steps,
    refitRows, ...(refitThreads !== undefined ? { refitThreads } : {}),
    batch, minCount: m.settings.minCount, shuffle: sched.shuffle,
    seconds: +r.seconds.toFixed(3), rowsPerSec: Math.round(r.rows / r.seconds),
    resumed: ckpt !== undefined, initFrom: str(given, "init-from") ?? null, skippedBatches: r.position.skippedBatches,
    bestEpoch: best?.epoch ?? null, bestRows: best?.rows ?? null,
    validationAuc: best?.auc ?? null, validationLogloss: best?.logloss ?? null, earlyStopped: r.earlyStopped, calibration: m.calibration,
    validationRows: valFile ? (plan.val ? plan.val.end - plan.val.start : null) : 0,
    curve: stopper?.curve ?? ckpt?.meta.validation?.curve ?? [],
    bytesPerFeature: m.features ? +(m.memoryBytes / m.features).toFixed(1) : null, memoryBytes: m.memoryBytes,
    maxFeatures: maxFeatures ?? null, evictions, evictedFeatures: evicted,
    trainLoss: r.loss, auc: ev?.auc ?? null, logloss: ev?.logloss ?? null, testRows: ev?.rows ?? 0,
    // The threads that scored the test rows and the calibration's validation rows (score-threads.ts: the same figures on any number).
    ...(ev ? { testThreads: ev.threads } : {}), ...(calibrationThreads !== undefined ? { calibrationThreads } : {}),
    featureRate: features ? liveFeatures / features : 0, features, liveFeatures, tableRows: Math.max(...m.tables.map((t) => t.size)),
    admittedFeatures: m.admission?.admitted ?? m.features, oovRouted: m.admission?.routed ?? 0,
    admissionBytes: m.admission?.bytes ?? 0, forgottenCounts: m.admission?.forgotten ?? 0,
    modelBytes: m.modelBytes, modelSha256: m.sha256(), skippedRows,
  };
  if (out) {
    const done = await held.checkpoint;
    held.checkpoint = undefined;
    if (done) throw done.error;
    writeOutputs(out, m, input);
  }
  monitor.finish(report);
  if (out) {
    // A figure that fails to draw does not fail a trained run: `sparsectr plot` redraws it.
    const failed = await curves;
    if (failed) process.stderr.write(`curves not drawn: ${failed.message} (sparsectr plot ${out} redraws them)\n`);
  }
  // The run is complete: the copy of standard input it kept in its folder for --resume goes.
  if (out) removeSpoolFiles([...files.train, ...files.test, ...files.validation], out);
  if (json) process.stdout.write(JSON.stringify(report) + "\n");
  else process.stdout.write(summary(report, m, r, ev, trainFile) + "\n");
  return 0;
}

/**
 * Beside the checkpoint of a finished run: the serving model, and model.json
 * (the settings, inputs and calibration, for people; the report is the last
 * line of metrics.jsonl).
 */
function writeOutputs(out: string, m: CtrModel, input: InputSpec): void {
  writeFileAtomic(join(out, "model.json"), new TextEncoder().encode(JSON.stringify({ settings: m.settings, input, params: m.params.map((p) => p.name), calibration: m.calibration }, null, 2)));
  exportModel(m, input, join(out, "model.sparsectr"));
}

function summary(report: Record<string, unknown> & { rowsPerSec: number; modelBytes: number; modelSha256: string }, m: CtrModel,
  r: { rows: number; seconds: number; loss: number }, ev: { auc: number; logloss: number; rows: number } | undefined, trainFile: DataFile): string {
  const lines = [
    `trained ${report.model} with ${report.optimizer} on ${report.rows} rows (${report.epochs} passes, batch ${report.batch}) in ${r.seconds.toFixed(1)} s (${report.rowsPerSec} rows/s), train log loss ${r.loss.toFixed(4)}`,
  ];
  if (report.bestEpoch !== null) lines.push(`best validation AUC ${(report.validationAuc as number).toFixed(4)}, log loss ${(report.validationLogloss as number).toFixed(4)} in pass ${report.bestEpoch} after ${report.bestRows} rows${report.earlyStopped ? " (stopped early)" : ""}; the model is that state`);
  lines.push(ev ? `test: AUC ${ev.auc.toFixed(4)}, log loss ${ev.logloss.toFixed(4)} on ${ev.rows} rows` : "no test data (give --test or a --holdout)");
  lines.push(`features: ${report.liveFeatures as number} live of ${report.features as number} (feature rate ${(report.featureRate as number).toFixed(4)}), model ${report.modelBytes} bytes`);
  lines.push(`model sha256 ${report.modelSha256}`);
  // The training's and the refit's skipped rows (the report's count); the first of them as the training met them.
  const skipped = report.skippedRows as number, first = trainFile.stats.firstBad;
  if (skipped) lines.push(`skipped ${skipped} malformed rows${first.length ? `, the first: ${first.map((e) => e.message).join("; ")}` : ""}`);
  return lines.join("\n");
}
