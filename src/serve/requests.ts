// A /predict request's body: read within the byte limit (a refused one
// drained), its rows parsed by content type (raw lines, JSON, NDJSON) into
// one batch, and scored.
import type { IncomingMessage } from "node:http";
import type { Batch } from "../data/batch.js";
import { DataError } from "../data/errors.js";
import { TooManyRowsError } from "../data/memory.js";
import type { ServedModel } from "./served-model.js";

/** An answer other than 200, with the error kind counted in the metrics. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly kind: string, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

/** How a body holds its rows. */
export type BodyKind = "text" | "json" | "ndjson";

/** The body kind of a content type (parameters such as charset ignored; none: raw lines); undefined when not one of them. */
export function bodyKind(contentType: string | undefined): BodyKind | undefined {
  const t = (contentType ?? "text/plain").split(";")[0].trim().toLowerCase();
  if (t === "application/json") return "json";
  if (t === "application/x-ndjson" || t === "application/ndjson" || t === "application/jsonl" || t === "application/x-jsonlines") return "ndjson";
  if (t.startsWith("text/")) return "text";
  return undefined;
}

/**
 * The body, at most `limit` bytes. A larger one is a 413, answered once its
 * bytes (up to `drainCap` of them) were read and dropped: a server that
 * closes a connection with unread bytes resets it, and the client may lose
 * the answer. Past drainCap the connection is left unread (and is closed).
 */
export async function readBody(req: IncomingMessage, limit: number, drainCap: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > limit) {
    if (declared <= drainCap) await discard(req, drainCap);
    throw tooLarge(limit);
  }
  if (req.destroyed || req.socket.destroyed) throw new HttpError(400, "aborted", "the request body ended early");
  const chunks: Buffer[] = [];
  let n = 0;
  const whole = await new Promise<boolean>((resolve, reject) => {
    const onData = (c: Buffer): void => {
      n += c.length;
      if (n <= limit) { chunks.push(c); return; }
      done();
      chunks.length = 0;
      discard(req, drainCap - n).then(() => resolve(false), reject);
    };
    const onEnd = (): void => { done(); resolve(true); };
    const onClose = (): void => { if (!req.complete) { done(); reject(new HttpError(400, "aborted", "the request body ended early")); } };
    const done = (): void => { req.off("data", onData); req.off("end", onEnd); req.off("close", onClose); req.off("error", reject); };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
    req.on("error", reject);
  });
  if (!whole) throw tooLarge(limit);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, n);
}

/**
 * Reads and drops what is left of a body, at most `cap` bytes: true when
 * the request ended, false when it passed the cap or broke off (then the
 * connection must be closed, its unread bytes with it).
 */
export function discard(req: IncomingMessage, cap: number): Promise<boolean> {
  if (req.complete) return Promise.resolve(true);
  if (req.destroyed || req.socket.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    let n = 0;
    const finish = (whole: boolean): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      if (!whole) req.pause();
      resolve(whole);
    };
    const onData = (c: Buffer): void => { n += c.length; if (n > cap) finish(false); };
    const onEnd = (): void => finish(true);
    const onClose = (): void => finish(req.complete);
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
    req.resume();
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "too_large", `the body is larger than ${limit} bytes (--max-body-bytes)`);
}

/** The click probabilities of a body's rows, in order (as `predict` computes them); errors are HttpErrors. */
export async function scoreBody(m: ServedModel, kind: BodyKind, body: Buffer, maxRows: number): Promise<Float64Array> {
  const batch = await requestRows(m, kind, body, maxRows);
  return batch.rows > 0 ? m.predictor.predict(batch) : new Float64Array(0);
}

/** The rows of a body as one batch of the model's keys; errors are HttpErrors naming the row and column. */
export async function requestRows(m: ServedModel, kind: BodyKind, body: Buffer, maxRows: number): Promise<Batch> {
  try {
    const text = kind === "text" ? body : m.objects.text(kind === "json" ? jsonRows(body, maxRows) : ndjsonRows(body, maxRows));
    return await m.rows.parse(text, maxRows);
  } catch (e) {
    if (e instanceof TooManyRowsError) throw tooMany(maxRows);
    if (e instanceof DataError) {
      const where = e.line === 0 ? "the header line" : `row ${e.line}`;
      throw new HttpError(400, "bad_row", `${where}${e.column !== undefined ? `, ${typeof e.column === "number" ? "column" : "field"} ${e.column}` : ""}: ${e.reason}`);
    }
    throw e;
  }
}

function tooMany(maxRows: number): HttpError {
  return new HttpError(413, "too_many_rows", `the request has more than ${maxRows} rows (--max-rows)`);
}

/** application/json: one object or an array of objects. */
function jsonRows(body: Buffer, maxRows: number): unknown[] {
  let v: unknown;
  try {
    v = JSON.parse(body.toString("utf8"));
  } catch (e) {
    throw new HttpError(400, "bad_json", `malformed JSON: ${(e as Error).message}`);
  }
  const rows = Array.isArray(v) ? v : [v];
  if (rows.length > maxRows) throw tooMany(maxRows);
  return rows;
}

/** application/x-ndjson: one object per line (blank lines skipped; rows are numbered among the objects). */
function ndjsonRows(body: Buffer, maxRows: number): unknown[] {
  const rows: unknown[] = [];
  for (const line of body.toString("utf8").split("\n")) {
    if (line.trim() === "") continue;
    if (rows.length === maxRows) throw tooMany(maxRows);
    try {
      rows.push(JSON.parse(line));
    } catch (e) {
      throw new HttpError(400, "bad_json", `row ${rows.length + 1}: malformed JSON: ${(e as Error).message}`);
    }
  }
  return rows;
}
