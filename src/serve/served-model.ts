// A model file loaded for HTTP scoring: its Predictor, the readers of its
// input format (raw lines, JSON objects), and what identifies the version.
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import type { Format } from "../data/detect.js";
import { MemoryRows } from "../data/memory.js";
import { ObjectRows } from "../data/objects.js";
import type { Schema } from "../data/formats/schema.js";
import { Predictor } from "./model-file.js";

/** Overrides of the model's input description (as `predict --format/--schema/--featindex`). */
export interface InputOverrides {
  format?: Format;
  schema?: string;
  featindex?: string;
}

/** One loaded version of the model file; never changed once loaded. */
export interface ServedModel {
  path: string;
  predictor: Predictor;
  rows: MemoryRows;
  objects: ObjectRows;
  /** sha256 of the file's bytes (hex). */
  sha256: string;
  bytes: number;
  mtimeMs: number;
  /** The file's identity when read (a replaced file has another inode). */
  ino: number;
  /** When it was loaded (ms since the epoch). */
  loadedAt: number;
  features: number;
  /** The file's bytes, when kept for scoring threads. */
  raw?: Uint8Array;
}

/**
 * Reads and checks a model file whole, with everything scoring needs (a
 * libsvm featindex, a csv schema), before anything is served from it;
 * `keepBytes` keeps the file's bytes (for scoring threads to load).
 */
export async function loadServedModel(path: string, over: InputOverrides = {}, keepBytes = false): Promise<ServedModel> {
  // One open file: its identity and its bytes belong together, even when it is replaced meanwhile.
  const { st, raw } = await readWhole(path).catch((e: Error) => { throw new ModelLoadError(`model ${path}: ${e.message}`, undefined); });
  try {
    return await servedModel(path, raw, st, over, keepBytes);
  } catch (e) {
    throw new ModelLoadError((e as Error).message, identity({ ...st, bytes: raw.length }));
  }
}

/** A served model from a model file's bytes (read by loadServedModel, or handed to a scoring thread). */
export async function servedModel(path: string, raw: Uint8Array, st: { mtimeMs: number; ino: number }, over: InputOverrides, keepBytes = false): Promise<ServedModel> {
  const predictor = Predictor.decode(raw, `model ${path}`);
  const input = predictor.input;
  const schema = over.schema ?? (input.schema as string | Partial<Schema> | undefined);
  const rows = await MemoryRows.open({ format: over.format ?? input.format, fields: input.fields, schema, featindex: over.featindex ?? input.featindex })
    .catch((e: Error) => { throw new Error(`model ${path}: ${e.message}`); });
  return {
    path, predictor, rows, objects: new ObjectRows(rows),
    sha256: createHash("sha256").update(raw).digest("hex"),
    bytes: raw.length, mtimeMs: st.mtimeMs, ino: st.ino, loadedAt: Date.now(), features: predictor.features,
    ...(keepBytes ? { raw } : {}),
  };
}

/** A file's identity as the watch compares it: inode, mtime and size. */
export function identity(f: { ino: number; mtimeMs: number; bytes: number }): string {
  return `${f.ino}:${f.mtimeMs}:${f.bytes}`;
}

/** A model file that could not be loaded; `identity`: of the file read, when it was read. */
export class ModelLoadError extends Error {
  constructor(message: string, readonly identity: string | undefined) {
    super(message);
    this.name = "ModelLoadError";
  }
}

async function readWhole(path: string): Promise<{ st: { mtimeMs: number; ino: number }; raw: Buffer }> {
  const fh = await open(path, "r");
  try {
    return { st: await fh.stat(), raw: await fh.readFile() };
  } finally {
    await fh.close();
  }
}
