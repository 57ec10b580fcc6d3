/**
 * A run's training on one worker thread of the data-parallel trainer
 * (./parallel.ts; the thread is a pool's: ./pool-thread.ts): reads and
 * parses its own part of the training rows, and trains on its batches the
 * model every worker shares. The embedding tables are the owner's shared
 * tables (optim/table-share.ts: concurrent inserts, each row's step under
 * its lock) and the admission counts the shared counts; the dense layers
 * are a replica whose gradients meet the other workers' at a barrier each
 * round: there every worker takes the round's dense step (./parallel-dense.ts) of its own rows of
 * the parameters (denseSlices: the step's work is spread over the workers,
 * none serialises it) and writes them to the shared weights; at a second
 * barrier every worker copies them. Worker 0 also adds up the round and
 * decides, at the second barrier, when the run parks for the coordinator
 * (an evaluation or checkpoint due, more room needed, the end of a pass, a
 * pause asked for).
 */
import { parentPort, receiveMessageOnPort } from "node:worker_threads";
import { openData } from "../data/reader.js";
import { heldRows } from "../data/held.js";
import type { DataFile } from "../data/types.js";
import { dataErrorFields, type DataError } from "../data/errors.js";
import type { Batch } from "../data/batch.js";
import { sigmoidLogLoss } from "../nn/loss.js";
import { layersActive } from "../kernels/layers/index.js";
import { DenseParam } from "../optim/dense.js";
import { SharedTableView } from "../optim/table-share.js";
import { HutchinsonEstimator, needsHessian, stepSeed, type TrainedArrays } from "./hutchinson.js";
import { BatchInputs } from "./inputs.js";
import { SharedAdmission } from "./shared-admission.js";
import { DivergenceError, nonFiniteGradient, nonFiniteWeight } from "./divergence.js";
import { workerMomentum } from "./stale-momentum.js";
import { scoreShare } from "./score-share.js";
import { replicaModel, threadLayers, unpackWeights } from "./replica.js";
import { RoundStep, stepShared, type RoundGradients } from "./parallel-dense.js";
import { spinMillis, Waiter } from "./barrier.js";
import { RunLedger } from "./parallel-ledger.js";
import {
  C_ARRIVED, C_COMMAND, C_RELOAD, C_FAILED, C_GEN, C_NEED_ROOM, C_OVER_BUDGET, C_PARKED, C_PAUSE, C_ROUND, C_STATE, C_STEP, C_STEPPED,
  K_CONTINUE, K_NEXT_EPOCH, K_STOP, S_EPOCH_END, S_GO, S_PARK, T_CKPT_ROWS, T_EVAL_ROWS,
  denseSlices, K_EVALUATE, type EvaluateMessage, type ReloadMessage, type WorkerInit, type WorkerMessage,
} from "./parallel-protocol.js";

const post = (m: WorkerMessage): void => parentPort!.postMessage(m);

/** Thrown out of the loop when another worker failed (its error is the one reported). */
class Abandoned extends Error {}

