/**
 * What the data-parallel trainer (./parallel.ts) can take, and how it cuts
 * the work: why a run is refused (parallelUnsupported), how many workers a
 * run takes by default (defaultWorkers), the workers' contiguous parts of
 * the rows (splitRows), the ids a round may bring (roundIds) and a
 * worker's scratch holds (scratchIds), and the room reserved ahead for them
 * (roomAhead).
 */
import type { DataFile } from "../data/types.js";
import { SparseTable } from "../optim/table.js";
import type { CtrModel } from "./model.js";
import { EVICT_SHARE, evictionKeep } from "./budget.js";
import type { TrainControl } from "./trainer.js";
import { DEFAULT_DENSE_UPDATES, type DenseUpdates, type DenseUpdatesOption } from "./parallel-protocol.js";
import { MAX_LOAD, SLOT_BYTES } from "./shared-counts-memory.js";

/** Ids a row may hold: one key a field, twice that where a row may hold several features of a field. */
function rowIds(m: CtrModel, data: DataFile): number {
  return m.inputs.fields * (data.format === "libsvm" || data.format === "csv" ? 2 : 1);
}

/**
 * Ids one round of `workers` may bring to the tables: a batch each, or in
 * split rounds one batch over all of them (N shares of ceil(batch / N)
 * rows, a little more than a batch where N does not divide it). The room
 * reserved ahead, the feature budget's margin and the workers' checks
 * count rounds of it.
 */
export function roundIds(m: CtrModel, data: DataFile, workers: number, mode: DenseUpdatesOption): number {
  const rows = mode === "split" ? workers * Math.ceil(m.settings.batch / workers) : workers * m.settings.batch;
  return rows * rowIds(m, data);
}

/**
 * Ids a worker's table scratch holds: a batch's; in split rounds every
 * share of the round (roundIds), since a worker's merge may gather that
 * many rows it owns (stepOwned): then every merge takes one call, and no
 * row takes two steps in a round.
 */
export function scratchIds(m: CtrModel, data: DataFile, workers: number, mode: DenseUpdates): number {
  return mode === "split" ? roundIds(m, data, workers, mode) : m.settings.batch * rowIds(m, data);
}

/** Why the data-parallel trainer cannot take a run with `workers` threads (undefined when it can). */
export function parallelUnsupported(m: CtrModel, data: DataFile, control: TrainControl, workers = 1, denseUpdates: DenseUpdatesOption = DEFAULT_DENSE_UPDATES): string | undefined {
  // A group rule's step comes from its own dual state (z), not from the weights it is given: a worker's
  // step would bring the shared weights back to its own trajectory, undoing the other workers' steps.
  if (denseUpdates === "async" && m.settings.dense === "group") return ASYNC_GROUP;
  if (m.tables.some((t) => !(t instanceof SparseTable))) return "sharded tables (--shards > 1)";
  if (m.tables.some((t) => t instanceof SparseTable && t.arena.backend !== "wasm")) return "the TypeScript kernel backend";
  if (data.paths.some((p) => p === "-")) return "standard input";
  if (data.numeric.length) return "numeric inputs";
  const round = roundIds(m, data, workers, denseUpdates), budget = control.maxFeatures;
  if (budget !== undefined && control.onFull === "evict" && evictionKeep(budget, round) < 0) {
    return `a feature budget of ${budget} with ${workers} workers (one round${denseUpdates === "split" ? ", a batch over all of them," : ", a batch of each,"} brings up to ${round} features: evicting needs a budget of at least ${Math.ceil(round / EVICT_SHARE)})`;
  }
  return undefined;
}

/** Why asynchronous dense updates refuse group-lasso dense layers. */
export const ASYNC_GROUP = "asynchronous dense updates of group-lasso dense layers (--dense group; use --dense-updates sequential)";

/**
 * Bytes of room reserved ahead at most in a table's memory or the admission
 * counts: past it, room grows by this much a park, not by doubling. 64
 * rounds of 16 workers' batches of 39 ids are 20M rows, more than the 4 GiB
 * one memory may take (wasm32) with any optimizer; 8 workers with
 * embeddings of 64, or 16 with group-amsgrad and embeddings of 32, ran out
 * of it in their first rounds. 512 MiB is 1.7M rows with group-adam and
 * embeddings of 16: 42 rounds of 2 workers, 5 of 16.
 */
export const ROOM_BYTES = 512 * 2 ** 20;

