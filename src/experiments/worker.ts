/**
 * Worker-thread entry of the experiment runner: runs the cells it is sent,
 * one at a time, and posts back each result (or the error).
 */
import { parentPort } from "node:worker_threads";
import { runCell, type CellSpec } from "./cells.js";

if (!parentPort) throw new Error("experiments/worker.js must run in a worker thread");
const port = parentPort;
port.on("message", (msg: { id: string; spec: CellSpec }) => {
  runCell(msg.spec).then(
    (result) => port.postMessage({ id: msg.id, result }),
    (e: unknown) => port.postMessage({ id: msg.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
  );
});
