// A scoring thread: loads one model from the bytes it is given and scores
// the bodies the HTTP thread hands it, with the same code as the HTTP thread.
import { parentPort, workerData } from "node:worker_threads";
import { HttpError, scoreBody } from "./requests.js";
import type { FromScorer, ScoreRequest, ScorerData } from "./score-protocol.js";
import { servedModel, type ServedModel } from "./served-model.js";

const port = parentPort!;
const data = workerData as ScorerData;

function send(m: FromScorer, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

let model: ServedModel;
try {
  model = await servedModel(data.path, data.raw, data, data.overrides);
  send({ type: "ready", sha256: model.sha256 });
} catch (e) {
  send({ type: "failed", error: (e as Error).message });
  process.exit(1);
}

// One body at a time, in the order sent.
let chain = Promise.resolve();
port.on("message", (m: ScoreRequest) => { chain = chain.then(() => score(m)); });

async function score(m: ScoreRequest): Promise<void> {
  try {
    const scores = await scoreBody(model, m.kind, Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength), m.maxRows);
    const buf = scores.buffer;
    send({ type: "scores", id: m.id, scores }, buf instanceof ArrayBuffer ? [buf] : []);
  } catch (e) {
    const err = e instanceof HttpError ? e : new HttpError(500, "internal", `internal error: ${(e as Error).message}`);
    send({ type: "error", id: m.id, status: err.status, kind: err.kind, message: err.message });
  }
}