/** Rounds of room reserved ahead for new rows by default (trainParallel's roomRounds). */
export const DEFAULT_ROOM_ROUNDS = 64;

/**
 * Rounds of room reserved ahead for counted keys (at most roomRounds). The
 * counts' slots are one hash table, a power of two of them, scanned whole
 * and copied into plain counts at every park (toAdmission): 64 rounds of
 * 16 sequential workers (20M keys) made them 2^25 slots, 384 MiB of plain
 * counts for 218k keys; their growth doubles them anyway.
 */
export const KEY_ROOM_ROUNDS = 4;

/** Counted keys to reserve room for ahead of need (roomAhead over KEY_ROOM_ROUNDS rounds, at most `roomRounds`). */
export function keyRoomAhead(round: number, roomRounds: number): number {
  return roomAhead(round, 0, SLOT_BYTES / MAX_LOAD, Math.min(roomRounds, KEY_ROOM_ROUNDS));
}

/**
 * Items (table rows or counted keys) of `bytes` each to reserve room for
 * ahead of need: `rounds` rounds of `round` ids, or as many as the `size`
 * already held (then room grows by doubling), but no more than ROOM_BYTES'
 * worth, and at least one round (the room a round needs).
 */
export function roomAhead(round: number, size: number, bytes: number, rounds: number): number {
  return Math.max(round, Math.min(Math.max(rounds * round, size), Math.floor(ROOM_BYTES / bytes)));
}

/**
 * Rounds (a batch of every worker) a run's data-parallel workers make at the
 * least when the number of workers is not given. With fewer, the dense
 * layers' steps are too few and too stale: bench threads-quality
 * (2026-12-06, a8d6a57, 1M generated rows, batch 512, sequential dense
 * updates, mean of 3 seeds) gave 2 workers (977 rounds) dcn AUC -0.00039
 * and mlp -0.00003 against the deterministic trainer, 4 (488) -0.00108 and
 * -0.00282, 8 (244) -0.00248 and -0.00522, 16 (122) -0.0058 and -0.0102.
 */
export const MIN_ROUNDS = 1000;

/**
 * The workers a run takes from `threads` when the number is not given.
 * With split or auto dense updates every thread: split rounds are the
 * batches whatever the workers, and auto takes split where the workers
 * would make fewer than MIN_ROUNDS rounds. With the others at most one per
 * MIN_ROUNDS batches of its training rows (`rows`, every pass together),
 * and at least 1.
 */
export function defaultWorkers(threads: number, rows: number, batch: number, denseUpdates: DenseUpdatesOption = DEFAULT_DENSE_UPDATES): number {
  if (denseUpdates === "split" || denseUpdates === "auto") return threads;
  return Math.max(1, Math.min(threads, Math.floor(rows / (MIN_ROUNDS * batch))));
}

/**
 * The workers that train a run's validation rows last (the refit, after a
 * data-parallel run of `workers`): as many, but no more than the rows'
 * batches (for fewer rows a worker's start costs more than its share saves;
 * one: the deterministic trainer).
 */
export function refitWorkers(workers: number, rows: { start: number; end: number }, batch: number): number {
  return Math.max(1, Math.min(workers, Math.floor((rows.end - rows.start) / batch)));
}

/**
 * The dense updates of a run of `workers` workers over `rows` training rows
 * (every pass together) in batches of `batch`: the mode asked for, or for
 * auto, sequential when each worker makes at least MIN_ROUNDS rounds (its
 * batches are then many and their steps fresh enough: bench threads-quality
 * above; one worker per batch and no barrier within it make them the fastest
 * rounds), else split, whose rounds are the batches whatever the workers
 * (bench threads-quality at 7663162, 1M rows: AUC and feature rate within
 * the goals with 2, 4, 8 and 16 workers).
 */
export function resolveDenseUpdates(mode: DenseUpdatesOption, rows: number, workers: number, batch: number): DenseUpdates {
  if (mode !== "auto") return mode;
  return workers > 1 && rows < MIN_ROUNDS * workers * batch ? "split" : "sequential";
}

/** The rows [start, end) cut into `n` contiguous parts, as even as can be. */
export function splitRows(start: number, end: number, n: number): { start: number; end: number }[] {
  return Array.from({ length: n }, (_, k) => ({ start: start + Math.floor(((end - start) * k) / n), end: start + Math.floor(((end - start) * (k + 1)) / n) }));
}