async function main(init: WorkerInit): Promise<void> {
  const { worker: w, workers: N, settings: s } = init;
  // A pooled thread compiled them ahead: again only if this run asks otherwise (an error of the pooled attempt comes again here, reported).
  threadLayers(init.fma);
  const ctl = new Int32Array(init.control), ledger = new RunLedger(N, init);
  const P = init.paramSizes.reduce((a, b) => a + b, 0);
  const gradAll = new Float32Array(init.grads), weights = new Float32Array(init.weights);
  const myGrad = gradAll.subarray(w * P, (w + 1) * P);
  // AdaHessian: each worker's batch estimate of the dense parameters' Hessian diagonal, beside its gradient.
  const hessAll = init.hessians ? new Float32Array(init.hessians) : undefined;
  const model = replicaModel(s, init.fields);
  const params = model.params();
  const copyWeights = (): void => unpackWeights(weights, params);
  copyWeights();
  const tables = init.tables.map((t) => new SharedTableView(t, w));
  const admission = init.admission ? SharedAdmission.attach(init.admission) : undefined;
  const inputs = new BatchInputs(tables, init.fields, s.pooling, admission);
  const dense = init.dense.map((b) => DenseParam.load(b));
  // Steps with the momentum compensated for their staleness; the states posted back keep the model's own.
  const compensate = (): void => { if (init.staleWorkers > 1) for (const d of dense) d.setStepHyper(workerMomentum(d, init.staleWorkers)); };
  compensate();
  const hutch = needsHessian(s.optimizer, dense) ? new HutchinsonEstimator(model) : undefined;
  /** The Hessian estimate of the batch being trained (AdaHessian), for its dense step. */
  let hess: TrainedArrays | undefined;
  // Skipped rows go to the coordinator, which reports them and holds the run to its limit.
  const onSkip = (e: DataError): void => post({ kind: "skip", worker: w, error: dataErrorFields(e) });
  // Split dense updates: a round is one batch, each worker's share of it (its gradients scaled to the round: splitScale).
  const split = init.denseUpdates === "split", share = split ? Math.ceil(s.batch / N) : s.batch, splitScale = 1 / (share * N);
  const file = await openData(init.paths, { ...init.read, batchSize: share, ...(init.read.skipBadRows === true ? { onSkip } : {}) });
  let dlogits = new Float32Array(0);
  let round = Atomics.load(ctl, C_ROUND);
  // A round's barrier waits: spinning up to spinMillis before they sleep, while few waits outlast it (./barrier.ts).
  const waiter = new Waiter(spinMillis(N));
  // The barriers' conditions, made once: the words as this worker last read them.
  let stepGen = 0;
  const released = (v: number): boolean => v !== stepGen, allStepped = (a: number): boolean => a >= N - 1 || Atomics.load(ctl, C_FAILED) !== 0;
  const nextRound = (v: number): boolean => v !== round;

  /**
   * Parks until the coordinator releases the run; returns its command. A
   * release with C_RELOAD brings the model's dense states (the coordinator
   * changed them, e.g. merged another process's changes: ./trainer.ts
   * TrainControl.sync): this worker's replica becomes them, and its
   * parameters the shared weights.
   */
  const park = (end = false): number => {
    const gen = Atomics.load(ctl, C_GEN);
    // Each worker's rows of the dense parameters (all of them with async updates, whose moments are worker 0's).
    post({ kind: "parked", worker: w, dense: w === 0 || init.denseUpdates !== "async" ? dense.map((d) => d.save()) : undefined, end });
    Atomics.add(ctl, C_PARKED, 1);
    while (Atomics.load(ctl, C_GEN) === gen) Atomics.wait(ctl, C_GEN, gen, 1000);
    if (Atomics.load(ctl, C_RELOAD) !== 0) reload();
    return Atomics.load(ctl, C_COMMAND);
  };
  /** park(), serving the evaluations the coordinator asks for meanwhile (each parks again): returns the command that ends the park. */
  const parkServing = async (end = false): Promise<number> => {
    let command = park(end);
    while (command === K_EVALUATE) {
      await scoreMine();
      command = park(end);
    }
    return command;
  };
  /** This worker's share of the evaluation rows: held in memory after its first scoring when the scored file holds its rows (data/held.ts, its 1/N part of that budget). */
  let evalRows: { key: string; file: DataFile } | undefined;
  /**
   * Scores this worker's share of evaluation rows (the EvaluateMessage the
   * coordinator posted before the release) with the model as it is: the
   * shared weights and tables, no row created (CtrModel.logits' logits),
   * and posts them with their labels.
   */
  const scoreMine = async (): Promise<void> => {
    const got = receiveMessageOnPort(parentPort!) as { message: EvaluateMessage } | undefined;
    if (got?.message.kind !== "evaluate") throw new Error(`worker ${w}: released to evaluate without the rows to score`);
    const { paths, read, part, hold } = got.message;
    copyWeights();
    const key = JSON.stringify([paths, read, part, hold]);
    if (evalRows?.key !== key) {
      const f = await openData(paths, read);
      evalRows = { key, file: hold !== undefined ? heldRows(f, hold / N) : f };
    }
    const { scores, labels } = await scoreShare((b) => model.forward(inputs.read(b), b.rows, false), evalRows.file, part);
    parentPort!.postMessage({ kind: "scores", worker: w, scores, labels } satisfies WorkerMessage, [scores.buffer as ArrayBuffer, labels.buffer as ArrayBuffer]);
  };
  /** Takes the dense states the coordinator posted before the release (synchronously: the message is queued before it). */
  const reload = (): void => {
    const got = receiveMessageOnPort(parentPort!) as { message: ReloadMessage } | undefined;
    if (got?.message.kind !== "reload" || got.message.dense.length !== dense.length) throw new Error(`worker ${w}: released to reload the dense parameters without their states`);
    got.message.dense.forEach((b, i) => { dense[i].dispose(); dense[i] = DenseParam.load(b); });
    compensate();
    copyWeights();
  };

  const slices = init.denseUpdates === "async" ? [] : denseSlices(dense, N)[w];
  /** The round's gradients in shared memory: each worker's block holds its batch's mean gradient (rows 0: it had no batch or skipped it). */
  const gradients: RoundGradients = {
    block: (k) => gradAll.subarray(k * P, (k + 1) * P),
    ...(hessAll ? { hessian: (k: number) => hessAll.subarray(k * P, (k + 1) * P) } : {}),
    rows: (k) => ledger.rows(k),
  };

  // Split: the round's one step of the tables, once the round had rows.
  const advanceTables = (): void => { if (split) for (const t of tables) t.advanceStep(); };
  /** Worker 0 once every worker stepped its dense rows: the totals, and what happens next. */
  const reduce = (): void => {
    const batches = ledger.closeRound(advanceTables);
    let state = batches === 0 ? S_EPOCH_END : S_GO;
    if (state === S_GO) {
      const short = roomShort(), over = overBudget();
      if (short) Atomics.store(ctl, C_NEED_ROOM, 1);
      if (over) Atomics.store(ctl, C_OVER_BUDGET, 1);
      if (short || over || Atomics.load(ctl, C_PAUSE) !== 0 || ledger.due(init.evalEveryRows, T_EVAL_ROWS) || ledger.due(init.checkpointEveryRows, T_CKPT_ROWS)) state = S_PARK;
    }
    if (Atomics.load(ctl, C_FAILED) !== 0) state = S_PARK;
    Atomics.store(ctl, C_STATE, state);
  };

  /**
   * The seed of a step (dropout masks, AdaHessian's probes): the tables'
   * global step as the deterministic trainer takes it (with one worker the
   * same seeds), spread over the workers.
   */
  const seedOf = (): number => stepSeed(s.seed, (tables[0]?.stepCount ?? 0) * N + w);

  /**
   * With a feature budget: with eviction, whether the next round's new rows
   * could pass it (the coordinator evicts first); without, whether a table
   * passed it (the run stops).
   */
  const overBudget = (): boolean => init.maxFeatures > 0 && tables.some((t) => t.size + (init.evict ? init.roundIds : 0) > init.maxFeatures);
  /** Whether a table or the counts may lack room for the next round's new rows and keys (the coordinator grows them first). */
  const roomShort = (): boolean => !tables.every((t) => t.hasRoom(init.roundIds)) || (admission !== undefined && !admission.room(init.roundIds));

  /** The options of table k's step: the batch's Hessian estimate of its inputs (AdaHessian), else none. */
  const noOptions = {};
  const tableStep = (k: number): { hessian?: Float32Array } => (hess ? { hessian: hess.inputs[k] } : noOptions);

  /**
   * Trains one batch: its tables' steps; the dense gradients are left in the
   * parameters. Returns its loss, or undefined when skipNonFinite skipped it
   * (its loss or a gradient not finite: nothing was stepped).
   */
  const trainBatch = (b: Batch, epoch: number, seed: number): number | undefined => {
    const n = b.rows;
    const routed = inputs.route(b, epoch === 0);
    const x = inputs.gatherTrain(routed);
    hess = hutch?.estimate(routed.keys, x, b.labels, n, seed);
    model.reseed(seed);
    layersActive(true);
    const logits = model.forward(x, n, true);
    if (dlogits.length < n) dlogits = new Float32Array(n);
    const loss = sigmoidLogLoss(logits, b.labels, n, dlogits);
    // Split: the gradients of this share of the round's batch as part of the batch's mean (n rows of share x N).
    if (split && N > 1) {
      const f = n * splitScale;
      for (let i = 0; i < n; i++) dlogits[i] *= f;
    }
    if (!Number.isFinite(loss)) {
      layersActive(false);
      if (init.skipNonFinite) return skipped(b);
      throw new DivergenceError((tables[0]?.stepCount ?? 0) + 1, b.lines.subarray(0, n), file.paths[b.part ?? 0], `the log loss is ${loss}`);
    }
    const grads = model.backward(dlogits, n);
    layersActive(false);
    if (init.skipNonFinite && nonFiniteGradient(grads, params) !== undefined) return skipped(b);
    inputs.stepTrain(grads, tableStep);
    return loss;
  };
  const skipped = (b: Batch): undefined => {
    // Weights that are no longer finite make every later batch's loss non-finite: skipping cannot mend them.
    const broken = nonFiniteWeight(params);
    if (broken !== undefined) throw new DivergenceError((tables[0]?.stepCount ?? 0) + 1, b.lines.subarray(0, b.rows), file.paths[b.part ?? 0], broken);
    ledger.skipped(w);
    return undefined;
  };

  /**
   * Synchronous dense updates: rounds of one batch per worker; at a first
   * barrier every worker steps its rows of the dense parameters, at a second
   * worker 0 adds up the round.
   */
  const runSync = async (): Promise<void> => {
    const mode = init.denseUpdates === "sequential" || init.denseUpdates === "split" ? init.denseUpdates : "sync";
    const roundStep = new RoundStep(mode, dense, slices, gradients, N, weights);
    let epoch = init.epoch, seen = Math.max(init.seen, init.part.start);
    while (true) {
      const batches = file.batches({ start: seen, end: init.part.end });
      let next: IteratorResult<Batch, unknown> = await batches.next();
      let command = K_STOP;
      // Whether the batch after this round's is still to be read: at a barrier where this worker waits and releases no one, or at the round's end.
      let readAhead = false;
      const readNext = async (): Promise<void> => {
        if (!readAhead) return;
        readAhead = false;
        next = await batches.next();
      };
      round: while (true) {
        let n = 0, loss = 0, had = 0;
        // Split: the tables take one step a round, the rows' gradients merged over the workers' shares after the first barrier.
        if (split) for (const t of tables) t.holdStep(t.stepCount + 1);
        if (next.done !== true) {
          const b = next.value;
          had = 1;
          const l = trainBatch(b, epoch, seedOf());
          // A skipped batch counts no rows: the round's dense step leaves its gradient out.
          if (l !== undefined) {
            n = b.rows;
            loss = l;
            for (let i = 0, o = 0; i < params.length; o += params[i].grad.length, i++) {
              myGrad.set(params[i].grad, o);
              if (hess) hessAll!.set(hess.params[i], w * P + o);
            }
          }
          seen = b.seen;
          readAhead = true;
        }
        ledger.arrive(w, n, had, loss, seen);
        // The first barrier: every batch is in (the last to arrive lets the others go); each worker steps its dense rows.
        stepGen = Atomics.load(ctl, C_STEP);
        if (Atomics.add(ctl, C_ARRIVED, 1) + 1 === N) {
          Atomics.store(ctl, C_ARRIVED, 0);
          Atomics.add(ctl, C_STEP, 1);
          Atomics.notify(ctl, C_STEP);
        } else {
          await readNext();
          waiter.wait(ctl, C_STEP, released);
        }
        if (Atomics.load(ctl, C_FAILED) !== 0) throw new Abandoned();
        if (split) for (const t of tables) t.stepOwned();
        roundStep.step();
        // The second: worker 0 waits for every worker's rows, adds up the round and starts the next.
        if (w === 0) {
          waiter.wait(ctl, C_STEPPED, allStepped);
          reduce();
          Atomics.store(ctl, C_STEPPED, 0);
          round = Atomics.add(ctl, C_ROUND, 1) + 1;
          Atomics.notify(ctl, C_ROUND);
        } else {
          Atomics.add(ctl, C_STEPPED, 1);
          Atomics.notify(ctl, C_STEPPED);
          await readNext();
          waiter.wait(ctl, C_ROUND, nextRound);
          round = Atomics.load(ctl, C_ROUND);
        }
        if (Atomics.load(ctl, C_FAILED) !== 0) throw new Abandoned();
        copyWeights();
        await readNext();
        const state = Atomics.load(ctl, C_STATE);
        if (state === S_GO) continue;
        command = await parkServing();
        if (command === K_STOP) break round;
        if (state === S_EPOCH_END || command === K_NEXT_EPOCH) break round;
      }
      await batches.return({ rows: 0, skipped: 0, firstBad: [], seen });
      if (command !== K_NEXT_EPOCH) break;
      epoch++;
      seen = init.part.start;
    }
  };

  /**
   * Asynchronous dense updates: no rounds. Each worker steps its own
   * replica of the dense optimizer on the shared weights as they are, and
   * adds its change to them (racing with the others', as Hogwild does);
   * it parks when the coordinator asks, when room runs short, and at the
   * end of its part.
   */
  const runAsync = async (): Promise<void> => {
    const scratch = new Float32Array(Math.max(...init.paramSizes, 0));
    let epoch = init.epoch, seen = Math.max(init.seen, init.part.start), steps = 0;
    while (true) {
      const batches = file.batches({ start: seen, end: init.part.end });
      let command = K_CONTINUE;
      try {
        while (true) {
          const short = roomShort(), over = overBudget();
          if (short) Atomics.store(ctl, C_NEED_ROOM, 1);
          if (over) Atomics.store(ctl, C_OVER_BUDGET, 1);
          if (short || over) Atomics.store(ctl, C_PAUSE, 1);
          if (Atomics.load(ctl, C_PAUSE) !== 0) {
            command = await parkServing();
            if (command === K_STOP) break;
            copyWeights();
          }
          const r = await batches.next();
          if (r.done === true) break;
          const b = r.value, n = b.rows;
          const loss = trainBatch(b, epoch, seedOf());
          if (loss === undefined) {
            seen = b.seen;
            ledger.passed(w, seen);
            continue;
          }
          stepShared(dense, params.map((p) => p.grad), hess?.params, weights, scratch);
          copyWeights();
          seen = b.seen;
          ledger.stepped(w, n, loss, ++steps, seen);
        }
      } finally {
        await batches.return({ rows: 0, skipped: 0, firstBad: [], seen });
      }
      if (command === K_STOP) break;
      // The part is done: parked until the coordinator starts the next pass or ends the run.
      while (command === K_CONTINUE) command = await parkServing(true);
      if (command !== K_NEXT_EPOCH) break;
      epoch++;
      seen = init.part.start;
      copyWeights();
    }
  };

  if (init.denseUpdates === "async") await runAsync();
  else await runSync();
  post({ kind: "done", worker: w });
}

/**
 * Trains one run on this thread (a pool's thread: ./pool-thread.ts); its
 * failure is reported to the coordinator and stops the other workers. True
 * when the run ended cleanly.
 */
export async function trainWorker(init: WorkerInit): Promise<boolean> {
  try {
    await main(init);
    return true;
  } catch (e: unknown) {
    const ctl = new Int32Array(init.control);
    if (!(e instanceof Abandoned)) {
      const err = e instanceof Error ? e : new Error(String(e));
      post({ kind: "error", worker: init.worker, message: err.message, stack: err.stack });
    }
    // The others stop at their next barrier instead of waiting for this worker.
    Atomics.store(ctl, C_FAILED, 1);
    Atomics.store(ctl, C_STATE, S_PARK);
    Atomics.add(ctl, C_STEP, 1);
    Atomics.add(ctl, C_STEPPED, 1);
    Atomics.add(ctl, C_ROUND, 1);
    Atomics.notify(ctl, C_STEP);
    Atomics.notify(ctl, C_STEPPED);
    Atomics.notify(ctl, C_ROUND);
    return false;
  }
}
