/**
 * A scoring job of a pool's thread (./pool-thread.ts) for
 * ./score-threads.ts: scores its contiguous share of a file's rows with the
 * model, reading the embedding tables in place in the owner's shared
 * WebAssembly memory (optim/table-share.ts; no row created, an absent or
 * zero row falls back to its field's OOV row where the model admits
 * features by count) and the dense weights it was given, as logits with
 * their labels (./score-share.ts).
 */
import { openData } from "../data/reader.js";
import type { ReadOptions } from "../data/types.js";
import { SharedTableView, type TableShare } from "../optim/table-share.js";
import { BatchInputs, type AdmissionRouter } from "./inputs.js";
import type { ResolvedSettings } from "./model.js";
import { scoreShare, type ScoredShare } from "./score-share.js";
import { replicaModel, threadLayers, unpackWeights } from "./replica.js";

/** A scoring job: the model, and the rows to score. */
export interface ScoreThreadInit {
  thread: number;
  settings: ResolvedSettings;
  fields: number;
  /** The model's tables, shared with the scoring threads (thread k reads through share k's scratch). */
  tables: TableShare[];
  /** Whether the model admits features by count (then an absent row reads its field's OOV row). */
  admission: boolean;
  /** The dense parameters' values, concatenated in model order. */
  weights: Float32Array;
  fma: boolean;
  paths: readonly string[];
  read: ReadOptions;
  part: { start: number; end: number };
}

/** Scores the job's share of rows (on a thread of its own: the layer kernels are configured for it). */
export async function scoreThread(init: ScoreThreadInit): Promise<ScoredShare> {
  threadLayers(init.fma);
  const s = init.settings;
  const model = replicaModel(s, init.fields);
  unpackWeights(init.weights, model.params());
  // Evaluation inputs only read: the counts themselves are not needed, only that the model has them (read's OOV fallback).
  const evaluationOnly: AdmissionRouter | undefined = init.admission
    ? { fields: init.fields, minCount: 0, route: () => { throw new Error("a scoring thread routes no training keys"); } }
    : undefined;
  const inputs = new BatchInputs(init.tables.map((t) => new SharedTableView(t, init.thread)), init.fields, s.pooling, evaluationOnly);
  const file = await openData(init.paths, init.read);
  return scoreShare((b) => model.forward(inputs.read(b), b.rows, false), file, init.part);
}
