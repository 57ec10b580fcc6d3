// The messages between the HTTP thread and its scoring threads.
import type { BodyKind } from "./requests.js";
import type { InputOverrides } from "./served-model.js";

/** A scoring thread's workerData: the one model it serves (the bytes of the file the HTTP thread loaded). */
export interface ScorerData {
  path: string;
  raw: Uint8Array;
  mtimeMs: number;
  ino: number;
  overrides: InputOverrides;
}

/** To a scoring thread: score a body. */
export interface ScoreRequest { id: number; kind: BodyKind; body: Uint8Array; maxRows: number }

/** From a scoring thread. */
export type FromScorer =
  | { type: "ready"; sha256: string }
  | { type: "failed"; error: string }
  | { type: "scores"; id: number; scores: Float64Array }
  | { type: "error"; id: number; status: number; kind: string; message: string };
